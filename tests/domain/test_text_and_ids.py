"""Which characters each kind of text may hold, and which path ids can name a resource."""

from __future__ import annotations

import pytest

from callwright.domain.ids import parse_call_id, parse_id
from callwright.domain.text import (
    CONTROL_RULE,
    FREE_TEXT_CONTROL_RULE,
    INVISIBLE_RULE,
    SURROGATE_RULE,
    check_name,
    free_text_problem,
    json_problem,
    line_problem,
    name_problem,
    params_problem,
)

CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]
INVISIBLES = [
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
    "\u200e", "\u200f", "\u061c",  # marks
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width
    "\u2028", "\u2029",  # line and paragraph separators
]


@pytest.mark.parametrize("char", CONTROLS)
def test_every_kind_refuses_control_characters_and_says_where(char):
    value = "ab" + char + "c"
    assert free_text_problem(value) == f"{FREE_TEXT_CONTROL_RULE} (found U+{ord(char):04X} at character 2)"
    assert line_problem(value) == f"{CONTROL_RULE} (found U+{ord(char):04X} at character 2)"
    assert name_problem(value) == f"{CONTROL_RULE} (found U+{ord(char):04X} at character 2)"


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_only_free_text_keeps_tab_and_line_breaks(char):
    value = "line one" + char + "line two"
    assert free_text_problem(value) is None
    assert line_problem(value) is not None
    assert name_problem(value) is not None


@pytest.mark.parametrize("char", INVISIBLES)
def test_names_refuse_invisible_characters_other_text_keeps_them(char):
    value = "abc" + char + "def"
    assert name_problem(value) == f"{INVISIBLE_RULE} (found U+{ord(char):04X} at character 3)"
    assert line_problem(value) is None
    assert free_text_problem(value) is None


@pytest.mark.parametrize("check", [free_text_problem, line_problem, name_problem])
def test_every_kind_refuses_an_unpaired_surrogate(check):
    assert check("ab\ud800") == f"{SURROGATE_RULE} (at character 2)"
    assert check("\udfff") is not None


@pytest.mark.parametrize(
    "name",
    ["Acme Corp", "acme-corp", "Ассистент", "مساعد", "助手", "Zoë O'Brien", "👩🏽 support", "שלום", "a" * 500],
)
def test_names_in_every_script_are_fine(name):
    assert name_problem(name) is None
    assert check_name(name) == name


def test_check_raises_the_rule_as_a_value_error():
    with pytest.raises(ValueError, match="must not contain invisible"):
        check_name("evil\u202etxt.exe")


def test_json_values_are_checked_to_the_leaves_keys_included():
    assert json_problem({"name": "Asha", "n": 3, "tags": ["a", {"b": None}], "ok": True}) is None
    assert json_problem({"name": "line\none"}) is None  # free text
    assert json_problem({"name": "a\x00"}) == f"{FREE_TEXT_CONTROL_RULE} (found U+0000 at character 1) in name"
    assert json_problem({"a": {"b": ["ok", "x\x00"]}}).endswith("in a.b[1]")
    assert json_problem({"k\x00": 1}).endswith("in a key of the value")


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_json_numbers_must_be_finite(number):
    assert "must hold only finite numbers" in json_problem({"score": [1, number]})
    assert json_problem({"score": [1, 2.5, -3, 10**30]}) is None


def test_json_nesting_is_bounded():
    value: object = "leaf"
    for _ in range(9):
        value = [value]
    assert json_problem(value, max_depth=8) == "must not nest more than 8 levels deep (at [0][0][0][0][0][0][0][0])"
    assert json_problem([[["leaf"]]], max_depth=8) is None


def test_params_problem_names_the_parameter():
    assert params_problem({"CallSid": "CA1", "Status": "completed"}) is None
    assert params_problem({"CallSid": "CA\x001"}) == (
        "CallSid", f"CallSid {FREE_TEXT_CONTROL_RULE} (found U+0000 at character 2)"
    )
    field, message = params_problem({"Call\x00Sid": "x"})
    assert field == "parameter name" and message.startswith("a parameter name must not contain")


UUID = "6f1c2b8e-3d4a-4f5b-9c6d-7e8f9a0b1c2d"


@pytest.mark.parametrize(
    "spelling", [UUID, UUID.upper(), "{" + UUID + "}", "urn:uuid:" + UUID, UUID.replace("-", "")]
)
def test_every_spelling_of_a_uuid_is_its_canonical_id(spelling):
    assert parse_id(spelling) == UUID
    assert parse_call_id(spelling) == UUID


@pytest.mark.parametrize(
    "value",
    [
        "",
        UUID[:-1] + "\x00",
        UUID + "\x00",
        "\u202e" + UUID,
        UUID + "\u200b",
        UUID[:-1] + "g",
        UUID[:-1] + "٣",  # an Arabic-Indic digit, which int() would take
        "x" * 300,
        "acme-corp",
        "../" + UUID,
    ],
)
def test_anything_else_cannot_be_an_id(value):
    assert parse_id(value) is None
    assert parse_call_id(value) is None
