"""Rules for agents: field limits, variable names, ``{{var}}`` placeholders, language tags.

Limits follow the Vocobase Partner API v2 agent reference (shared/spec/vocobase-docs.md §2).
Checks raise ``ValueError`` whose text is the rule after the field name ("must …"), so a caller can
prefix the field: ``f"{field} {exc}"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

AGENT_TYPES = ("outbound", "inbound")
AGENT_STATUS_ACTIVE = "active"

AGENT_NAME_MAX = 50
PROMPT_MAX = 120_000
MESSAGE_MAX = 500  # intro, voicemail, end-call and transfer messages
INSTRUCTIONS_MAX = 2_000  # end_call_instructions, transfer_instructions
TRANSFER_NUMBER_MAX = 32
VOICE_ID_MAX = 100

CALL_DURATION_MIN_SECS = 60
CALL_DURATION_MAX_SECS = 3_600
CALL_DURATION_DEFAULT_SECS = 600

MAX_VARIABLES = 100
VARIABLE_NAME_MAX = 64  # Vocobase documents only the pattern; a bound keeps names sane.
VARIABLE_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
VARIABLE_NAME_RULE = f"must match {VARIABLE_NAME_PATTERN}, like customer_name"
_VARIABLE_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

PLACEHOLDER_RULE = "must write placeholders as {{name}} with name matching " + VARIABLE_NAME_PATTERN
_OPEN, _CLOSE = "{{", "}}"

# A short BCP-47 tag: language, optional script, optional region ("en", "hi", "en-US", "zh-Hans-CN").
LANGUAGE_RULE = "must be a language code like en, hi or en-US"
_LANGUAGE_TAG = re.compile(r"([a-zA-Z]{2,3})(?:-([a-zA-Z]{4}))?(?:-([a-zA-Z]{2}|[0-9]{3}))?")


def is_variable_name(name: str) -> bool:
    return len(name) <= VARIABLE_NAME_MAX and _VARIABLE_NAME.fullmatch(name) is not None


def check_variable_names(names: Iterable[str]) -> list[str]:
    """The declared variable names, in order; at most 100, each well-formed, none repeated."""
    result = list(names)
    if len(result) > MAX_VARIABLES:
        raise ValueError(f"must list at most {MAX_VARIABLES} names, not {len(result)}")
    seen: set[str] = set()
    for index, name in enumerate(result):
        if not is_variable_name(name):
            too_long = len(name) > VARIABLE_NAME_MAX
            rule = f"must be at most {VARIABLE_NAME_MAX} characters" if too_long else VARIABLE_NAME_RULE
            raise ValueError(f"{rule} (item {index} is {_excerpt(name)!r})")
        if name in seen:
            raise ValueError(f"must not repeat a name ({name!r} appears more than once)")
        seen.add(name)
    return result


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{{name}}`` in a text: the name and the span ``text[start:end]`` it occupies."""

    name: str
    start: int
    end: int


def find_placeholders(text: str) -> list[Placeholder]:
    """Every ``{{name}}`` in ``text``, in order. Spaces inside the braces are allowed (``{{ name }}``).

    An opening ``{{`` that does not begin a well-formed placeholder is an error; a stray ``}}``
    (e.g. the end of a JSON example) is plain text.
    """
    found: list[Placeholder] = []
    position = 0
    while (start := text.find(_OPEN, position)) != -1:
        close = text.find(_CLOSE, start + len(_OPEN))
        if close == -1:
            raise ValueError(
                f"{PLACEHOLDER_RULE}; {_excerpt(text[start:])!r} at character {start} is never closed"
            )
        end = close + len(_CLOSE)
        name = text[start + len(_OPEN) : close].strip()
        if not is_variable_name(name):
            raise ValueError(
                f"{PLACEHOLDER_RULE}; found {_excerpt(text[start:end])!r} at character {start}"
            )
        found.append(Placeholder(name, start, end))
        position = end
    return found


def placeholder_names(text: str) -> list[str]:
    """The distinct variable names a text uses, in order of first use."""
    return list(dict.fromkeys(p.name for p in find_placeholders(text)))


def check_placeholders(text: str) -> str:
    find_placeholders(text)
    return text


def normalize_language(tag: str) -> str:
    """``"EN-us"`` → ``"en-US"``; anything that is not a short BCP-47 tag raises ``ValueError``."""
    match = _LANGUAGE_TAG.fullmatch(tag)
    if match is None:
        raise ValueError(f"{LANGUAGE_RULE} (got {_excerpt(tag)!r})")
    language, script, region = match.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def effective_language(*, explicit: str | None, voice_language: str) -> str:
    """The agent speaks its voice's language unless a language was set explicitly."""
    return explicit or voice_language


def check_transfer(*, transfer_enabled: bool, transfer_number: str | None) -> None:
    """A cold transfer needs somewhere to go. Raises with the rule for ``transfer_number``."""
    if transfer_enabled and not transfer_number:
        raise ValueError("is required when transfer_enabled is true")


def _excerpt(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def render_template(text: str, variables: Mapping[str, Any]) -> str:
    """Fill ``{{name}}`` placeholders from a call's variables.

    A missing variable renders as "" and non-string values are stringified (Vocobase's rules).
    """
    parts: list[str] = []
    position = 0
    for placeholder in find_placeholders(text):
        parts.append(text[position : placeholder.start])
        value = variables.get(placeholder.name)
        parts.append("" if value is None else _stringify(value))
        position = placeholder.end
    parts.append(text[position:])
    return "".join(parts)


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
