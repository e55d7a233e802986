"""The operator's and partners' web console (``/console``) and the offline API docs (``/docs``).

A small static app (HTML, vanilla JS modules, CSS) that calls the Partner and admin APIs with the
key the person types in, held in the tab's sessionStorage. Nothing here reads the store: the
console can do exactly what its key can do through the API, no more.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from callwright.settings import Settings

STATIC = Path(__file__).parent / "static"

# No inline script or style, nothing from another origin; the API is same-origin. Audio plays
# from the signed recording URL (same origin) or a blob.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets element styles from its scripts and draws icons as data: images.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}

_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Callwright API</title>
<link rel="icon" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="/openapi.json"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/console/assets/docs-init.js"></script>
</body>
</html>
"""


class ConsoleAssets(StaticFiles):
    """The console's files, each under the console's CSP (``index.html`` is reachable here too)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Content-Security-Policy"] = CONSOLE_CSP
        response.headers.update(_PAGE_HEADERS)
        return response


def install_console(app: FastAPI, settings: Settings) -> None:
    """``/`` → ``/console``; the console's page and assets; ``/docs`` when the settings serve docs."""

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    @app.get("/console", include_in_schema=False)
    async def console_bare() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    @app.get("/console/", include_in_schema=False)
    async def console_page() -> Response:
        return FileResponse(
            STATIC / "index.html",
            media_type="text/html",
            headers={"Content-Security-Policy": CONSOLE_CSP, "Cache-Control": "no-store"} | _PAGE_HEADERS,
        )

    @app.get("/console/schema/agent.json", include_in_schema=False)
    async def agent_form_schema() -> JSONResponse:
        return JSONResponse(agent_schema(), headers={"Cache-Control": "no-store"})

    @app.get("/console/schema/carriers.json", include_in_schema=False)
    async def carrier_form_schema() -> JSONResponse:
        return JSONResponse(carrier_schemas(), headers={"Cache-Control": "no-store"})

    app.mount("/console/assets", ConsoleAssets(directory=STATIC), name="console-assets")

    if settings.serves_docs:
        @app.get("/docs", include_in_schema=False)
        async def api_docs() -> HTMLResponse:
            return HTMLResponse(_DOCS_PAGE, headers={"Content-Security-Policy": DOCS_CSP} | _PAGE_HEADERS)

        @app.get("/redoc", include_in_schema=False)
        async def redoc() -> RedirectResponse:
            # ReDoc loaded its script from a CDN; the offline docs are Swagger UI's.
            return RedirectResponse("/docs", status_code=307)

        app.mount("/docs/assets", StaticFiles(directory=swagger_ui_assets()), name="docs-assets")


def agent_schema() -> dict[str, Any]:
    """The JSON schema of ``POST /api/v2/agent``'s body (built from ``AGENT_FIELDS``), which the
    console's agent form is drawn from, so a new agent field appears there with no console change.
    Served even when ``/openapi.json`` is not (production without docs); it holds no data."""
    from callwright.api.schemas.agents import AGENT_FIELDS, AgentCreate

    schema = AgentCreate.model_json_schema()
    schema["x-unbuilt"] = {f.name: f.unbuilt for f in AGENT_FIELDS if f.unbuilt}
    schema["x-clearable"] = [f.name for f in AGENT_FIELDS if f.clearable]
    return schema


def carrier_schemas() -> dict[str, Any]:
    """Each carrier's credential fields (its credentials model's JSON schema) and which of them
    are secrets (the console asks for those in password inputs and never shows them again)."""
    from callwright.carriers import get_carrier
    from callwright.domain.providers import Provider

    out: dict[str, Any] = {}
    for provider in Provider:
        model = get_carrier(provider).credentials_model
        out[provider.value] = {
            "name": provider.display_name,
            "schema": model.model_json_schema(),
            "secret_fields": list(model.secret_fields),
            "masked_fields": list(model.masked_fields),
        }
    return out


def swagger_ui_assets() -> Path:
    """Swagger UI's dist files as the pinned ``swagger-ui-py`` package ships them (5.x, which
    reads the OpenAPI 3.1 document FastAPI writes), found without importing its web adapters."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"
