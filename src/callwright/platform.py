"""The process-wide objects every request shares: settings, store, secret box, carrier HTTP client."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callwright.carriers import CarrierEndpoints, endpoints_from_settings
from callwright.settings import Settings
from callwright.store.db import create_engine, session_factory
from callwright.store.secretbox import SecretBox


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    secretbox: SecretBox
    endpoints: CarrierEndpoints
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(follow_redirects=False))

    @classmethod
    def from_settings(cls, settings: Settings, *, http: httpx.AsyncClient | None = None) -> Platform:
        engine = create_engine(settings.resolved_database_url)
        platform = cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            secretbox=SecretBox(settings.master_keys()),
            endpoints=endpoints_from_settings(settings),
        )
        if http is not None:
            platform.http = http
        return platform

    async def close(self) -> None:
        await self.http.aclose()
        await self.engine.dispose()
