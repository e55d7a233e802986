"""Post-call extraction's pure rules: every key type checked (converted when nothing is lost,
otherwise null and reported), the request's schema and messages, the stored shape."""

from __future__ import annotations

import json

import pytest

from callwright.domain.agent_spec import AgentSpec
from callwright.domain.extraction import (
    ExtractionKey,
    ExtractionSpec,
    KeyType,
    NotAnObject,
    check_answer,
    coerce,
    messages,
    response_schema,
)

SPEC = ExtractionSpec(
    prompt="Find the caller's intent.",
    keys=tuple(ExtractionKey(f"k_{t.value}", t, f"the {t.value}") for t in KeyType),
    include_tool_logs=True,
)


@pytest.mark.parametrize(
    ("type_", "given", "expected"),
    [
        (KeyType.STRING, "callback_requested", "callback_requested"),
        (KeyType.STRING, 42, "42"),
        (KeyType.NUMBER, 4.5, 4.5),
        (KeyType.NUMBER, "1,250.75", 1250.75),
        (KeyType.NUMBER, 3, 3),
        (KeyType.INTEGER, 7, 7),
        (KeyType.INTEGER, 7.0, 7),
        (KeyType.INTEGER, "12", 12),
        (KeyType.BOOLEAN, True, True),
        (KeyType.BOOLEAN, "yes", True),
        (KeyType.BOOLEAN, "False", False),
        (KeyType.ARRAY, ["a", "b"], ["a", "b"]),
        (KeyType.ARRAY, "only", ["only"]),
        (KeyType.ARRAY, ["a", 2], ["a", "2"]),
        (KeyType.DATE, "2026-05-01", "2026-05-01"),
        (KeyType.DATE, "2026-05-01T00:00:00Z", "2026-05-01"),
        (KeyType.DATETIME, "2026-05-01T15:00:00Z", "2026-05-01T15:00:00Z"),
        (KeyType.DATETIME, "2026-05-01T20:30:00+05:30", "2026-05-01T15:00:00Z"),
        (KeyType.DATETIME, "2026-05-01T15:00:00", "2026-05-01T15:00:00Z"),
    ],
)
def test_values_of_every_type_are_kept_or_converted_without_loss(type_, given, expected):
    assert coerce(type_, given) == expected


@pytest.mark.parametrize(
    ("type_", "given"),
    [
        (KeyType.STRING, {"a": 1}),
        (KeyType.STRING, True),
        (KeyType.NUMBER, "lots"),
        (KeyType.NUMBER, True),
        (KeyType.INTEGER, 7.5),
        (KeyType.INTEGER, "seven"),
        (KeyType.BOOLEAN, "maybe"),
        (KeyType.BOOLEAN, 1),
        (KeyType.ARRAY, [["nested"]]),
        (KeyType.ARRAY, {"a": "b"}),
        (KeyType.DATE, "tomorrow"),
        (KeyType.DATE, "2026-05-01T15:00:00Z"),  # a time of day is not a date
        (KeyType.DATE, "2026-02-30"),
        (KeyType.DATETIME, "next tuesday at 3"),
        (KeyType.DATETIME, 1714575600),
    ],
)
def test_values_not_of_their_type_are_refused_naming_what_came(type_, given):
    with pytest.raises(ValueError, match="must be"):
        coerce(type_, given)


def test_an_answer_keeps_every_key_nulls_what_is_wrong_and_drops_extras():
    answer = {
        "k_string": "sale_made", "k_number": "12.5", "k_integer": 3.5, "k_boolean": "no",
        "k_array": ["x"], "k_date": "someday", "unknown_key": "dropped",
    }
    checked = check_answer(SPEC, json.dumps(answer))
    assert checked.values == {
        "k_string": "sale_made", "k_number": 12.5, "k_integer": None, "k_boolean": False,
        "k_array": ["x"], "k_date": None, "k_datetime": None,
    }
    assert checked.problems == (
        "k_integer: must be a whole number, not 3.5",
        'k_date: must be an ISO 8601 date (YYYY-MM-DD), not "someday"',
    )


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '"text"', "", None])
def test_an_answer_that_is_not_a_json_object_is_refused(content):
    with pytest.raises(NotAnObject):
        check_answer(SPEC, content)


def test_a_fenced_json_answer_is_read():
    assert check_answer(SPEC, '```json\n{"k_string": "a"}\n```').values["k_string"] == "a"


def test_the_response_schema_requires_every_key_typed_or_null():
    schema = response_schema(SPEC)
    assert schema["required"] == [k.name for k in SPEC.keys]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["k_integer"]["type"] == ["integer", "null"]
    assert schema["properties"]["k_array"]["items"] == {"type": "string"}
    assert "the boolean" in schema["properties"]["k_boolean"]["description"]


def test_messages_carry_prompt_keys_transcript_and_function_calls_only_when_asked():
    transcript = [{"role": "bot", "content": "Hello."}, {"role": "user", "content": "Call me at 3."}]
    calls = [{"function": "book_slot", "arguments": {"at": "15:00"}, "status": "ok"}]
    system, user = messages(SPEC, transcript, calls)
    assert "Find the caller's intent." in system["content"] and "k_datetime" in system["content"]
    assert "user: Call me at 3." in user["content"] and '"book_slot"' in user["content"]
    without = ExtractionSpec(prompt=None, keys=SPEC.keys, include_tool_logs=False)
    assert "book_slot" not in messages(without, transcript, calls)[1]["content"]


def test_the_spec_round_trips_in_vocobase_shape():
    stored = AgentSpec(extraction_config=SPEC).stored()["extraction_config"]
    assert stored["includeToolLogs"] is True and "include_tool_logs" not in stored
    assert AgentSpec.parse({"extraction_config": stored}).extraction_config == SPEC
