"""Post-call extraction: the agent's schema, the request to the model, and the values checked.

Vocobase's ``extraction_config {prompt, keys[{name, type, description}], includeToolLogs}``: after
a call the transcript goes to a structured-output LLM, and the values it returns are checked
against the declared types. Every configured key is in ``values``; a key the model could not
fill, or filled with something that is not of its type, is ``null``
(docs.vocobase.com/post-call-extraction). The result is the ``extraction`` block
``{status, values, model, extractedAt, latencyMs, attempts, error}``.

Pure: no clock, no I/O. The service (``services.extraction``) asks the model and writes the block.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any


class KeyType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ARRAY = "array"  # v1: an array of strings
    DATE = "date"  # YYYY-MM-DD
    DATETIME = "datetime"  # YYYY-MM-DDTHH:MM:SSZ


class ExtractionStatus(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    # Ours: the call's session.completed left before extraction finished (see docs/extraction.md).
    PENDING = "pending"


# Limits of the schema. The Vocobase page gives the types and the key-name shape only; these
# bounds are Callwright's, so one schema cannot make a request the model cannot take.
KEYS_MAX = 50
KEY_NAME_MAX = 64
KEY_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
KEY_DESCRIPTION_MAX = 2_000
PROMPT_MAX = 20_000

NO_TRANSCRIPT = "the call has no transcript to extract from"


@dataclass(frozen=True, slots=True)
class ExtractionKey:
    name: str
    type: KeyType = KeyType.STRING
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ExtractionSpec:
    """An agent's extraction schema; ``include_tool_logs`` feeds the call's function calls in."""

    prompt: str | None = None
    keys: tuple[ExtractionKey, ...] = ()
    include_tool_logs: bool = False

    @classmethod
    def parse(cls, stored: Mapping[str, Any]) -> ExtractionSpec:
        include = stored.get("includeToolLogs", stored.get("include_tool_logs", False))
        return cls(
            prompt=stored.get("prompt"),
            keys=tuple(
                ExtractionKey(key["name"], KeyType(key.get("type") or "string"), key.get("description"))
                for key in stored.get("keys") or ()
            ),
            include_tool_logs=bool(include),
        )

    def to_json(self) -> dict[str, Any]:
        """The stored and public shape: Vocobase's, ``includeToolLogs`` in camelCase."""
        return {
            "prompt": self.prompt,
            "keys": [{"name": k.name, "type": k.type.value, "description": k.description} for k in self.keys],
            "includeToolLogs": self.include_tool_logs,
        }


# --- the request ----------------------------------------------------------------------------------

_SCHEMAS: dict[KeyType, dict[str, Any]] = {
    KeyType.STRING: {"type": ["string", "null"]},
    KeyType.NUMBER: {"type": ["number", "null"]},
    KeyType.INTEGER: {"type": ["integer", "null"]},
    KeyType.BOOLEAN: {"type": ["boolean", "null"]},
    KeyType.ARRAY: {"type": ["array", "null"], "items": {"type": "string"}},
    KeyType.DATE: {"type": ["string", "null"], "description": "ISO 8601 date, YYYY-MM-DD"},
    KeyType.DATETIME: {"type": ["string", "null"], "description": "ISO 8601 timestamp, YYYY-MM-DDTHH:MM:SSZ"},
}


def response_schema(spec: ExtractionSpec) -> dict[str, Any]:
    """The JSON schema of the answer (OpenAI's ``response_format: json_schema``, strict): an
    object with every key, each of its type or null."""
    properties = {}
    for key in spec.keys:
        schema = dict(_SCHEMAS[key.type])
        if key.description:
            schema["description"] = (schema.get("description", "") + " " + key.description).strip()
        properties[key.name] = schema
    return {
        "type": "object",
        "properties": properties,
        "required": [key.name for key in spec.keys],
        "additionalProperties": False,
    }


_INSTRUCTIONS = (
    "You read the transcript of a finished phone call between a voice agent (bot) and a person "
    "(user) and extract data from it. Answer with one JSON object and nothing else. It has exactly "
    "these keys; use null for a key the conversation does not answer, never a guess:\n"
)


