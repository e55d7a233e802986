"""What every CLI command shares: settings, the store, and one-line errors instead of tracebacks."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callwright.domain.errors import CallwrightError
from callwright.settings import Settings
from callwright.store.db import create_engine, session_factory, sqlite_file
from callwright.store.secretbox import SecretBoxError

T = TypeVar("T")


class SchemaMissing(CallwrightError):
    code = "schema_missing"


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def note(message: str) -> None:
    """A line for the human at the terminal, on stderr, so stdout stays machine-readable."""
    typer.echo(message, err=True)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            str(e["msg"]).removeprefix("Value error, ") for e in exc.errors(include_url=False)
        )
        fail(f"invalid settings: {problems}")


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def run(coro: Coroutine[Any, Any, T], *, settings: Settings) -> T:
    """Run a command's coroutine; operator mistakes and an unreachable store become one line."""
    try:
        return asyncio.run(coro)
    except CallwrightError as exc:
        fail(exc.message)
    except SecretBoxError as exc:
        fail(f"a stored secret could not be opened: {exc}")
    except OSError as exc:
        if exc.filename is not None:  # a local file (e.g. a key file under var/), not the store
            fail(f"{exc.strerror or exc}: {exc.filename}")
        _database_unusable(exc, settings)
    except DBAPIError as exc:
        _database_unusable(exc, settings)


def _database_unusable(exc: Exception, settings: Settings) -> NoReturn:
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    fail(f"cannot use the database at {safe_url(settings.resolved_database_url)}: {reason}")


async def check_schema(engine: AsyncEngine) -> None:
    from callwright.store.migrate import current_revision

    current = await current_revision(engine)
    head = head_revision()
    if current is None:
        raise SchemaMissing(
            "the database has no Callwright schema yet; run `callwright db upgrade` first"
        )
    if current != head:
        raise SchemaMissing(
            f"the database schema is at revision {current}, this version needs {head}; "
            "run `callwright db upgrade` first"
        )


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    from callwright.store.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# The default store is ./var/callwright.db, relative to the directory a command runs in.
_STORE_HINT = (
    "The store is found under ./var of the directory you run in: run from the directory where "
    "`make run` keeps var/, or set CALLWRIGHT_VAR_DIR (or CALLWRIGHT_DATABASE_URL)"
)


@asynccontextmanager
async def open_store(
    settings: Settings, *, require_schema: bool = True
) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    """The engine and session factory; with ``require_schema``, refuse an unmigrated database."""
    url = settings.resolved_database_url
    database = sqlite_file(url)
    if database is not None and not Path(database).exists():
        where = Path(database).resolve()
        if require_schema:
            # Checked before connecting, which would leave an empty database file behind.
            raise SchemaMissing(
                f"there is no database at {where}. {_STORE_HINT}; or run `callwright db upgrade` "
                "to start a new, empty one there"
            )
        note(f"no database at {where}: creating a new, empty one ({_STORE_HINT})")
    engine = create_engine(url)
    try:
        if require_schema:
            await check_schema(engine)
        yield engine, session_factory(engine)
    finally:
        await engine.dispose()


def print_table(table: Table) -> None:
    """A table at the terminal's width; piped, at its natural width rather than rich's 80 columns."""
    table.box = box.SIMPLE_HEAD
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
