"""Migration 0008c: post-call extraction's block and job columns on ``calls``, added to a store
that already has calls (kept, with no block and no job), and removed cleanly on downgrade."""

from __future__ import annotations

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


async def _call_columns(engine) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return {c["name"] for c in await conn.run_sync(lambda c: sa.inspect(c).get_columns("calls"))}


async def _call_indexes(engine) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return {i["name"] for i in await conn.run_sync(lambda c: sa.inspect(c).get_indexes("calls"))}


async def test_extraction_columns_on_a_store_with_calls(empty_db: str) -> None:
    engine = create_engine(empty_db)
    now = utcnow()
    try:
        await upgrade(engine, "0008a")
        assert not {"extraction", "extraction_due_at"} & await _call_columns(engine)
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO partners (id, name, display_name, status, allowed_providers, concurrency_limit, "
                    "agent_limit, requests_per_minute, calls_per_minute, credit_balance_paise, created_at, updated_at) "
                    "VALUES ('p1', 'p-one', 'P1', 'active', '[]', 5, 5, 60, 10, 0, :now, :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO calls (id, session_id, partner_id, agent_id, agent, provider, direction, from_number, "
                    "to_number, variables, status, provider_call_id_final, answered_by_carrier, "
                    "machine_detection_requested, dial_state, dial_attempts, dial_not_before, transcript, "
                    "created_at, updated_at) VALUES ('c1', 's1', 'p1', 'a1', '{}', 'vobiz', 'outbound', '+1', '+2', "
                    "'{}', 'completed', :no, :no, :no, 'dialed', 1, :now, '[]', :now, :now)"
                ),
                {"now": now, "no": False},
            )

        await upgrade(engine)
        assert {"extraction", "extraction_due_at"} <= await _call_columns(engine)
        assert "ix_calls_extraction_due" in await _call_indexes(engine)
        async with engine.begin() as conn:
            row = (await conn.execute(sa.text("SELECT id, extraction, extraction_due_at FROM calls"))).one()
            assert tuple(row) == ("c1", None, None)
            await conn.execute(
                sa.text("UPDATE calls SET extraction = :block, extraction_due_at = :now WHERE id = 'c1'"),
                {"block": '{"status": "pending"}', "now": now},
            )

        def _downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection), "0008a")

        async with engine.begin() as conn:
            await conn.run_sync(_downgrade)
        assert not {"extraction", "extraction_due_at"} & await _call_columns(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT id FROM calls"))).scalars().all() == ["c1"]
    finally:
        await engine.dispose()
