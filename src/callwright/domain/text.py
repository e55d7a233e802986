"""Which characters a text field may hold, the same on SQLite and PostgreSQL.

PostgreSQL refuses a NUL in text and JSON, and neither store can encode an unpaired surrogate
(``"\\ud800"`` is valid JSON); SQLite would store control characters and invisible ones as given.
Three kinds of text, each a superset of the next one's rules:

- free text (prompts, messages, instructions): no control characters except tab, CR and LF;
- a line (numbers, tokens, ids, model and voice names): no control characters at all;
- a name (agent names, display names, labels, slugs, URLs): a line without the invisible
  characters that make a name display as something it is not — bidirectional embeddings,
  overrides, isolates and marks (an "exe.txt" that reads "txt.exe") and zero-width characters.

Every text also refuses unpaired surrogates. Each check returns the rule it breaks after the field
name ("must not …"), or None; ``check_*`` raise it as ``ValueError`` for Pydantic validators.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

CONTROL_RULE = "must not contain control characters"
FREE_TEXT_CONTROL_RULE = "must not contain control characters other than tab and line breaks"
INVISIBLE_RULE = "must not contain invisible bidirectional or zero-width characters"
SURROGATE_RULE = "must be valid Unicode text (an unpaired surrogate is not)"

# C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F): Unicode's Cc category.
_CONTROLS = "\x00-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{_CONTROLS}]")
_FREE_TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Bidi: ALM, LRM, RLM, LRE…RLO (U+202A–U+202E), LRI…PDI (U+2066–U+2069). Zero-width: ZWSP, ZWNJ,
# ZWJ (U+200B–U+200D), word joiner (U+2060), BOM / zero-width no-break space (U+FEFF). Also the
# line and paragraph separators (U+2028, U+2029), which break a name over lines.
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _found(match: re.Match[str]) -> str:
    return f" (found U+{ord(match.group()):04X} at character {match.start()})"


def _problem(value: str, control: re.Pattern[str], control_rule: str, *, names: bool) -> str | None:
    if (match := _SURROGATE.search(value)) is not None:
        return SURROGATE_RULE + f" (at character {match.start()})"
    if (match := control.search(value)) is not None:
        return control_rule + _found(match)
    if names and (match := _INVISIBLE.search(value)) is not None:
        return INVISIBLE_RULE + _found(match)
    return None


def free_text_problem(value: str) -> str | None:
    return _problem(value, _FREE_TEXT_CONTROL, FREE_TEXT_CONTROL_RULE, names=False)


def line_problem(value: str) -> str | None:
    return _problem(value, _CONTROL, CONTROL_RULE, names=False)


def name_problem(value: str) -> str | None:
    return _problem(value, _CONTROL, CONTROL_RULE, names=True)


def _raise_on(problem: str | None) -> None:
    if problem is not None:
        raise ValueError(problem)


def check_free_text(value: str) -> str:
    _raise_on(free_text_problem(value))
    return value


def check_line(value: str) -> str:
    _raise_on(line_problem(value))
    return value


def check_name(value: str) -> str:
    _raise_on(name_problem(value))
    return value


def json_problem(value: Any, *, max_depth: int = 8) -> str | None:
    """The rule a JSON value's keys and strings break (free text), or how it nests too deep.

    For values a partner passes through as data (a call's variables): every key and string is
    free text, every number finite, and nesting stops at ``max_depth`` levels.
    """
    return _json_problem(value, max_depth, path="", max_depth=max_depth)


def _json_problem(value: Any, depth: int, *, path: str, max_depth: int) -> str | None:
    if isinstance(value, str):
        problem = free_text_problem(value)
        return f"{problem} in {path or 'the value'}" if problem else None
    if isinstance(value, float) and not math.isfinite(value):
        # Python's JSON parser reads NaN and Infinity; JSON (and PostgreSQL's json type) has neither.
        return f"must hold only finite numbers, not {value} (in {path or 'the value'})"
    if isinstance(value, Mapping) or (isinstance(value, Sequence) and not isinstance(value, bytes)):
        if depth <= 0:
            return f"must not nest more than {max_depth} levels deep (at {path or 'the value'})"
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            where = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
            if isinstance(key, str) and (problem := free_text_problem(key)) is not None:
                return f"{problem} in a key of {path or 'the value'}"
            problem = _json_problem(item, depth - 1, path=where.lstrip("."), max_depth=max_depth)
            if problem is not None:
                return problem
    return None


def check_json(value: Any) -> Any:
    _raise_on(json_problem(value))
    return value


def params_problem(params: Mapping[str, str]) -> tuple[str, str] | None:
    """The first parameter (a carrier callback's form or query field) whose name or value is not
    free text: ``(field, "<field> <rule>")``, or None."""
    for name, value in params.items():
        if (problem := free_text_problem(name)) is not None:
            return "parameter name", f"a parameter name {problem}"
        if (problem := free_text_problem(value)) is not None:
            return name, f"{name} {problem}"
    return None
