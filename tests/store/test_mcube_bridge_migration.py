"""Migration 0009a_mcube: the executive-number claim on ``phone_numbers`` and an MCube call's leg
on ``calls``, added (empty) and removed cleanly on downgrade."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from callwright.store.db import create_engine
from callwright.store.migrate import alembic_config, upgrade
from tests.store.test_extraction_migration import empty_db  # noqa: F401 - the fixture

LEG = {"bridge_provider", "bridge_connection_id", "bridge_call_id"}


async def _columns(engine, table: str) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return {c["name"] for c in await conn.run_sync(lambda c: sa.inspect(c).get_columns(table))}


async def test_the_bridge_columns_come_and_go(empty_db: str) -> None:  # noqa: F811
    engine = create_engine(empty_db)
    try:
        await upgrade(engine, "0009a_webrtc")
        assert "reserved_call_id" not in await _columns(engine, "phone_numbers")
        await upgrade(engine)
        assert "reserved_call_id" in await _columns(engine, "phone_numbers")
        assert LEG <= await _columns(engine, "calls")

        def _downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection), "0009a_webrtc")

        async with engine.begin() as conn:
            await conn.run_sync(_downgrade)
        assert "reserved_call_id" not in await _columns(engine, "phone_numbers")
        assert not LEG & await _columns(engine, "calls")
    finally:
        await engine.dispose()
