"""Pure agent rules: variable names, {{placeholders}}, language tags, the transfer rule."""

from __future__ import annotations

import re

import pytest

from callwright.domain import agents as rules


@pytest.mark.parametrize("name", ["a", "_", "customer_name", "CustomerName2", "_x_1", "x" * 64])
def test_well_formed_variable_names(name):
    assert rules.is_variable_name(name)


@pytest.mark.parametrize("name", ["", "1st", "first name", "first-name", "naïve", "a.b", "x" * 65, "$x"])
def test_malformed_variable_names(name):
    assert not rules.is_variable_name(name)


def test_variable_names_keep_their_order():
    assert rules.check_variable_names(["b", "a", "c_1"]) == ["b", "a", "c_1"]


def test_variable_names_reject_a_bad_name_and_say_which():
    with pytest.raises(ValueError) as exc:
        rules.check_variable_names(["ok", "2bad"])
    assert str(exc.value).startswith("must match ^[a-zA-Z_][a-zA-Z0-9_]*$")
    assert "item 1 is '2bad'" in str(exc.value)


def test_variable_names_reject_repeats():
    with pytest.raises(ValueError, match="must not repeat a name \\('a' appears more than once\\)"):
        rules.check_variable_names(["a", "b", "a"])


def test_variable_names_over_the_length_bound_say_so():
    with pytest.raises(ValueError, match="must be at most 64 characters"):
        rules.check_variable_names(["x" * 65])


def test_at_most_one_hundred_variables():
    names = [f"v{i}" for i in range(100)]
    assert len(rules.check_variable_names(names)) == 100
    with pytest.raises(ValueError, match="must list at most 100 names, not 101"):
        rules.check_variable_names([*names, "v100"])


def test_placeholders_are_found_in_order_with_spans():
    text = "Hi {{name}}, your order {{ order_id }} ships to {{name}}."
    found = rules.find_placeholders(text)
    assert [p.name for p in found] == ["name", "order_id", "name"]
    assert [text[p.start : p.end] for p in found] == ["{{name}}", "{{ order_id }}", "{{name}}"]
    assert rules.placeholder_names(text) == ["name", "order_id"]


def test_text_without_placeholders_and_stray_closing_braces_are_fine():
    assert rules.find_placeholders("") == []
    assert rules.find_placeholders('Reply as JSON: {"a": {"b": 1}}') == []
    assert rules.check_placeholders("plain { text }") == "plain { text }"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Hello {{first name}}!", "'{{first name}}' at character 6"),
        ("{{1st}}", "'{{1st}}' at character 0"),
        ("x {{}} y", "'{{}}' at character 2"),
        ("{{{name}}}", "'{{{name}}' at character 0"),
        ("{{a-b}}", "'{{a-b}}' at character 0"),
    ],
)
def test_malformed_placeholders_are_rejected_with_their_position(text, shown):
    with pytest.raises(ValueError) as exc:
        rules.find_placeholders(text)
    message = str(exc.value)
    assert message.startswith("must write placeholders as {{name}}")
    assert shown in message


def test_an_unclosed_placeholder_is_rejected():
    with pytest.raises(ValueError, match=re.escape("'{{name and more' at character 3 is never closed")):
        rules.find_placeholders("Hi {{name and more")


def test_long_malformed_placeholders_are_shortened_in_the_message():
    with pytest.raises(ValueError) as exc:
        rules.find_placeholders("{{" + "x " * 500 + "}}")
    assert len(str(exc.value)) < 200


@pytest.mark.parametrize(
    ("tag", "normal"),
    [
        ("en", "en"),
        ("HI", "hi"),
        ("en-us", "en-US"),
        ("es-419", "es-419"),
        ("fil", "fil"),
        ("zh-hans-cn", "zh-Hans-CN"),
    ],
)
def test_language_tags_are_normalized(tag, normal):
    assert rules.normalize_language(tag) == normal


@pytest.mark.parametrize("tag", ["", "e", "english", "en_US", "en-USA", "en-", "12", "en-US-x"])
def test_bad_language_tags_are_rejected(tag):
    with pytest.raises(ValueError, match="must be a language code like en, hi or en-US"):
        rules.normalize_language(tag)


def test_language_follows_the_voice_unless_explicit():
    assert rules.effective_language(explicit=None, voice_language="en") == "en"
    assert rules.effective_language(explicit="hi", voice_language="en") == "hi"


def test_transfer_needs_a_number_only_when_enabled():
    rules.check_transfer(transfer_enabled=False, transfer_number=None)
    rules.check_transfer(transfer_enabled=True, transfer_number="+919876543210")
    with pytest.raises(ValueError, match="is required when transfer_enabled is true"):
        rules.check_transfer(transfer_enabled=True, transfer_number=None)
    with pytest.raises(ValueError):
        rules.check_transfer(transfer_enabled=True, transfer_number="")


def test_render_template_fills_variables_and_blanks_missing_ones():
    from callwright.domain.agents import render_template

    text = "Hi {{name}}, your slot is {{ slot }} on {{day}}. Paid: {{paid}} {{meta}}"
    rendered = render_template(text, {"name": "Asha", "slot": 10, "paid": True, "meta": {"a": 1}})
    assert rendered == 'Hi Asha, your slot is 10 on . Paid: true {"a": 1}'
    assert render_template("no placeholders }}", {}) == "no placeholders }}"
