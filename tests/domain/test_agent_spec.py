"""AgentSpec: an agent parsed once, with all its defaults, from what the store keeps."""

from __future__ import annotations

import dataclasses

import pytest

from callwright.domain.agent_spec import (
    DEFAULT_SCRIPT_FALLBACK,
    AgentSpec,
    AgentType,
    LlmSpec,
    ScriptReply,
    ScriptRule,
    ScriptSpec,
    SttSpec,
)

# Settings as an agent created before AgentSpec stored them (``Agent.settings``).
STORED = {
    "prompt": "You are Maya. Help {{name}}.",
    "voice_id": "piper-joe-us",
    "language": "hi",
    "language_explicit": True,
    "agent_type": "inbound",
    "intro_message": "Hi {{name}}.",
    "voicemail_detection_enabled": True,
    "voicemail_message": "Call us back.",
    "enable_recording": True,
    "end_call_enabled": True,
    "end_call_message": "Bye.",
    "end_call_instructions": "When done.",
    "transfer_enabled": False,
    "transfer_number": None,
    "transfer_message": None,
    "transfer_instructions": None,
    "max_call_duration_secs": 900,
    "variables": ["name", "order_id"],
    "llm": {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.4},
    "stt": {"provider": "whisper", "language": "en-US"},
    "script": {
        "replies": [{"text": "Hello.", "end_call": False}],
        "rules": [
            {"keywords": ["bye", "stop"], "reply": "Goodbye.", "end_call": True, "opt_out": False, "transfer": False, "function": None,
             "arguments": {}},
        ],
        "fallback": "Sorry?",
    },
}


def test_nothing_stored_means_every_default():
    spec = AgentSpec.parse({})
    assert spec == AgentSpec()
    assert (spec.agent_name, spec.status, spec.agent_type) == ("", "active", AgentType.OUTBOUND)
    assert (spec.prompt, spec.voice_id, spec.language, spec.language_explicit) == ("", None, None, False)
    assert spec.max_call_duration_secs == 600
    assert spec.variables == () and spec.project_id is None
    assert (spec.llm, spec.stt, spec.script) == (None, None, None)
    assert not (spec.voicemail_detection_enabled or spec.enable_recording or spec.end_call_enabled)
    assert not spec.transfer_enabled and spec.transfer_number is None


def test_stored_settings_parse_into_typed_values():
    spec = AgentSpec.parse(STORED, agent_name="Maya", status="active")
    assert spec.agent_name == "Maya"
    assert spec.agent_type is AgentType.INBOUND
    assert spec.variables == ("name", "order_id")
    assert spec.llm == LlmSpec("openai", "gpt-4o-mini", 0.4)
    assert spec.stt == SttSpec("whisper", "en-US")
    assert spec.script == ScriptSpec(
        replies=(ScriptReply("Hello."),),
        rules=(ScriptRule(("bye", "stop"), "Goodbye.", end_call=True),),
        fallback="Sorry?",
    )
    assert spec.language_explicit and spec.enable_recording and spec.max_call_duration_secs == 900


def test_a_stored_null_duration_means_no_cap_and_a_missing_one_the_default():
    assert AgentSpec.parse({"max_call_duration_secs": None}).max_call_duration_secs is None
    assert AgentSpec.parse({}).max_call_duration_secs == 600


def test_nested_settings_keep_their_own_defaults():
    assert AgentSpec.parse({"llm": {"provider": "ollama"}}).llm == LlmSpec(provider="ollama")
    assert AgentSpec.parse({"stt": {}}).stt == SttSpec()
    script = AgentSpec.parse({"script": {"replies": [{"text": "Hi."}]}}).script
    assert script == ScriptSpec(replies=(ScriptReply("Hi.", end_call=False),), fallback=DEFAULT_SCRIPT_FALLBACK)
    assert AgentSpec.parse({"llm": None, "stt": None, "script": None}).llm is None


def test_unknown_stored_keys_are_ignored():
    assert AgentSpec.parse({"colour": "blue", "kb_colour_scheme": "dark"}) == AgentSpec()
    assert AgentSpec.parse({"kb_threshold": "high"}).kb_threshold == "high"


def test_the_row_overrides_name_and_status_in_the_settings():
    spec = AgentSpec.parse({"agent_name": "old", "status": "x"}, agent_name="new", status="active")
    assert (spec.agent_name, spec.status) == ("new", "active")


def test_stored_round_trips_and_is_json_ready():
    spec = AgentSpec.parse(STORED, agent_name="Maya")
    stored = spec.stored()
    assert AgentSpec.parse(stored) == spec
    assert stored["agent_type"] == "inbound" and type(stored["agent_type"]) is str
    assert stored["variables"] == ["name", "order_id"]
    assert stored["script"]["rules"] == [
        {"keywords": ["bye", "stop"], "reply": "Goodbye.", "end_call": True, "opt_out": False, "transfer": False, "function": None,
         "arguments": {}}
    ]
    assert stored["llm"] == STORED["llm"]
    assert {k: v for k, v in stored.items() if k in STORED} == STORED


def test_settings_leave_out_the_row_columns_and_a_snapshot_keeps_the_name():
    spec = AgentSpec.parse(STORED, agent_name="Maya")
    assert "agent_name" not in spec.settings() and "status" not in spec.settings()
    snapshot = spec.snapshot()
    assert snapshot["agent_name"] == "Maya" and "status" not in snapshot
    assert AgentSpec.parse(snapshot) == spec
    # A snapshot written before AgentSpec existed (settings plus the name) parses the same.
    assert AgentSpec.parse(STORED | {"agent_name": "Maya"}) == spec


def test_updated_applies_validated_changes_only():
    spec = AgentSpec.parse(STORED, agent_name="Maya")
    changed = spec.updated({"prompt": "New.", "llm": None, "variables": ["x"], "agent_type": "outbound"})
    assert (changed.prompt, changed.llm, changed.variables) == ("New.", None, ("x",))
    assert changed.agent_type is AgentType.OUTBOUND
    assert dataclasses.replace(changed, prompt=spec.prompt, llm=spec.llm, variables=spec.variables,
                               agent_type=spec.agent_type) == spec


def test_a_spec_is_frozen_and_hashable():
    spec = AgentSpec.parse(STORED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.prompt = "changed"  # type: ignore[misc]
    assert hash(spec) == hash(AgentSpec.parse(STORED))


def test_agent_type_values_are_the_apis():
    assert [t.value for t in AgentType] == ["outbound", "inbound"]
