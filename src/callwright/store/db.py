"""The async engine and session factory, for SQLite (default, embedded) and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def async_url(url: str) -> str:
    """Map plain ``sqlite:``/``postgresql:`` URLs to their async drivers (aiosqlite, asyncpg)."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    _ping_idle_connections(engine)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL's own recommendation: no fsync per commit, only at checkpoints. A commit survives
    # a crash of the process, not of the machine (the last ones may roll back). With
    # FULL, the fsync per commit capped POST /calls/start near 70 req/s (bench/).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def sqlite_file_engine(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on ``engine``'s SQLite file, with the same pragmas; None unless
    ``engine`` is SQLite on a file (an in-memory database exists only on its own connection).

    For a transaction that must run in one go on a thread of its own: through aiosqlite each
    statement is a round trip to the event loop, and a busy loop stretched a four-statement write
    transaction, and so SQLite's one write lock, to several milliseconds."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    sync = create_sync_engine(
        url.set(drivername="sqlite+pysqlite"),
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=1,
        max_overflow=0,
    )
    event.listen(sync, "connect", _sqlite_pragmas)
    return sync


# Enough that a busy process rarely opens an overflow connection: one beyond the pool is closed
# again when it is returned, and opening one costs several round trips (and TLS, if used).
POOL_SIZE = 20
POOL_OVERFLOW = 20
# A connection idle longer than this is pinged before use, so one the server dropped (a restart,
# a failover, an idle timeout) is replaced instead of failing the request. SQLAlchemy's
# pool_pre_ping pings on every checkout, three round trips with asyncpg (begin, select, rollback):
# a tenth of the CPU of POST /calls/start under load.
IDLE_PING_SECS = 5.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < IDLE_PING_SECS:
            return  # new, or recently known good
        try:
            dbapi_conn.ping()
        except Exception as exc:
            # The pool discards this connection and hands out a new one.
            raise DisconnectionError(f"stale connection: {type(exc).__name__}") from exc


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with factory() as session:
        yield session
