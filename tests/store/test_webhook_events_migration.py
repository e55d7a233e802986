"""Migration 0005b: endpoints that existed received every event and keep receiving them all;
an endpoint added afterwards (even by plain SQL) receives session.completed alone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa

from callwright.store.db import create_engine
from callwright.store.migrate import upgrade
from callwright.store.models import utcnow
from tests.conftest import throwaway_postgres_database

_partners = sa.table(
    "partners", *(sa.column(c) for c in ("id", "name", "display_name", "status", "concurrency_limit", "agent_limit")),
    sa.column("allowed_providers", sa.JSON()), sa.column("created_at"), sa.column("updated_at"),
)
_endpoints = sa.table(
    "webhook_endpoints", *(sa.column(c) for c in ("id", "partner_id", "label", "url", "sealed_secret", "enabled")),
    sa.column("created_at"), sa.column("updated_at"),
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path / 'migrate.db'}"
        else:
            yield await stack.enter_async_context(throwaway_postgres_database())


async def _add_endpoint(conn, endpoint_id: str) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    await conn.execute(
        _endpoints.insert().values(
            id=endpoint_id, partner_id="p1", label=endpoint_id, url="https://example.com/h",
            sealed_secret="x", enabled=True, created_at=now, updated_at=now,
        )
    )


async def _events(conn, endpoint_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    value = await conn.scalar(sa.text("SELECT events FROM webhook_endpoints WHERE id = :id"), {"id": endpoint_id})
    return json.loads(value) if isinstance(value, str) else value


async def test_existing_endpoints_keep_every_event_and_new_ones_get_the_default(empty_db: str) -> None:
    engine = create_engine(empty_db)
    try:
        await upgrade(engine, "0004")
        now = utcnow()
        async with engine.begin() as conn:
            await conn.execute(
                _partners.insert().values(
                    id="p1", name="acme", display_name="Acme", status="active", concurrency_limit=5,
                    agent_limit=5, allowed_providers=[], created_at=now, updated_at=now,
                )
            )
            await _add_endpoint(conn, "before")
        await upgrade(engine, "0005b")
        async with engine.begin() as conn:
            await _add_endpoint(conn, "after")
            assert await _events(conn, "before") == ["call.ringing", "call.answered", "call.ended", "session.completed"]
            assert await _events(conn, "after") == ["session.completed"]
    finally:
        await engine.dispose()
