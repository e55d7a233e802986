"""The async engine and session factory, for SQLite (default, embedded) and PostgreSQL."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import IO, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import URL, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("callwright.store")


def async_url(url: str) -> str:
    """Map plain ``sqlite:``/``postgresql:`` URLs to their async drivers (aiosqlite, asyncpg)."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str | URL) -> str | None:
    """The database file's path when ``url`` is SQLite on a file; None otherwise (another store,
    or an in-memory database, which exists only on its own connection)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def create_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    if is_sqlite(url):
        if (database := sqlite_file(url)) is not None:
            create_private_file(Path(database))
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    _ping_idle_connections(engine)
    return engine


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (its missing directories 0700) unless it exists.

    SQLite creates a new database file with mode 0644 less the umask, and its -wal and -shm files
    with the database file's mode: created here first, all three are the owner's alone. An existing
    file keeps the mode its operator gave it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL's own recommendation: no fsync per commit, only at checkpoints. A commit survives
    # a crash of the process, not of the machine (the last ones may roll back). With
    # FULL, the fsync per commit capped POST /calls/start near 70 req/s (bench/).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class SqliteFile:
    """Work on a SQLite file store that runs in one go, on threads of its own, each with its own
    synchronous connection: ``fn(session, *args)`` with a plain Session, awaited from the loop.

    Through aiosqlite each statement is three or four round trips between its thread and the event
    loop, and on a busy loop each return waits its turn. Admitting a batch of call starts (four
    statements and a commit) held SQLite's one write lock for 6 ms at the median, 10 at p90, while
    the other workers' batches waited; the two reads of a ``calls/start`` took 4-12 ms. Here the
    statements run back to back, and the loop hears once, when ``fn`` returns.

    ``fn`` runs on another thread: it must not touch the event loop or anything only the loop may
    touch (futures, asyncio events), and what it returns is detached from its session."""

    READERS = 4

    def __init__(self, url: URL, path: str) -> None:
        self.engine = create_sync_engine(
            url.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=self.READERS + 1,
            max_overflow=0,
        )
        event.listen(self.engine, "connect", _sqlite_pragmas)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="callwright-sqlite-write")
        self._readers = ThreadPoolExecutor(self.READERS, thread_name_prefix="callwright-sqlite-read")
        self._lock_path = path + "-write.lock"
        self._lock_file: IO[bytes] | None = None

    @classmethod
    def of(cls, engine: AsyncEngine) -> SqliteFile | None:
        """None unless ``engine`` is SQLite on a file (see ``sqlite_file``)."""
        path = sqlite_file(engine.url)
        return None if path is None else cls(engine.url, path)

    async def read(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(session, *args)`` on one of the reading threads (WAL: readers never wait for the
        writer)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._readers, partial(self._run, fn, *args, **kwargs)
        )

    async def write(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(session, *args)`` on the writing thread, once this process holds the file lock.

        Several processes on one file take turns at a blocking ``flock`` on a file beside it, not
        at SQLite's own wait for its write lock, which sleeps in growing steps (1, 2, 5, 10 … 100
        ms): the next one starts the moment the last one lets go."""
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, partial(self._run_locked, fn, *args, **kwargs)
        )

    def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with Session(self.engine, expire_on_commit=False) as session:
            return fn(session, *args, **kwargs)

    def _run_locked(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._lock_file is None:
            self._lock_file = os.fdopen(os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600), "a+b")
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
        try:
            return self._run(fn, *args, **kwargs)
        finally:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.engine.dispose()
        if self._lock_file is not None:
            self._lock_file.close()


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
    def _returned(_dbapi_conn, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:
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


# PostgreSQL's SQLSTATE for a transaction it aborted to break a deadlock.
DEADLOCK_SQLSTATE = "40P01"


def is_deadlock(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL aborting this transaction to break a deadlock: the other
    transaction went on, and running this one again is safe and expected."""
    orig = getattr(exc, "orig", None)
    codes = {getattr(orig, "sqlstate", None), getattr(orig, "pgcode", None)}
    cause = getattr(orig, "__cause__", None)
    codes.add(getattr(cause, "sqlstate", None))
    return DEADLOCK_SQLSTATE in codes


def store_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the store could not be reached: the database
    down, restarting or cut off. Such a request is answered 503 with ``Retry-After``, not 500: the
    request was not wrong, and nothing of it was stored (its transaction never committed)."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | InterfaceError | PoolTimeout):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(
            current,
            asyncpg.PostgresConnectionError
            | asyncpg.CannotConnectNowError
            | asyncpg.InterfaceError
            | ConnectionRefusedError
            | ConnectionResetError,
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


# The writes a call cannot do without (its outcome when its media ends, the release of its
# stream) are tried again while the store cannot be reached: a database restarting or failing
# over for a few seconds must not lose a call's transcript and end. Backoff from 0.2 s doubling to
# 2 s, for up to 30 s in all; then the error goes up as before (the reconciler settles the call).
STORE_RETRY_SECS = 30.0
STORE_RETRY_FIRST_DELAY_SECS = 0.2
STORE_RETRY_MAX_DELAY_SECS = 2.0


async def retry_while_unreachable(
    write: Callable[[], Awaitable[T]],
    *,
    what: str,
    within_secs: float = STORE_RETRY_SECS,
    first_delay_secs: float = STORE_RETRY_FIRST_DELAY_SECS,
) -> T:
    """``write()`` (one whole transaction, opened by ``write`` itself), tried again with backoff
    while it fails because the store cannot be reached, for up to ``within_secs``. Any other
    error, and the last one, goes up. With the store up this is one call: nothing is added."""
    deadline = time.monotonic() + within_secs
    delay = first_delay_secs
    attempt = 1
    while True:
        try:
            return await write()
        except Exception as exc:
            if not store_unreachable(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning(
                "%s: the database cannot be reached (%s); try %d in %.1f s",
                what, type(exc).__name__, attempt + 1, delay,
            )  # fmt: skip
        await asyncio.sleep(delay)
        delay = min(delay * 2, STORE_RETRY_MAX_DELAY_SECS)
        attempt += 1
