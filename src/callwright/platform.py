"""The process-wide objects every request shares: settings, store, secret box, carrier HTTP client.

Services take what they need from it; its background workers (``callwright.workers``) are
started by the app's lifespan and stopped by ``close``, the one teardown of a process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callwright.carriers import CarrierEndpoints, endpoints_from_settings
from callwright.settings import Settings
from callwright.store.db import SqliteFile, create_engine, session_factory
from callwright.store.secretbox import SecretBox, derive_subkey
from callwright.workers import Workers

if TYPE_CHECKING:
    from callwright.recordings import RecordingStorage
    from callwright.services.call_admission import CallAdmission
    from callwright.services.call_control import CallControl
    from callwright.services.campaign_scheduler import CampaignScheduler
    from callwright.services.dialer import Dialer
    from callwright.services.dnd_checks import DndGate
    from callwright.services.rate_limits import ApiRateLimiter


# Servers close a connection left idle past their keep-alive: 2 s (gunicorn), 5 s (uvicorn,
# Node.js, Apache). A request sent on a pooled connection just as its server closes it is lost
# with "Server disconnected", and a tool's POST must not be sent twice. So the platform drops its
# idle connections before the shortest of those; a busy platform still reuses them.
IDLE_KEEP_SECS = 1.5


def outbound_http() -> httpx.AsyncClient:
    """The one HTTP client for carriers' APIs, partners' tools and model endpoints."""
    return httpx.AsyncClient(follow_redirects=False, limits=httpx.Limits(keepalive_expiry=IDLE_KEEP_SECS))


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    secretbox: SecretBox
    endpoints: CarrierEndpoints
    # Keys for per-call callback/media tokens, current first (see domain.call_tokens).
    token_keys: list[bytes] = field(default_factory=list)
    http: httpx.AsyncClient = field(default_factory=outbound_http)
    # Set when a call is queued, so the in-process dialer wakes at once instead of polling.
    dial_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # The dialer, when this process runs it (started by ``workers`` or its election).
    dialer: Dialer | None = None
    # Set after a commit that wrote webhook events, so the in-process sender wakes at once.
    webhook_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # Set after a commit that queued a post-call extraction, so the extraction worker wakes at once.
    extraction_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # Set after a document is confirmed or a web link added, so the ingestion worker wakes at once.
    kb_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    workers: Workers = field(init=False)
    # Set when a campaign starts or resumes or one of its attempts ends: the scheduler wakes at once.
    campaign_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # The campaign scheduler, when this process runs it (started by ``workers`` or its election).
    campaign_scheduler: CampaignScheduler | None = None
    # Media sessions running in this process, by call id (for ending a call from the API).
    media_sessions: dict[str, Any] = field(default_factory=dict)
    # Calls whose media session ended here and whose record (transcript, end) is still being
    # stored, maybe waiting out a database outage: (call id, socket id). This process still
    # answers for them (the reconciler heartbeats them), so no node takes them for lost.
    media_ends_pending: set[tuple[str, str]] = field(default_factory=set)
    # Browser sessions running in this process: their media sessions by session id, and the tasks
    # carrying them from the offer's answer to the stored outcome (services.browser_sessions).
    browser_media: dict[str, Any] = field(default_factory=dict)
    browser_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # Carrier media sockets open in this process, from the handshake on, and set when that changes
    # (a balanced `callwright serve` worker publishes it at once).
    media_sockets: int = 0
    media_sockets_changed: asyncio.Event = field(default_factory=asyncio.Event)
    # Set while no carrier media socket is open in this process (what a drain waits for).
    no_media_sockets: asyncio.Event = field(default_factory=asyncio.Event)
    # Set on SIGTERM (services.drain): not ready, no new media sockets, no dialing.
    draining: bool = False
    # The calls whose media session ended here during the drain: it waits for their final status.
    calls_ended_while_draining: set[str] = field(default_factory=set)

    def calls_answered_for(self) -> set[str]:
        """The calls this process answers for: the media it carries, and the ends it is storing."""
        return set(self.media_sessions) | {call_id for call_id, _ in self.media_ends_pending}

    def answers_for(self, call_id: str) -> bool:
        return call_id in self.media_sessions or any(c == call_id for c, _ in self.media_ends_pending)

    def __post_init__(self) -> None:
        # Every session carries the wake-up, for the outbox's after-commit hook (services.webhook_outbox).
        self.sessions.configure(
            info={
                "webhook_wakeup": self.webhook_wakeup,
                "campaign_wakeup": self.campaign_wakeup,
                "extraction_wakeup": self.extraction_wakeup,
                "extraction_hold_secs": self.settings.extraction_hold_secs,
            }
        )
        self.workers = Workers(self)
        self.no_media_sockets.set()

    @cached_property
    def admission(self) -> CallAdmission:
        """Group commit of call starts under each partner's concurrency limit."""
        from callwright.services.call_admission import CallAdmission

        return CallAdmission(self.sessions, sqlite=self.sqlite_file)

    @cached_property
    def dnd_gate(self) -> DndGate:
        """Asks partners' DND check URLs before a dial, remembering answers a short while."""
        from callwright.domain.dnd import AnswerCache
        from callwright.services.dnd_checks import DndGate
        from callwright.services.webhook_targets import policy_for

        return DndGate(self.http, policy_for(self.settings), AnswerCache())

    @cached_property
    def sqlite_file(self) -> SqliteFile | None:
        """The store's SQLite file, for work that runs in one go on threads of its own; None on
        PostgreSQL or an in-memory SQLite."""
        return SqliteFile.of(self.engine)

    @cached_property
    def control(self) -> CallControl:
        """Reaches a call's media session in this process, or through Redis in another."""
        from callwright.services.call_control import CallControl

        return CallControl(self, self.settings.redis_url, namespace=self.settings.redis_namespace)

    @cached_property
    def rate_limiter(self) -> ApiRateLimiter:
        """Each API key's request budgets: in this process, or shared through Redis."""
        from callwright.services.rate_limits import ApiRateLimiter

        return ApiRateLimiter(self.settings.redis_url, namespace=self.settings.redis_namespace)

    @cached_property
    def vector_store(self) -> Any:
        """The knowledge base's vector search (``knowledge.vectors.VectorStore``)."""
        from callwright.knowledge.vectors import ScanStore

        return ScanStore()

    @cached_property
    def document_storage(self) -> Any:
        """Uploaded knowledge-base files (``services.documents.storage_for``)."""
        from callwright.services.documents import storage_for

        return storage_for(self.settings)

    @cached_property
    def document_upload_keys(self) -> list[bytes]:
        """Keys for signed document upload URLs, current first (see domain.document_uploads)."""
        from callwright.domain.document_uploads import KEY_PURPOSE

        return [derive_subkey(key, KEY_PURPOSE) for key in self.settings.master_keys()]

    @cached_property
    def recording_keys(self) -> list[bytes]:
        """Keys for signed recording URLs, current first (see domain.recording_urls)."""
        from callwright.domain.recording_urls import KEY_PURPOSE

        return [derive_subkey(key, KEY_PURPOSE) for key in self.settings.master_keys()]

    @cached_property
    def recordings(self) -> RecordingStorage:
        """Where finished call recordings are kept (built on first use)."""
        from callwright.recordings import storage_from_settings

        return storage_from_settings(self.settings)

    @classmethod
    def from_settings(cls, settings: Settings, *, http: httpx.AsyncClient | None = None) -> Platform:
        engine = create_engine(settings.resolved_database_url)
        platform = cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            secretbox=SecretBox(settings.master_keys()),
            endpoints=endpoints_from_settings(settings),
            token_keys=[derive_subkey(key, b"callwright call tokens v1") for key in settings.master_keys()],
        )
        if http is not None:
            platform.http = http
        return platform

    async def close(self) -> None:
        """Stop the background workers, then let go of the rate limiter, the store and the HTTP
        client. Browser sessions still up end first (their outcome is stored)."""
        from callwright.services.browser_sessions import end_all

        await end_all(self)
        await self.workers.stop()
        if "rate_limiter" in self.__dict__:
            await self.rate_limiter.close()
        sqlite_file = self.__dict__.get("sqlite_file")
        if sqlite_file is not None:
            sqlite_file.close()
        await self.http.aclose()
        await self.engine.dispose()
