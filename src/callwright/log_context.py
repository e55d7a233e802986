"""Which call a log line is about, and JSON log lines (``CALLWRIGHT_LOG_FORMAT=json``).

``call_context(call_id)`` marks the code that serves one call (its media socket, a carrier's
callback, its dial): every record logged inside, in that task and the tasks it starts (they copy
its context), carries ``call_id``. A JSON line has ``time``, ``level``, ``logger``, ``message``,
``call_id`` when there is one, and ``exception`` when there is one. Messages are redacted as every
record is (``log_redaction``), before they are formatted.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from callwright import log_redaction

_call_id: ContextVar[str | None] = ContextVar("callwright_call_id", default=None)


@contextlib.contextmanager
def call_context(call_id: str) -> Iterator[None]:
    token = _call_id.set(call_id)
    try:
        yield
    finally:
        _call_id.reset(token)


def current_call_id() -> str | None:
    return _call_id.get()


class CallIdFilter(logging.Filter):
    """Puts the current call id on each record a handler emits (handlers run in the caller's
    context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "call_id", None) is None:
            record.call_id = _call_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        call_id = getattr(record, "call_id", None) or _call_id.get()
        if call_id:
            line["call_id"] = call_id
        if record.exc_info:
            # A traceback is not a record's message or argument: redacted here, once formatted.
            line["exception"] = log_redaction.redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def logging_config(log_format: str, log_level: str) -> dict[str, Any] | None:
    """``uvicorn``'s ``log_config`` for the format: None keeps uvicorn's own (text); "json" sends
    every logger's records (uvicorn's, Callwright's, the libraries') to stderr as JSON lines."""
    if log_format != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"call_id": {"()": "callwright.log_context.CallIdFilter"}},
        "formatters": {"json": {"()": "callwright.log_context.JsonFormatter"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["call_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["json"], "level": log_level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
        },
    }
