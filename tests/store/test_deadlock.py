"""``is_deadlock`` against a deadlock PostgreSQL really breaks: two transactions locking two rows
in opposite orders; the one PostgreSQL aborts is told apart from other database errors."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from callwright.store.db import create_engine, is_deadlock
from tests.conftest import throwaway_postgres_database

pytestmark = pytest.mark.postgres


async def test_a_deadlock_postgres_breaks_is_recognised_and_other_errors_are_not() -> None:
    async with throwaway_postgres_database() as url:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text("CREATE TABLE t (id int PRIMARY KEY, v int)"))
                await conn.execute(sa.text("INSERT INTO t VALUES (1, 0), (2, 0)"))
            both_hold_one = asyncio.Barrier(2)

            async def lock(first: int, second: int) -> None:
                async with engine.begin() as conn:
                    await conn.execute(sa.text("UPDATE t SET v = v + 1 WHERE id = :id"), {"id": first})
                    await both_hold_one.wait()
                    await conn.execute(sa.text("UPDATE t SET v = v + 1 WHERE id = :id"), {"id": second})

            results = await asyncio.gather(lock(1, 2), lock(2, 1), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            assert len(failures) == 1  # PostgreSQL aborted one of the two, the other went on
            assert isinstance(failures[0], DBAPIError) and is_deadlock(failures[0])

            async with engine.begin() as conn:
                with pytest.raises(DBAPIError) as other:
                    await conn.execute(sa.text("INSERT INTO t VALUES (1, 0)"))  # a unique violation
            assert not is_deadlock(other.value)
        finally:
            await engine.dispose()
