"""Errors are values: a code, an HTTP status and one clear sentence for the human reading it.

``code`` is Callwright's snake_case reason (``agent_not_found``); the API's envelope puts the
Vocobase docs' UPPER_SNAKE code for the status beside it, unless ``wire_code`` names one.
"""

from __future__ import annotations

from typing import Any


class CallwrightError(Exception):
    status_code = 400
    code = "bad_request"
    wire_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
        wire_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details = details
        self.headers = headers
        if wire_code is not None:
            self.wire_code = wire_code


class BadRequest(CallwrightError):
    status_code = 400
    code = "bad_request"


class Unauthorized(CallwrightError):
    status_code = 401
    code = "unauthorized"


class Forbidden(CallwrightError):
    status_code = 403
    code = "forbidden"


class NotFound(CallwrightError):
    status_code = 404
    code = "not_found"


class Conflict(CallwrightError):
    status_code = 409
    code = "conflict"


class ValidationFailed(CallwrightError):
    """A single-field rule failure outside Pydantic's reach (e.g. a per-provider format)."""

    status_code = 400
    code = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, details=[{"field": field, "message": message}])
        self.field = field


class LimitExceeded(CallwrightError):
    status_code = 429
    code = "rate_limited"


class FeatureNotAvailable(CallwrightError):
    """A documented field or endpoint whose behaviour Callwright has not built yet: refused, never
    stored and ignored."""

    status_code = 400
    code = "feature_not_available"
    wire_code = "FEATURE_NOT_AVAILABLE"


class CarrierError(CallwrightError):
    """The carrier refused or failed (502) — nothing was stored."""

    status_code = 502
    code = "carrier_unavailable"
