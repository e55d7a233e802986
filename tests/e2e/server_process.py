"""``callwright serve`` as a real process of its own, for tests that kill or scale it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from callwright.sim import CarrierSimulator
from tests.conftest import TEST_ADMIN_TOKEN, TEST_SECRET_KEY
from tests.ports import free_port

STARTUP_TIMEOUT_SECS = 300.0  # a hang guard: two workers loading models on a loaded machine take minutes


class ServerProcess:
    """``callwright serve`` in its own process group, killed with SIGKILL, restarted on one port."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.env, self.port, self.log_path = env, port, log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "callwright", "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECS
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"callwright serve exited: {self.log_path.read_text()[-3000:]}")
                try:
                    if (await client.get(f"{self.base_url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"callwright serve did not start: {self.log_path.read_text()[-3000:]}")
                await asyncio.sleep(0.1)

    @classmethod
    @contextlib.asynccontextmanager
    async def serving(cls, env: dict[str, str], log_path: Path) -> AsyncIterator[ServerProcess]:
        """Started on ``env``'s port; stopped on the way out."""
        process = cls(env, int(env["CALLWRIGHT_PORT"]), log_path)
        try:
            await process.start()  # one that never came up is stopped too, not left running
            yield process
        finally:
            process.stop()

    def kill_9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


# uvicorn closes a connection that has been idle for 5 s (``serving.KEEP_ALIVE_SECS``), and
# httpx keeps an idle one for as long: a request sent on it as the server closed it failed with
# "Server disconnected without sending a response" (seen at a load average of 20). The tests'
# clients of a served process open a connection per request. Their timeout is a hang guard: in
# run S-B (two whole runs at once, load average 23, both runs' two-worker servers up at once) a
# GET to each of two served processes took over 20 s, at the same moment.
SERVER_CLIENT_TIMEOUT_SECS = 60.0


def server_client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url, timeout=SERVER_CLIENT_TIMEOUT_SECS, limits=httpx.Limits(max_keepalive_connections=0)
    )


def serve_env(database_url: str, sim: CarrierSimulator, tmp_path: Path, **more: str) -> dict[str, str]:
    """The environment of a ``callwright serve`` on a free port, its carriers on ``sim``; the
    caller's own CALLWRIGHT_ variables left out, ``more`` (names without the prefix) added."""
    port = free_port()
    urls = sim.api_urls()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CALLWRIGHT_")}
    return env | {
        "CALLWRIGHT_VAR_DIR": str(tmp_path / "var"),
        "CALLWRIGHT_DATABASE_URL": database_url,
        "CALLWRIGHT_SECRET_KEY": TEST_SECRET_KEY,
        "CALLWRIGHT_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        "CALLWRIGHT_HOST": "127.0.0.1",
        "CALLWRIGHT_PORT": str(port),
        "CALLWRIGHT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CALLWRIGHT_VOBIZ_API_URL": urls["vobiz"],
        "CALLWRIGHT_PLIVO_API_URL": urls["plivo"],
        "CALLWRIGHT_EXOTEL_API_URL": urls["exotel"],
        "CALLWRIGHT_SILENCE_TIMEOUT_SECS": "0",
        # `stop` sends SIGTERM, which drains: a call a test left up must not hold it 15 minutes.
        "CALLWRIGHT_DRAIN_GRACE_SECS": "5",
    } | {f"CALLWRIGHT_{name}": value for name, value in more.items()}
