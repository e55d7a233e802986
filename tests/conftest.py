"""Shared fixtures. Store and API tests run on SQLite and, when reachable, on PostgreSQL.

PostgreSQL comes from ``CALLWRIGHT_TEST_POSTGRES_URL`` (default: the local server's ``test``
database). Each test session creates its own throw-away database there and drops it at the end.
When PostgreSQL is unreachable its tests are skipped, unless ``CALLWRIGHT_TEST_REQUIRE_POSTGRES=1``
(as in CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from callwright.api.app import create_app
from callwright.platform import Platform
from callwright.services import partners
from callwright.settings import Settings
from callwright.store.db import create_engine
from callwright.store.migrate import upgrade
from callwright.store.models import Base

pytest_plugins = ["tests.sim_fixture"]

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
TEST_SECRET_KEY = "test-master-key-" + "k" * 32
TEST_ADMIN_TOKEN = "test-admin-token-" + "a" * 32
ALL = ["twilio", "plivo", "vobiz", "exotel", "mcube"]


def _require_postgres() -> bool:
    return os.environ.get("CALLWRIGHT_TEST_REQUIRE_POSTGRES") == "1"


@asynccontextmanager
async def throwaway_postgres_database() -> AsyncIterator[str]:
    base = make_url(os.environ.get("CALLWRIGHT_TEST_POSTGRES_URL", DEFAULT_PG_URL))
    name = f"cw_test_{os.getpid()}_{secrets.token_hex(4)}"
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL not reachable at {base.host}:{base.port}: {exc.__class__.__name__}"
        if _require_postgres():
            pytest.fail(message + " (CALLWRIGHT_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def migrated_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database URL with the schema migrated to head, one per backend per test session."""
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'callwright.db'}"
        else:
            url = await stack.enter_async_context(throwaway_postgres_database())
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url


@pytest.fixture
def settings(migrated_db: str, tmp_path: Path) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        database_url=migrated_db,
        secret_key=TEST_SECRET_KEY,
        admin_token=TEST_ADMIN_TOKEN,
        public_url="http://127.0.0.1:8080",
        # The product's default: a simulator slowed by a busy machine still answers in time.
        carrier_timeout_secs=10.0,
    )


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.from_settings(settings)
    await _empty_tables(platform)
    try:
        yield platform
    finally:
        await platform.close()


async def _empty_tables(platform: Platform) -> None:
    async with platform.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(delete(table))


# One app per xdist worker and settings, reused by every test whose settings match (bar the
# test's own var_dir). FastAPI builds each route's handler and dependants per app, on the first
# request that reaches its router: about 250 routes, 0.6-1.5 s a test on a 2-core box, which was
# a third of the suite's time. A reused app serves the test's own platform, and its failed-login
# throttle starts empty.
_APPS: dict[str, FastAPI] = {}


async def app_for(platform: Platform) -> FastAPI:
    key = platform.settings.model_dump_json(exclude={"var_dir"})
    app = _APPS.get(key)
    if app is None:
        app = _APPS[key] = create_app(platform=platform)
    else:
        app.state.platform = platform
        await app.state.auth_throttle.reset()
    return app


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    app = await app_for(platform)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://callwright.test") as c:
        yield c


@dataclass
class PartnerHandle:
    id: str
    name: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def make_partner(
    platform: Platform,
    name: str = "acme-corp",
    providers: list[str] | None = None,
    *,
    concurrency_limit: int = 10,
    agent_limit: int = 50,
    requests_per_minute: int = 0,
    calls_per_minute: int = 0,
) -> PartnerHandle:
    """A partner with one live key. Its per-key request limits are off (0) unless a test is
    about them: many tests make more than the documented 60 (or 10 call) requests a minute."""
    from callwright.domain.partners import parse_provider_list

    async with platform.sessions() as session:
        partner, key = await partners.create_partner(
            session=session,
            name=name,
            display_name=name.replace("-", " ").title(),
            providers=parse_provider_list(ALL if providers is None else providers),
            concurrency_limit=concurrency_limit,
            agent_limit=agent_limit,
            requests_per_minute=requests_per_minute,
            calls_per_minute=calls_per_minute,
        )
        return PartnerHandle(partner.id, partner.name, key.api_key)


@pytest.fixture
async def partner(platform: Platform) -> PartnerHandle:
    return await make_partner(platform, "acme-corp")


@pytest.fixture
async def other_partner(platform: Platform) -> PartnerHandle:
    return await make_partner(platform, "globex")


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


def error_of(response: httpx.Response) -> dict:
    """The error body of an envelope, after checking the envelope's shape."""
    body = response.json()
    assert body["success"] is False, body
    assert set(body["error"]) >= {"code", "message"}, body
    return body["error"]


@pytest.fixture(scope="session")
def anyio_backend() -> Iterator[str]:
    yield "asyncio"


# --- CI guard: with CALLWRIGHT_TEST_REQUIRE_POSTGRES=1, a run in which no PostgreSQL test passed
# fails, so a silently skipped PostgreSQL leg can never pass CI. Runs on the xdist controller too.
_postgres_passed = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _postgres_passed
    # The cluster tests (tests/cluster) run on a PostgreSQL of their own.
    on_postgres = "[postgres" in report.nodeid or "cluster" in report.keywords
    if report.when == "call" and report.passed and on_postgres:
        _postgres_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller decides
        return
    if _require_postgres() and _postgres_passed == 0 and exitstatus == 0:
        session.config.get_terminal_writer().line(
            "FAILED: CALLWRIGHT_TEST_REQUIRE_POSTGRES=1 but no PostgreSQL test passed", red=True
        )
        session.exitstatus = 1
