"""Migration 0008a: every existing connection becomes its carrier's default, named after the
carrier, ACTIVE, same id (calls keep pointing at it); phone numbers get their table; it
downgrades cleanly, keeping the defaults."""

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


async def test_existing_connections_become_named_defaults(empty_db: str) -> None:
    engine = create_engine(empty_db)
    now = utcnow()
    try:
        await upgrade(engine, "0007d")
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO partners (id, name, display_name, status, allowed_providers, concurrency_limit, "
                    "agent_limit, requests_per_minute, calls_per_minute, credit_balance_paise, created_at, updated_at) "
                    "VALUES ('p1', 'p-one', 'P1', 'active', '[]', 5, 5, 60, 10, 0, :now, :now)"
                ),
                {"now": now},
            )
            for connection, provider in (("c1", "vobiz"), ("c2", "twilio")):
                await conn.execute(
                    sa.text(
                        "INSERT INTO telephony_connections (id, partner_id, provider, name, identifiers, "
                        "sealed_secrets, verified, carrier_voicemail_detection, cps, created_at, updated_at) "
                        "VALUES (:id, 'p1', :provider, 'default', '{\"from_number\": \"+918011223344\"}', 'sealed', "
                        ":yes, :no, 2.5, :now, :now)"
                    ),
                    {"id": connection, "provider": provider, "yes": True, "no": False, "now": now},
                )
        await upgrade(engine)
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.text(
                        "SELECT id, name, is_default, status, sealed_secrets, cps, identifiers "
                        "FROM telephony_connections ORDER BY id"
                    )
                )
            ).all()
            assert [(r[0], r[1], bool(r[2]), r[3], r[4], r[5]) for r in rows] == [
                ("c1", "Vobiz", True, "ACTIVE", "sealed", 2.5),
                ("c2", "Twilio", True, "ACTIVE", "sealed", 2.5),
            ]
            await conn.execute(
                sa.text(
                    "INSERT INTO telephony_connections (id, partner_id, provider, name, identifiers, sealed_secrets, "
                    "verified, carrier_voicemail_detection, is_default, status, created_at, updated_at) "
                    "VALUES ('c3', 'p1', 'vobiz', 'Second', '{}', 'x', :yes, :no, :no, 'ACTIVE', :now, :now)"
                ),
                {"yes": True, "no": False, "now": now},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO phone_numbers (id, partner_id, connection_id, phone_number, status, source, "
                    "created_at, updated_at) VALUES ('n1', 'p1', 'c1', '+918011223344', 'ACTIVE', 'carrier', "
                    ":now, :now)"
                ),
                {"now": now},
            )

        def _downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection), "0007d")

        async with engine.begin() as conn:
            await conn.run_sync(_downgrade)
        async with engine.begin() as conn:
            names = (
                await conn.execute(sa.text("SELECT id, name FROM telephony_connections ORDER BY id"))
            ).all()
            assert [tuple(r) for r in names] == [("c1", "default"), ("c2", "default")]
            tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            assert "phone_numbers" not in tables
    finally:
        await engine.dispose()
