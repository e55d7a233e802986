"""Migration 0009a_audiodict (after 0009k_kb): background-audio uploads, dictionaries and their agent
links; the tables match the models; it downgrades cleanly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from callwright.store.db import create_engine
from callwright.store.migrate import alembic_config, upgrade
from callwright.store.models import Base
from tests.conftest import throwaway_postgres_database

NEW = {"background_audio", "dictionaries", "agent_dictionaries"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path / 'migrate.db'}"
        else:
            yield await stack.enter_async_context(throwaway_postgres_database())


async def test_the_tables_come_and_go_and_match_the_models(empty_db: str) -> None:
    engine = create_engine(empty_db)
    try:
        await upgrade(engine, "0009k_kb")
        async with engine.connect() as conn:
            assert not NEW & set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        await upgrade(engine, "0009a_audiodict")

        def _differences(connection: Connection) -> list[object]:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            return [d for d in diff if any(name in str(d) for name in NEW)]

        async with engine.connect() as conn:
            assert NEW <= set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            assert await conn.run_sync(_differences) == []

        def _downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection), "0009k_kb")

        async with engine.begin() as conn:
            await conn.run_sync(_downgrade)
        async with engine.connect() as conn:
            assert not NEW & set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()
