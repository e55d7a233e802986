"""What a call's agent says: its stored snapshot with ``{{var}}`` filled from the call's variables."""

from __future__ import annotations

from callwright.services.media_events import agent_script
from callwright.services.voice_config import call_rules, llm_defaults
from callwright.settings import Settings
from callwright.store.models import Call


def call_with(agent: dict, variables: dict) -> Call:
    return Call(agent=agent, variables=variables, provider="vobiz", from_number="+1", to_number="+2")


def test_variables_fill_every_spoken_text_and_missing_ones_render_empty() -> None:
    call = call_with(
        {
            "intro_message": "Hi {{name}}, calling about {{ order_id }}.",
            "prompt": "Help {{name}} with order {{order_id}} ({{tier}}).",
            "end_call_enabled": True,
            "end_call_message": "Bye {{name}}!",
            "end_call_instructions": "When {{name}} is done.",
            "max_call_duration_secs": 600,
        },
        {"name": "Asha", "order_id": 4521},
    )
    script = agent_script(call)
    assert script.intro_message == "Hi Asha, calling about 4521."
    assert script.prompt == "Help Asha with order 4521 ().\n\nWhen to end the call:\nWhen Asha is done."
    assert script.end_call_message == "Bye Asha!"
    assert script.closing_line == "Bye Asha!"
    assert script.end_call_enabled and script.max_call_duration_secs == 600


def test_end_call_instructions_are_ignored_while_end_call_is_off() -> None:
    script = agent_script(call_with({"prompt": "Be brief.", "end_call_instructions": "Never."}, {}))
    assert script.prompt == "Be brief."
    assert not script.end_call_enabled and script.end_call_instructions is None


def test_operator_settings_become_the_call_rules_and_llm_defaults() -> None:
    settings = Settings(
        silence_timeout_secs=20,
        closing_line="Goodbye from Acme.",
        llm_base_url="http://127.0.0.1:11434/v1",
        llm_model="llama3.2",
        llm_provider="ollama",
        llm_api_key="sk-secret",
    )
    rules = call_rules(settings)
    assert rules.silence_timeout_secs == 20 and rules.closing_line == "Goodbye from Acme."
    script = agent_script(call_with({}, {}), rules)
    assert script.closing_line == "Goodbye from Acme."  # no end_call_message on the agent
    defaults = llm_defaults(settings)
    assert defaults.llm is not None
    assert (defaults.llm.provider, defaults.llm.model) == ("ollama", "llama3.2")
    assert "sk-secret" not in repr(defaults) and "sk-secret" not in repr(settings)


def test_without_an_operator_model_there_is_no_default_endpoint() -> None:
    assert llm_defaults(Settings()).llm is None