def messages(
    spec: ExtractionSpec,
    transcript: Sequence[Mapping[str, Any]],
    function_calls: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, str]]:
    """The chat messages of one extraction request: our instructions and the partner's prompt as
    the system message; the transcript (and, with ``includeToolLogs``, the call's function calls)
    as the user message."""
    lines = [f"- {k.name} ({_TYPE_WORDS[k.type]})" + (f": {k.description}" if k.description else "") for k in spec.keys]
    system = _INSTRUCTIONS + "\n".join(lines)
    if spec.prompt:
        system += "\n\nInstructions from the agent's owner:\n" + spec.prompt
    turns = "\n".join(f"{turn.get('role', '?')}: {turn.get('content', '')}" for turn in transcript)
    user = "Transcript:\n" + (turns or "(empty)")
    if spec.include_tool_logs:
        logged = "\n".join(json.dumps(dict(c), ensure_ascii=False, sort_keys=True) for c in function_calls)
        user += (
            "\n\nFunction calls the agent made during the call, in order (name, arguments, outcome; "
            "the answers themselves are not recorded):\n" + (logged or "(none)")
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


_TYPE_WORDS = {
    KeyType.STRING: "text",
    KeyType.NUMBER: "number",
    KeyType.INTEGER: "whole number",
    KeyType.BOOLEAN: "true or false",
    KeyType.ARRAY: "array of strings",
    KeyType.DATE: "date, YYYY-MM-DD",
    KeyType.DATETIME: "timestamp, YYYY-MM-DDTHH:MM:SSZ",
}


# --- the answer -----------------------------------------------------------------------------------


class NotAnObject(ValueError):
    """The model's answer is not a JSON object: the request is asked again."""


@dataclass(frozen=True, slots=True)
class Checked:
    """Every configured key's value (None when absent or not of its type) and what was wrong."""

    values: dict[str, Any]
    problems: tuple[str, ...]


def check_answer(spec: ExtractionSpec, content: str | None) -> Checked:
    """The model's answer checked against the schema. Raises ``NotAnObject`` when it is not a
    JSON object at all. Values of the wrong type are converted when nothing is lost (``"42"`` for
    an integer, ``"yes"`` for a boolean, a timestamp with an offset normalised to UTC); anything
    else becomes null and is named in ``problems``. Keys not configured are dropped."""
    try:
        answer = json.loads(_strip_fence(content or ""))
    except ValueError as exc:
        raise NotAnObject(f"the model's answer is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(answer, dict):
        raise NotAnObject(f"the model's answer is JSON {type(answer).__name__}, not an object")
    values: dict[str, Any] = {}
    problems = []
    for key in spec.keys:
        raw = answer.get(key.name)
        if raw is None:
            values[key.name] = None
            continue
        try:
            values[key.name] = coerce(key.type, raw)
        except ValueError as exc:
            values[key.name] = None
            problems.append(f"{key.name}: {exc}")
    return Checked(values, tuple(problems))


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def _strip_fence(content: str) -> str:
    """Some models wrap JSON in a Markdown fence even when asked for JSON only."""
    match = _FENCE.match(content)
    return match.group(1) if match else content


_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def coerce(type_: KeyType, value: Any) -> Any:
    """``value`` as ``type_``, or ValueError naming what it got."""
    shown = _shown(value)
    if type_ is KeyType.STRING:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"must be text, not {shown}")
    if type_ is KeyType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"must be true or false, not {shown}")
    if type_ is KeyType.INTEGER:
        number = _number(value, shown, "a whole number")
        if not float(number).is_integer():
            raise ValueError(f"must be a whole number, not {shown}")
        return int(number)
    if type_ is KeyType.NUMBER:
        return _number(value, shown, "a number")
    if type_ is KeyType.ARRAY:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
            return [v if isinstance(v, str) else str(v) for v in value]
        raise ValueError(f"must be an array of strings, not {shown}")
    if type_ is KeyType.DATE:
        if isinstance(value, str):
            text = value.strip()
            if _is_date_or_midnight(text):
                try:
                    return date.fromisoformat(text[:10]).isoformat()
                except ValueError:
                    pass
        raise ValueError(f"must be an ISO 8601 date (YYYY-MM-DD), not {shown}")
    if type_ is KeyType.DATETIME:
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
            except ValueError:
                moment = None
            if moment is not None:
                if moment.tzinfo is None:  # no offset given: read as UTC, the format's zone
                    moment = moment.replace(tzinfo=UTC)
                return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise ValueError(f"must be an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ), not {shown}")
    raise ValueError(f"has an unknown type {type_}")  # pragma: no cover - KeyType is closed


def _is_date_or_midnight(text: str) -> bool:
    """``2026-05-01``, or a timestamp at midnight (models sometimes add ``T00:00:00``)."""
    if len(text) == 10:
        return True
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return False
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def _number(value: Any, shown: str, words: str) -> float | int:
    if isinstance(value, bool):
        raise ValueError(f"must be {words}, not {shown}")
    if isinstance(value, (int, float)):
        number: float | int = value
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "")) if "." in value or "e" in value.lower() else int(
                value.strip().replace(",", "")
            )
        except ValueError:
            raise ValueError(f"must be {words}, not {shown}") from None
    else:
        raise ValueError(f"must be {words}, not {shown}")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"must be {words}, not {shown}")
    return number


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the block ------------------------------------------------------------------------------------


def block(
    status: ExtractionStatus,
    *,
    values: Mapping[str, Any] | None = None,
    model: str | None = None,
    extracted_at: str | None = None,
    latency_ms: int | None = None,
    attempts: int = 0,
    error: str | None = None,
) -> dict[str, Any]:
    """The ``extraction`` object as Vocobase documents it."""
    return {
        "status": status.value,
        "values": dict(values) if values is not None else None,
        "model": model,
        "extractedAt": extracted_at,
        "latencyMs": latency_ms,
        "attempts": attempts,
        "error": error,
    }


def empty_values(spec: ExtractionSpec) -> dict[str, None]:
    """Every key null: the consistent shape when nothing could be extracted."""
    return {key.name: None for key in spec.keys}
