"""The process-wide objects every request shares: settings, store, secret box, carrier HTTP client."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callwright.carriers import CarrierEndpoints, endpoints_from_settings
from callwright.settings import Settings
from callwright.store.db import create_engine, session_factory
from callwright.store.secretbox import SecretBox, derive_subkey

if TYPE_CHECKING:
    from callwright.services.dialer import Dialer


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    secretbox: SecretBox
    endpoints: CarrierEndpoints
    # Keys for per-call callback/media tokens, current first (see domain.call_tokens).
    token_keys: list[bytes] = field(default_factory=list)
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(follow_redirects=False))
    # Set when a call is queued, so the in-process dialer wakes at once instead of polling.
    dial_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    dialer: Dialer | None = None
    # Media sessions running in this process, by call id (for ending a call from the API).
    media_sessions: dict[str, Any] = field(default_factory=dict)

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
        if self.dialer is not None:
            await self.dialer.stop()
        await self.http.aclose()
        await self.engine.dispose()
