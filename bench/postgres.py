"""A throw-away PostgreSQL database for the run, on the server at $CALLWRIGHT_BENCH_POSTGRES_URL
(default: the local server, as the tests use it)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

SERVER_URL = os.environ.get(
    "CALLWRIGHT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASE = "callwright_bench"


@asynccontextmanager
async def scratch_database(name: str = DATABASE) -> AsyncIterator[str | None]:
    """The URL of a fresh, empty database (dropped afterwards); None: the server is unreachable."""
    try:
        admin = await asyncpg.connect(SERVER_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        yield None
        return
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
        base = SERVER_URL.rsplit("/", 1)[0]
        # Loopback: no TLS, as a server beside its database would be set up.
        yield f"{base}/{name}?ssl=disable"
    finally:
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()
