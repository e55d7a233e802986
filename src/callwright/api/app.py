"""The ASGI application: Partner API (/api/v2), operator API (/admin/v1), health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from callwright import __version__, log_redaction
from callwright.api.auth_throttle import AuthThrottle
from callwright.api.errors import install_error_handlers
from callwright.api.guard import RequestGuard
from callwright.api.headers import SecurityHeaders
from callwright.api.openapi import document_validation_errors
from callwright.api.routes import (
    admin,
    admin_calls,
    admin_credits,
    admin_numbers,
    agents,
    background_audio,
    call_trail,
    calls,
    campaign_contacts,
    campaigns,
    config,
    connections,
    dictionaries,
    dnd_check,
    documents,
    functions,
    media,
    metrics,
    phone_numbers,
    projects,
    recordings,
    sessions,
    suppression,
    telephony,
    usage,
    webhooks,
)
from callwright.collector import settle_after_start_up
from callwright.console import install_console
from callwright.domain.errors import CallwrightError
from callwright.platform import Platform
from callwright.serving import serve_platform
from callwright.settings import Settings, get_settings

PARTNER_API_PREFIX = "/api/v2"
ADMIN_API_PREFIX = "/admin/v1"


def create_served_app() -> FastAPI:
    """The app of a ``callwright serve`` process, which owns its garbage collector: while no call
    is up it freezes what its calls left for good (``callwright.collector``). An app in someone
    else's process (a test's) leaves that process's collector alone."""
    app = create_app()
    app.state.settle_collector_when_idle = True
    app.state.served = True  # its platform is the one a SIGTERM drains (serving.DrainingServer)
    return app


def create_app(
    settings: Settings | None = None, *, platform: Platform | None = None
) -> FastAPI:
    """Build the app. Pass ``platform`` to share one (tests); otherwise it is built at start-up."""
    settings = settings or (platform.settings if platform else get_settings())
    owns_platform = platform is None
    log_redaction.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = app.state.platform = platform or Platform.from_settings(settings)
        if settings.cloud_speech_providers():
            from callwright.voice.engines.cloud import configure_cloud_engines

            configure_cloud_engines(settings)  # before the preload, which loads every voice
        if settings.fake_engines:
            from callwright.voice.engines.fake import FakeLatencies, enable_fake_engines

            enable_fake_engines(
                FakeLatencies(
                    stt_ms=settings.fake_stt_latency_ms,
                    llm_ms=settings.fake_llm_latency_ms,
                    tts_ms=settings.fake_tts_latency_ms,
                )
            )
        if settings.preload_voice_models:
            from callwright.voice.preload import preload_voice_models

            await preload_voice_models()  # so the first call's greeting does not pay the loads
        # What start-up loaded lives as long as the process. Left in the collector's view, each
        # full collection walked those ~250k objects: 150-250 ms in which no call's audio went
        # out (2-core box). Frozen, a collection sees only what calls allocated since (and an
        # idle process freezes again what its calls left for good: see callwright.collector).
        settle_after_start_up()
        await running.workers.start(background=settings.workers_enabled)
        served = getattr(app.state, "served", False)
        if served:
            serve_platform(running)
        try:
            yield
        finally:
            if served:
                serve_platform(None)
            if owns_platform:
                await running.close()  # stops the workers first
            else:  # a test's platform: it closes the store itself
                await running.workers.stop()
            if settings.fake_engines:  # an app served in a test's process leaves none behind
                from callwright.voice.engines.fake import disable_fake_engines

                disable_fake_engines()

    app = FastAPI(
        title="Callwright",
        version=__version__,
        summary="Self-hostable AI phone agents; Partner API wire-compatible with Vocobase v2.",
        lifespan=lifespan,
        openapi_url="/openapi.json" if settings.serves_docs else None,
        docs_url=None,  # served offline by callwright.console, with its own assets
        redoc_url=None,
    )
    if platform is not None:
        app.state.platform = platform
    install_error_handlers(app)
    document_validation_errors(app)
    install_edge_middleware(app, settings)

    partner_api = APIRouter(prefix=PARTNER_API_PREFIX)
    partner_api.include_router(config.router)
    partner_api.include_router(connections.router)
    partner_api.include_router(phone_numbers.router)
    partner_api.include_router(background_audio.router)  # before /agent/{agent_id}
    partner_api.include_router(dictionaries.router)
    partner_api.include_router(agents.router)
    partner_api.include_router(calls.router)
    partner_api.include_router(call_trail.router)
    partner_api.include_router(sessions.router)
    partner_api.include_router(projects.router)
    partner_api.include_router(campaigns.router)
    partner_api.include_router(campaign_contacts.router)
    partner_api.include_router(dnd_check.router)  # before suppression's /suppressions/{id}
    partner_api.include_router(suppression.router)
    partner_api.include_router(functions.router)
    partner_api.include_router(documents.router)
    partner_api.include_router(webhooks.router)
    partner_api.include_router(usage.router)
    partner_api.include_router(recordings.partner_router)
    app.include_router(partner_api)
    app.include_router(telephony.router)
    app.include_router(media.router)
    app.include_router(recordings.router)
    app.include_router(documents.upload_router)
    app.include_router(background_audio.upload_router)
    app.include_router(admin.router, prefix=ADMIN_API_PREFIX)
    app.include_router(admin_credits.router, prefix=ADMIN_API_PREFIX)
    app.include_router(admin_calls.router, prefix=ADMIN_API_PREFIX)
    app.include_router(admin_numbers.router, prefix=ADMIN_API_PREFIX)
    install_console(app, settings)
    app.include_router(metrics.router)

    @app.get("/healthz", summary="Liveness check", tags=["health"])
    async def healthz() -> dict[str, object]:
        return {"success": True, "data": {"status": "ok", "version": __version__}}

    @app.get(
        "/readyz",
        summary="Readiness check: 503 while the node drains",
        tags=["health"],
        responses={
            200: {"content": {"application/json": {"example": {"success": True, "data": {"status": "ready", "version": __version__}}}}},
            503: {"description": "The node is draining (SIGTERM): send it no new connections."},
        },
    )
    async def readyz(request: Request) -> dict[str, object]:
        # Not the store's health: a store outage would make every node unready at once and leave
        # the load balancer nothing to send to; only a node's own drain takes it out.
        running: Platform = request.app.state.platform
        if running.draining:
            raise CallwrightError(
                "this node is draining and takes no new calls", code="draining", status_code=503
            )
        return {"success": True, "data": {"status": "ready", "version": __version__}}

    return app


def install_edge_middleware(app: FastAPI, settings: Settings) -> None:
    """Pure ASGI layers, outermost first: the client's address from a trusted proxy's
    X-Forwarded-For, the security headers, CORS for the configured origins, then the guard that
    checks credentials and bounds bodies before the app reads them (``api.guard``)."""
    app.state.auth_throttle = throttle = AuthThrottle.from_settings(settings)
    app.add_middleware(RequestGuard, settings=settings, throttle=throttle)  # innermost
    if settings.cors_origins:
        # Bearer keys, no cookies: credentials are never allowed cross-origin.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Range"],
            expose_headers=["Retry-After", "Content-Range"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
