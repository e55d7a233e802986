"""Migration 0007d (after 0007c): the functions table and the agent↔function links, on a store that already
has partners and agents; links go with their agent or their function; it downgrades cleanly."""

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


async def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_functions_and_links_on_an_existing_store(empty_db: str) -> None:
    engine = create_engine(empty_db)
    now = utcnow()
    try:
        await upgrade(engine, "0007c")
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO partners (id, name, display_name, status, allowed_providers, concurrency_limit, "
                    "agent_limit, requests_per_minute, calls_per_minute, credit_balance_paise, created_at, updated_at) "
                    "VALUES ('p1', 'p-one', 'P1', 'active', '[]', 5, 5, 60, 10, 0, :now, :now)"
                ),
                {"now": now},
            )
            project = await conn.scalar(sa.text("SELECT id FROM projects WHERE partner_id = 'p1'"))
            if project is None:
                project = "pr1"
                await conn.execute(
                    sa.text(
                        "INSERT INTO projects (id, partner_id, name, is_default, created_at, updated_at) "
                        "VALUES ('pr1', 'p1', 'Default', :yes, :now, :now)"
                    ),
                    {"yes": True, "now": now},
                )
            for agent in ("a1", "a2"):
                await conn.execute(
                    sa.text(
                        "INSERT INTO agents (id, partner_id, project_id, agent_name, status, settings, created_at, "
                        "updated_at) VALUES (:id, 'p1', :project, :id, 'active', '{}', :now, :now)"
                    ),
                    {"id": agent, "project": project, "now": now},
                )
        await upgrade(engine)
        assert {"functions", "agent_functions"} <= await _tables(engine)
        async with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                await conn.execute(sa.text("PRAGMA foreign_keys=ON"))
            for function in ("f1", "f2"):
                await conn.execute(
                    sa.text(
                        "INSERT INTO functions (id, partner_id, name, description, url, header_keys, sealed_headers, "
                        "input_schema, output_schema, timeout_secs, started_messages, created_at, updated_at) "
                        "VALUES (:id, 'p1', :id, 'd', 'https://example.com/f', '[]', 'x', '[]', '[]', 10, '[]', "
                        ":now, :now)"
                    ),
                    {"id": function, "now": now},
                )
            await conn.execute(
                sa.text("INSERT INTO agent_functions (agent_id, function_id) VALUES ('a1','f1'), ('a1','f2'), ('a2','f1')")
            )
            with pytest.raises(sa.exc.IntegrityError):
                async with conn.begin_nested():
                    await conn.execute(
                        sa.text(
                            "INSERT INTO functions (id, partner_id, name, description, url, header_keys, "
                            "sealed_headers, input_schema, output_schema, timeout_secs, started_messages, created_at, "
                            "updated_at) VALUES ('f3', 'p1', 'f1', 'd', 'u', '[]', 'x', '[]', '[]', 10, '[]', :now, :now)"
                        ),
                        {"now": now},
                    )
            await conn.execute(sa.text("DELETE FROM functions WHERE id = 'f2'"))
            await conn.execute(sa.text("DELETE FROM agents WHERE id = 'a2'"))
            links = (await conn.execute(sa.text("SELECT agent_id, function_id FROM agent_functions"))).all()
            assert [tuple(r) for r in links] == [("a1", "f1")]

        def _downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection), "0007c")

        async with engine.begin() as conn:
            await conn.run_sync(_downgrade)
        assert not {"functions", "agent_functions"} & await _tables(engine)
    finally:
        await engine.dispose()
