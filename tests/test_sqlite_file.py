"""``store.db.SqliteFile``: work on a SQLite file store run in one go on threads of its own.
Writers of every process on the file take turns at the file lock; readers never wait for a writer."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session

from callwright.store.db import SqliteFile, create_engine


async def _file_store(path: Path) -> list[SqliteFile]:
    engine = create_engine(f"sqlite:///{path}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (body TEXT)"))
    files = [SqliteFile.of(engine), SqliteFile.of(engine)]  # as two processes would have
    await engine.dispose()
    assert files[0] is not None and files[1] is not None
    return files  # type: ignore[return-value]


def test_only_a_sqlite_file_has_one() -> None:
    assert SqliteFile.of(create_async_engine("sqlite+aiosqlite:///:memory:")) is None
    assert SqliteFile.of(create_engine("postgresql://nobody@127.0.0.1:9/none")) is None


async def test_writers_take_turns_and_readers_do_not_wait_for_them(tmp_path: Path) -> None:
    first, second = await _file_store(tmp_path / "store.db")
    inside = threading.Event()
    release = threading.Event()  # the first writer holds its transaction open until this is set
    spans: dict[str, tuple[float, float]] = {}

    def held_write(session: Session, name: str) -> None:
        began = time.monotonic()
        session.execute(text("INSERT INTO notes VALUES (:body)"), {"body": name})
        inside.set()
        release.wait(60)
        session.commit()
        spans[name] = (began, time.monotonic())

    def count(session: Session) -> int:
        return session.scalar(text("SELECT count(*) FROM notes"))

    try:
        writing = asyncio.create_task(first.write(held_write, "first"))
        await asyncio.to_thread(inside.wait, 60)
        second_writing = asyncio.create_task(second.write(held_write, "second"))
        # The read returns while the first writer still holds its transaction (a read that
        # waited for the commit would wait here until the guard gave up).
        assert await asyncio.wait_for(second.read(count), 30) == 0  # the uncommitted row is not seen
        assert "first" not in spans
        release.set()
        await asyncio.gather(writing, second_writing)
        assert await first.read(count) == 2
    finally:
        release.set()
        first.close()
        second.close()
    # The second writer began only once the first had committed: it waited at the file lock.
    assert spans["second"][0] >= spans["first"][1]


async def test_what_the_work_raises_reaches_the_caller(tmp_path: Path) -> None:
    first, second = await _file_store(tmp_path / "store.db")

    def fails(session: Session) -> None:
        session.execute(text("INSERT INTO notes VALUES ('lost')"))
        raise LookupError("no such thing")

    try:
        for run in (first.write, first.read):
            try:
                await run(fails)
            except LookupError as exc:
                assert str(exc) == "no such thing"
            else:
                raise AssertionError("the error was swallowed")
        # Nothing of the failed work was kept, and the lock was given back.
        assert await asyncio.wait_for(second.write(lambda s: s.scalar(text("SELECT count(*) FROM notes"))), 60) == 0
    finally:
        first.close()
        second.close()
