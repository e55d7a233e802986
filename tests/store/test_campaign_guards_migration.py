"""Migration 0007c on both databases: campaigns that existed keep running without a circuit
breaker and with the connection's own caller ID; the DND check table appears; and it goes back
down cleanly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from callwright.store.db import create_engine
from callwright.store.migrate import alembic_config, upgrade
from callwright.store.models import utcnow
from tests.conftest import throwaway_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path / 'migrate.db'}"
        else:
            yield await stack.enter_async_context(throwaway_postgres_database())


def _json(value):  # type: ignore[no-untyped-def]
    return json.loads(value) if isinstance(value, str) else value


async def test_existing_campaigns_get_no_breaker_and_no_caller_ids(empty_db: str) -> None:
    engine = create_engine(empty_db)
    try:
        await upgrade(engine, "0006b")
        now = utcnow()
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO partners (id, name, display_name, status, allowed_providers, concurrency_limit, "
                    "agent_limit, requests_per_minute, calls_per_minute, credit_balance_paise, created_at, updated_at) "
                    "VALUES ('p1', 'p1', 'P1', 'active', '[]', 5, 5, 0, 0, 0, :now, :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO campaigns (id, partner_id, name, agent_id, provider, concurrency_limit, status, "
                    "schedule, retry, created_at, updated_at) "
                    "VALUES ('c1', 'p1', 'Old', 'a1', 'vobiz', 1, 'running', '{}', '{}', :now, :now)"
                ),
                {"now": now},
            )
        await upgrade(engine)
        async with engine.connect() as conn:
            row = (await conn.execute(sa.text("SELECT circuit_breaker, caller_ids FROM campaigns"))).one()
            assert _json(row.circuit_breaker) is None and _json(row.caller_ids) == []
            assert await conn.scalar(sa.text("SELECT count(*) FROM dnd_checks")) == 0

        def _down(connection: Connection) -> None:
            command.downgrade(alembic_config(connection), "0006b")

        async with engine.begin() as conn:
            await conn.run_sync(_down)
        async with engine.connect() as conn:
            columns = await conn.run_sync(lambda c: [col["name"] for col in sa.inspect(c).get_columns("campaigns")])
            tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert "circuit_breaker" not in columns and "caller_ids" not in columns and "dnd_checks" not in tables
        await upgrade(engine)  # and up again
    finally:
        await engine.dispose()
