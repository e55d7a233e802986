"""End-to-end fixtures: the real platform served over HTTP (uvicorn, with its dialer) and the
carrier simulator playing each carrier, talking to each other over real HTTP and WebSockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from callwright.api.app import create_app
from callwright.settings import Settings
from tests.conftest import (
    TEST_ADMIN_TOKEN,
    TEST_SECRET_KEY,
    throwaway_postgres_database,
)


@dataclass
class RunningPlatform:
    base_url: str
    settings: Settings


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def platform_settings() -> dict[str, object]:
    """Extra settings for this module's platform; a test module overrides it to change them."""
    return {}


@pytest.fixture(scope="module")
def platform_server(
    migrated_db: str, carrier_sim, tmp_path_factory, platform_settings: dict[str, object]
) -> Iterator[RunningPlatform]:
    sock = _free_socket()
    port = sock.getsockname()[1]
    urls = carrier_sim.api_urls()
    settings = Settings(
        var_dir=tmp_path_factory.mktemp("var"),
        database_url=migrated_db,
        secret_key=TEST_SECRET_KEY,
        admin_token=TEST_ADMIN_TOKEN,
        public_url=f"http://127.0.0.1:{port}",
        vobiz_api_url=urls["vobiz"],
        plivo_api_url=urls["plivo"],
        twilio_api_url=urls["twilio"],
        exotel_api_url=urls["exotel"],
        mcube_api_url=urls["mcube"],
        # Generous: the simulator shares a loaded box. A module that times out on purpose sets its
        # own (test_carrier_faults).
        **{"carrier_timeout_secs": 15.0, **platform_settings},  # type: ignore[arg-type]
    )
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on", ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300  # only a hang guard: a loaded box starts slowly
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the platform did not start")
        time.sleep(0.02)
    try:
        yield RunningPlatform(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
async def api(platform_server: RunningPlatform) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=platform_server.base_url, timeout=20) as client:
        yield client


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A store of the test's own: a SQLite file, or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'serve.db'}"
    else:
        async with throwaway_postgres_database() as url:
            yield url
