"""``CarrierSimulator``: the simulator as a library, served by uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from callwright.domain.providers import Provider
from callwright.sim.app import api_urls, create_sim_app
from callwright.sim.state import Fault, RequestRecord, SimAccount, SimState, parse_account


class CarrierSimulator:
    """Vobiz, Plivo, Twilio, Exotel and MCube's REST APIs on one local port.

    >>> sim = CarrierSimulator()
    >>> sim.add_account("vobiz", auth_id="MA_ABCD1234", auth_token="tok")
    >>> with sim.running() as base_url:
    ...     sim.api_urls()["vobiz"]   # f"{base_url}/vobiz/api/v1"
    """

    def __init__(
        self,
        state: SimState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_secs: float = 10.0,
    ) -> None:
        self.state = state or SimState()
        self.host = host
        self.port = port
        self.startup_timeout_secs = startup_timeout_secs
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._base_url: str | None = None

    def add_account(self, provider: str, **fields: Any) -> SimAccount:
        """Accept an account from now on; ``fields`` are the carrier's credential fields."""
        account = parse_account(provider, fields)
        self.state.add_account(account)
        return account

    def inject_fault(
        self,
        provider: str,
        *,
        status: int | None = None,
        count: int | None = 1,
        delay_secs: float = 0.0,
    ) -> None:
        """Delay and/or answer ``status`` to the provider's next ``count`` requests (None: all)."""
        fault = Fault(status=status, count=count, delay_secs=delay_secs)
        self.state.inject_fault(Provider(provider), fault)

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def requests(self, provider: str | None = None) -> list[RequestRecord]:
        return self.state.requests(Provider(provider) if provider else None)

    def clear_requests(self) -> None:
        self.state.clear_requests()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the carrier simulator is not running; call start() first")
        return self._base_url

    def api_urls(self) -> dict[str, str]:
        """Each carrier's REST base URL on this simulator, keyed by provider name."""
        return api_urls(self.base_url)

    def start(self) -> str:
        """Serve in a background thread; returns the base URL once the port accepts connections."""
        if self._server is not None:
            raise RuntimeError("the carrier simulator is already running")
        listener = socket.create_server((self.host, self.port))
        config = uvicorn.Config(
            create_sim_app(self.state),
            log_level="warning",
            access_log=False,
            # A request held by a delay fault must not hold up stop().
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, name="carrier-sim", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, listener
        thread.start()
        deadline = time.monotonic() + self.startup_timeout_secs
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the carrier simulator did not start")
            time.sleep(0.01)
        host, port = listener.getsockname()[:2]
        self._base_url = f"http://{host}:{port}"
        return self._base_url

    def stop(self) -> None:
        server, thread, listener = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        self._base_url = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
        if listener is not None:
            listener.close()

    @contextmanager
    def running(self) -> Iterator[str]:
        """``start()`` on entry (yielding the base URL), ``stop()`` on exit."""
        base_url = self.start()
        try:
            yield base_url
        finally:
            self.stop()
