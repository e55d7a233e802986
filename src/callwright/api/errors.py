"""The error envelope, everywhere: ``{"success": false, "error": {"code", "message", "reason", "details"}}``.

``code`` is the Vocobase docs' UPPER_SNAKE code for the status (``UNAUTHORIZED``, ``FORBIDDEN``,
``NOT_FOUND``, ``VALIDATION_ERROR`` …), so a Vocobase client's error handling reads ours unchanged;
an error the docs name specifically (``FEATURE_NOT_AVAILABLE``) carries its own. ``reason`` is
Callwright's finer snake_case cause (``provider_not_allowed``, ``agent_not_found``).

Validation failures become 400 ``VALIDATION_ERROR`` with one entry per field (the docs answer
invalid bodies with 400, not 422); unknown routes, wrong methods and malformed JSON get the same
envelope; an unexpected exception is logged and answered with a bare 500 envelope that carries no
stack trace and no request data.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from callwright.domain.errors import CallwrightError
from callwright.services.telephony import InvalidCredentials
from callwright.store.db import store_unreachable

__all__ = ["store_unreachable"]  # where the API's callers and tests have always found it

log = logging.getLogger("callwright.api")

# Our snake_case reason for an error raised without one, by status.
_STATUS_REASONS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    502: "carrier_unavailable",
    503: "service_unavailable",
}

# The wire code by status, as the Vocobase docs' authentication page gives them.
WIRE_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "CARRIER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
# Reasons that keep a code of their own on the wire, whatever the status.
_WIRE_CODE_BY_REASON = {"validation_error": "VALIDATION_ERROR", "invalid_json": "VALIDATION_ERROR"}


def wire_code(status_code: int, reason: str, explicit: str | None = None) -> str:
    if explicit is not None:
        return explicit
    return _WIRE_CODE_BY_REASON.get(reason) or WIRE_CODES.get(status_code, "ERROR")


def error_response(
    status_code: int,
    reason: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
    *,
    code: str | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {
        "code": wire_code(status_code, reason, code),
        "message": message,
        "reason": reason,
    }
    if details is not None:
        error["details"] = details
    return JSONResponse(
        {"success": False, "error": error}, status_code=status_code, headers=headers
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    # Pydantic puts the validator/union member name in the location; keep only data keys.
    return ".".join(p for p in parts if not p.startswith("function-")) or "body"


def describe_validation_error(err: dict[str, Any]) -> dict[str, str]:
    """One pydantic error → ``{"field", "message", "type"}`` with a sentence naming field and rule."""
    field = _field_path(tuple(err.get("loc", ())))
    kind = err.get("type", "")
    msg = str(err.get("msg", "is invalid"))
    if kind == "missing":
        message = f"{field} is required"
    elif kind == "extra_forbidden":
        message = f"{field} is not a known field"
    elif kind == "json_invalid":
        field = "body"
        message = f"the request body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})"
    elif kind == "model_attributes_type" or (kind == "dict_type" and field == "body"):
        message = "the request body must be a JSON object"
    elif kind == "value_error":
        message = f"{field} {msg.removeprefix('Value error, ')}"
    elif kind == "literal_error":
        message = f"{field} must be one of {err.get('ctx', {}).get('expected', 'the allowed values')}"
    else:
        message = f"{field}: {msg[0].lower() + msg[1:] if msg else 'is invalid'}"
    return {"field": field, "message": message, "type": kind}


def validation_error_response(errors: list[dict[str, Any]]) -> JSONResponse:
    details = [describe_validation_error(e) for e in errors]
    if any(d["type"] == "json_invalid" for d in details):
        return error_response(400, "invalid_json", details[0]["message"])
    message = details[0]["message"] if len(details) == 1 else (
        f"{details[0]['message']} (and {len(details) - 1} more problem"
        f"{'s' if len(details) > 2 else ''})"
    )
    return error_response(400, "validation_error", message, details)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidCredentials)
    async def _invalid_credentials(_: Request, exc: InvalidCredentials) -> JSONResponse:
        return validation_error_response(exc.errors)

    @app.exception_handler(CallwrightError)
    async def _callwright_error(_: Request, exc: CallwrightError) -> JSONResponse:
        return error_response(
            exc.status_code, exc.code, exc.message, exc.details, exc.headers, code=exc.wire_code
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error_response(list(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = _STATUS_REASONS.get(exc.status_code, "error")
        if exc.status_code == 404 and exc.detail in (None, "Not Found"):
            message = f"no route matches {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, reason, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if store_unreachable(exc):
            log.warning("store unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            return error_response(
                503,
                "store_unavailable",
                "the platform's database cannot be reached; retry shortly",
                headers={"Retry-After": "2"},
            )
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "an internal error occurred; it has been logged")
