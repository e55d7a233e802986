"""A response checked against the fields a docs page lists: by name and JSON type, nested.

A shape is written like the docs' field tables::

    {"call_id": "string", "duration_seconds": "integer|null",
     "session": {"transcript": [{"role": "string", "latency_ms": "integer|null"}]},
     "latency": nullable({"min_ms": "integer"})}

- a string names JSON types, ``|``-separated: string, integer, number, boolean, object, array,
  null, and datetime (an ISO-8601 string);
- a dict is an object that must have (at least) those fields, each of its shape;
- a one-item list is an array whose every item has that shape;
- ``nullable(shape)`` is that shape or null.

Fields a page does not list are allowed: extra fields are harmless to a client; missing or
mistyped ones break it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Nullable:
    shape: Any


def nullable(shape: Any) -> Nullable:
    return Nullable(shape)


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_CHECKS = {
    "string": lambda v: isinstance(v, str),
    # JSON has one number type; a Python bool is an int, but true is not a number in JSON.
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
    "datetime": _is_datetime,
}


def _type_name(value: Any) -> str:
    return "null" if value is None else {bool: "boolean", int: "integer", float: "number", str: "string",
                                          list: "array", dict: "object"}.get(type(value), type(value).__name__)


def shape_errors(value: Any, shape: Any, where: str = "data") -> list[str]:
    """Every way ``value`` differs from ``shape``, one line each, naming the field's path."""
    if isinstance(shape, Nullable):
        return [] if value is None else shape_errors(value, shape.shape, where)
    if isinstance(shape, str):
        names = shape.split("|")
        unknown = [n for n in names if n not in _CHECKS]
        if unknown:
            raise ValueError(f"{where}: unknown type {unknown[0]!r} in shape {shape!r}")
        if any(_CHECKS[n](value) for n in names):
            return []
        return [f"{where}: expected {shape}, got {_type_name(value)} {value!r:.60}"]
    if isinstance(shape, list):
        if len(shape) != 1:
            raise ValueError(f"{where}: an array shape has exactly one item shape")
        if not isinstance(value, list):
            return [f"{where}: expected array, got {_type_name(value)}"]
        return [e for i, item in enumerate(value) for e in shape_errors(item, shape[0], f"{where}[{i}]")]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected object, got {_type_name(value)}"]
        errors = []
        for field, field_shape in shape.items():
            if field not in value:
                errors.append(f"{where}.{field}: missing")
            else:
                errors.extend(shape_errors(value[field], field_shape, f"{where}.{field}"))
        return errors
    raise ValueError(f"{where}: {shape!r} is not a shape")


def assert_shape(value: Any, shape: Any, where: str = "data") -> None:
    errors = shape_errors(value, shape, where)
    assert not errors, "differs from the docs:\n  " + "\n  ".join(errors)


def documented(response: Any, shape: Any, *, status: int = 200) -> Any:
    """The ``data`` of a successful envelope, after checking the status and its shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert_shape(body, {"success": "boolean", "data": "object|array"}, where="body")
    assert body["success"] is True
    assert_shape(body["data"], shape)
    return body["data"]
