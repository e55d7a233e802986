"""Custom functions: HTTP tools an agent's model may call mid-call (Vocobase's ``/functions``).

A function is a name and description the model reads, a URL we POST the arguments to, headers
(values sealed at rest, only their keys shown), input and output schemas as lists of typed
fields, a timeout, lines said while it runs (``started_messages``) and a line said when it fails
(``error_message``). This module holds the rules and the shapes; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"  # what OpenAI-style tool names allow
NAME_RULE = "must be 1-64 characters of a-z, A-Z, 0-9, '_' and '-'"
DESCRIPTION_MAX = 1000
FIELD_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$"
FIELD_DESCRIPTION_MAX = 500
SCHEMA_FIELDS_MAX = 20
HEADERS_MAX = 20
HEADER_KEY_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$"  # an HTTP token (RFC 9110)
HEADER_VALUE_MAX = 4096
TIMEOUT_MIN_SECS = 1
TIMEOUT_MAX_SECS = 30
TIMEOUT_DEFAULT_SECS = 10
STARTED_MESSAGES_MAX = 10
MESSAGE_MAX = 500
FUNCTIONS_PER_AGENT_MAX = 20
FUNCTIONS_PER_PARTNER_MAX = 200
# The most of a function's answer we read and hand to the model (and show in a dry run).
RESULT_BYTES_MAX = 16 * 1024
DEFAULT_ERROR_MESSAGE = "Sorry, I couldn't do that right now."
METHOD = "POST"  # Vocobase: functions are always called with POST

# Names of the platform's own tools; a function may not shadow one.
RESERVED_NAMES = frozenset({"end_call", "opt_out", "transfer_call"})
# Headers the platform sets itself on every request.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "accept-encoding"}
)

# Vocobase's schema field types, and the JSON Schema each offers the model. ``custom``: any JSON
# value (the model is told only the field's description).
FIELD_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "string[]": {"type": "array", "items": {"type": "string"}},
    "number[]": {"type": "array", "items": {"type": "number"}},
    "custom": {},
}

_NAME = re.compile(NAME_PATTERN)
_HEADER_KEY = re.compile(HEADER_KEY_PATTERN)


def name_problem(name: str) -> str | None:
    if not _NAME.fullmatch(name):
        return NAME_RULE
    if name in RESERVED_NAMES:
        return f"must not be {name!r}, a name the platform's own tools use"
    return None


def header_problems(keys: Sequence[str]) -> str | None:
    """Why a list of header keys is refused, or None."""
    seen: set[str] = set()
    for key in keys:
        if not _HEADER_KEY.fullmatch(key):
            return f"key {key[:64]!r} must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)"
        if key.lower() in RESERVED_HEADERS:
            return f"key {key!r} is set by the platform and cannot be given"
        if key.lower() in seen:
            return f"key {key!r} is given twice"
        seen.add(key.lower())
    return None


def schema_problem(fields: Sequence[Mapping[str, Any]]) -> str | None:
    """Why a schema (a list of ``{name, type, description, required}``) is refused, or None."""
    names: set[str] = set()
    for field in fields:
        if field["name"] in names:
            return f"field name {field['name']!r} is given twice"
        names.add(field["name"])
    return None


@dataclass(frozen=True, slots=True)
class SchemaField:
    name: str
    type: str
    description: str | None = None
    required: bool = False

    @classmethod
    def parse(cls, stored: Mapping[str, Any]) -> SchemaField:
        return cls(stored["name"], stored["type"], stored.get("description"), bool(stored.get("required")))


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A function as a call uses it: its header values already opened."""

    id: str
    name: str
    description: str
    url: str
    headers: Mapping[str, str]
    input_schema: tuple[SchemaField, ...]
    timeout_secs: int
    started_messages: tuple[str, ...]
    error_message: str | None

    def offered_fields(self, variables: Mapping[str, Any]) -> list[SchemaField]:
        """The input fields the model fills: those named after a pre-call variable the call has
        are filled from it instead."""
        return [f for f in self.input_schema if f.name not in variables]

    def parameters(self, variables: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The JSON Schema ``properties`` and ``required`` list offered to the model."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in self.offered_fields(variables):
            schema = dict(FIELD_TYPES.get(field.type, {}))
            if field.description:
                schema["description"] = field.description
            properties[field.name] = schema
            if field.required:
                required.append(field.name)
        return properties, required

    def request_body(self, arguments: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
        """What we POST: the model's arguments, and each input field named after a pre-call
        variable filled from the call's value (the model never sees those fields)."""
        body = {k: v for k, v in arguments.items() if k not in variables}
        for field in self.input_schema:
            if field.name in variables:
                body[field.name] = variables[field.name]
        return body

    @property
    def failure_line(self) -> str:
        return (self.error_message or "").strip() or DEFAULT_ERROR_MESSAGE


def seal_context(partner_id: str, function_id: str) -> str:
    """Associated data binding a function's sealed headers to its partner and itself."""
    return f"function:{partner_id}:{function_id}"
