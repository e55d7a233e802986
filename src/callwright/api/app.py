"""The ASGI application: Partner API (/api/v2), operator API (/admin/v1), health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from callwright import __version__, log_redaction
from callwright.api.errors import install_error_handlers
from callwright.api.openapi import document_validation_errors
from callwright.api.routes import (
    admin,
    agents,
    calls,
    config,
    media,
    recordings,
    telephony,
    webhooks,
)
from callwright.balancer import publish_load, worker_board
from callwright.collector import settle_after_start_up
from callwright.platform import Platform
from callwright.settings import Settings, get_settings

PARTNER_API_PREFIX = "/api/v2"
ADMIN_API_PREFIX = "/admin/v1"


def create_served_app() -> FastAPI:
    """The app of a ``callwright serve`` process, which owns its garbage collector: while no call
    is up it freezes what its calls left for good (``callwright.collector``). An app in someone
    else's process (a test's) leaves that process's collector alone."""
    app = create_app()
    app.state.settle_collector_when_idle = True
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
        election = None
        if settings.workers_enabled:
            await running.control.start()
            if running.control.shared:
                # Several processes share the store: one, elected through Redis, paces the dials.
                from callwright.services.call_control import DialerElection

                election = DialerElection(running, running.control)
                election.start()
            elif running.dialer is None:
                from callwright.services.dialer import Dialer

                running.dialer = Dialer(running)
                running.dialer.start()
        # Every process heartbeats the media it carries and settles lost calls; every process sends
        # webhooks (deliveries are leased, so two senders never send one twice).
        if settings.workers_enabled and running.reconciler is None:
            from callwright.services.reconciler import Reconciler

            running.reconciler = Reconciler(running)
            running.reconciler.start()
        if settings.workers_enabled and running.webhook_sender is None:
            from callwright.services.webhook_sender import WebhookSender

            running.webhook_sender = WebhookSender(running)
            running.webhook_sender.start()
        load = None
        seat = worker_board()
        if seat is not None:  # a worker of a balanced `callwright serve`: tell it our calls
            board, slot = seat
            load = asyncio.create_task(
                publish_load(
                    board, slot, lambda: running.media_sockets, running.media_sockets_changed
                )
            )
        try:
            yield
        finally:
            if load is not None:
                load.cancel()
                await asyncio.gather(load, return_exceptions=True)
            if election is not None:
                await election.stop()
            if settings.fake_engines:  # an app served in a test's process leaves none behind
                from callwright.voice.engines.fake import disable_fake_engines

                disable_fake_engines()
            if owns_platform:
                await running.close()
            else:
                if running.dialer is not None:
                    await running.dialer.stop()
                    running.dialer = None
                if running.reconciler is not None:
                    await running.reconciler.stop()
                    running.reconciler = None
                if running.webhook_sender is not None:
                    await running.webhook_sender.stop()
                    running.webhook_sender = None
                await running.control.close()

    app = FastAPI(
        title="Callwright",
        version=__version__,
        summary="Self-hostable AI phone agents; Partner API wire-compatible with Vocobase v2.",
        lifespan=lifespan,
    )
    if platform is not None:
        app.state.platform = platform
    install_error_handlers(app)
    document_validation_errors(app)

    partner_api = APIRouter(prefix=PARTNER_API_PREFIX)
    partner_api.include_router(config.router)
    partner_api.include_router(agents.router)
    partner_api.include_router(calls.router)
    partner_api.include_router(webhooks.router)
    partner_api.include_router(recordings.partner_router)
    app.include_router(partner_api)
    app.include_router(telephony.router)
    app.include_router(media.router)
    app.include_router(recordings.router)
    app.include_router(admin.router, prefix=ADMIN_API_PREFIX)

    @app.get("/healthz", summary="Liveness check", tags=["health"])
    async def healthz() -> dict[str, object]:
        return {"success": True, "data": {"status": "ok", "version": __version__}}

    return app
