"""The OpenAPI document says what the API answers to an invalid request: 400 VALIDATION_ERROR in
the error envelope (``api.errors``), not the 422 and the error shape FastAPI documents by default
on every operation that takes parameters or a body; and how each API takes its credential, so the
docs' "Authorize" button sends it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from callwright.api.envelope import ErrorEnvelope

_ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
_VALIDATION = (
    "Invalid request: `VALIDATION_ERROR` (or `BAD_REQUEST`) in the error envelope; "
    "`details` names each field and the rule it breaks."
)
_FASTAPI_SHAPES = ("HTTPValidationError", "ValidationError")


def document_validation_errors(app: FastAPI) -> None:
    """Rewrite the app's generated document once, when it is first asked for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            _replace_422(schema)
            _declare_security(schema)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _replace_422(schema: dict[str, Any]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is None:
                continue
            entry = responses.setdefault("400", {"content": {"application/json": {"schema": _ENVELOPE_REF}}})
            entry["description"] = _VALIDATION
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_SHAPES:
        components.pop(name, None)
    if "ErrorEnvelope" not in components:
        envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(envelope.pop("$defs", {}))
        components["ErrorEnvelope"] = envelope


# Both APIs take ``Authorization: Bearer …`` (``api.deps``); two schemes so the docs' "Authorize"
# dialog asks for each credential by its name.
_SCHEMES = {
    "PartnerApiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "rg_live_…",
        "description": "A partner's API key, sent as `Authorization: Bearer rg_live_…`.",
    },
    "AdminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The operator's admin token (CALLWRIGHT_ADMIN_TOKEN).",
    },
}


def _declare_security(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(_SCHEMES)
    for path, operations in schema.get("paths", {}).items():
        wanted: list[dict[str, list[str]]]
        if path.startswith("/api/v2/"):
            wanted = [{"PartnerApiKey": []}]
        elif path.startswith("/admin/v1/"):
            wanted = [{"AdminToken": []}]
        else:
            continue
        for operation in operations.values():
            operation.setdefault("security", wanted)
