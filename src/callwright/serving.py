"""How ``callwright serve`` runs uvicorn against a hostile internet.

uvicorn bounds the wait between two requests on a connection (``timeout_keep_alive``) but not
the wait for a request's headers: a client that connects and sends nothing, or a header a byte at
a time, holds its connection for ever. ``BoundedHeadersProtocol`` (uvicorn's httptools protocol)
closes a connection whose request headers are not complete ``request_header_timeout_secs`` after
it opened or after the request's first byte, or that sends more than ``MAX_HEADER_BYTES`` of them.
Bodies are bounded in the app (``api.guard``).

``DrainingServer`` (uvicorn's server) turns the first SIGTERM into a drain (``services.drain``)
before uvicorn's own shutdown, which would close every live call's media socket at once (1012);
a process that drained exits 0. A second SIGTERM, or SIGINT, shuts down at once. A worker of
``serve --workers N`` also keeps its slot of the load board current through the drain
(``balancer``): draining, drained (then held until the whole node has drained) and closed before
it stops accepting.

The client's address is the connection's own: uvicorn's default of believing X-Forwarded-For from
127.0.0.1 is off, and the app believes it only from ``CALLWRIGHT_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from types import FrameType
from typing import TYPE_CHECKING, Any

from uvicorn import Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from callwright.settings import Settings, get_settings

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.serving")

MAX_HEADER_BYTES = 64 * 1024
KEEP_ALIVE_SECS = 5


class BoundedHeadersProtocol(HttpToolsProtocol):
    _header_timer: asyncio.TimerHandle | None = None
    _header_bytes = 0
    _awaiting_headers = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Counted after parsing: the chunk that completes the headers may carry the body too, and
        # the one that begins a request has just reset the count.
        if self._awaiting_headers:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(b"431 Request Header Fields Too Large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_headers()

    def on_headers_complete(self) -> None:
        self._stop_waiting()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._stop_waiting()
        self._awaiting_headers = True
        self._header_bytes = 0
        timeout = get_settings().request_header_timeout_secs
        self._header_timer = self.loop.call_later(timeout, self._refuse, b"408 Request Timeout")

    def _stop_waiting(self) -> None:
        self._awaiting_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _refuse(self, status: bytes) -> None:
        self._stop_waiting()
        if not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 " + status + b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            self.transport.close()


class DenyingWebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (its default), able to refuse an upgrade quietly.

    uvicorn 0.54 sends a denial response (a draining node's 503 to a new media socket) but does
    not count it as the end of the handshake: when the app returns, it logs "ASGI callable
    returned without completing handshake" and writes a 500 after the 503."""

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments ``callwright serve`` gives ``uvicorn.run`` / ``uvicorn.Config``."""
    from callwright.log_context import logging_config

    options: dict[str, Any] = {
        "http": BoundedHeadersProtocol,
        "ws": DenyingWebSocketsProtocol,
        "timeout_keep_alive": KEEP_ALIVE_SECS,
        "proxy_headers": False,
        "log_level": settings.log_level,
    }
    if (config := logging_config(settings.log_format, settings.log_level)) is not None:
        options["log_config"] = config
    return options


def restrict_new_files() -> None:
    """Files this process creates are its user's alone (0600, directories 0700): the database and
    its WAL, recordings, keys under ``var/``. Explicit modes where those files are created say the
    same; this covers what a library creates on its own."""
    os.umask(0o077)


_served: Platform | None = None


def serve_platform(platform: Platform | None) -> None:
    """The platform of this ``callwright serve`` process, set by the served app's lifespan (None
    once it is closed): what a SIGTERM drains."""
    global _served
    _served = platform


class DrainingServer(Server):
    """uvicorn's server; the first SIGTERM drains this process's platform, then shuts down."""

    _loop: asyncio.AbstractEventLoop | None = None
    _draining = False
    _drain_task: asyncio.Task[None] | None = None

    async def startup(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        loop, platform = self._loop, _served
        if sig != signal.SIGTERM or self._draining or self.should_exit or loop is None or platform is None:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        loop.call_soon_threadsafe(self._start_drain, platform, sig)

    def _start_drain(self, platform: Platform, sig: int) -> None:
        self._drain_task = asyncio.create_task(self._drain_then_exit(platform, sig), name="callwright-drain")

    async def _drain_then_exit(self, platform: Platform, sig: int) -> None:
        from callwright.balancer import SlotState, hold_while_node_drains, worker_board
        from callwright.services.drain import WIND_DOWN_SECS, drain

        seat = worker_board()
        drained = False
        try:
            if seat is not None:
                seat[0].set_state(seat[1], SlotState.DRAINING)
            grace = platform.settings.drain_grace_secs
            await drain(platform=platform, grace_secs=grace)
            if seat is not None:
                # The other workers' drains end by the same deadline, theirs begun with this one.
                await hold_while_node_drains(*seat, timeout_secs=grace + WIND_DOWN_SECS)
            drained = True
        except Exception:
            log.exception("the drain failed; shutting down")
        finally:
            if seat is not None:
                seat[0].close()
            if drained:
                # The stop asked for, done: uvicorn shuts down and the process exits 0. Through
                # handle_exit uvicorn would raise the SIGTERM again once shut down, and the process
                # would die of it (143 to a shell, a container runtime or a rolling restart).
                self.should_exit = True
            else:
                super().handle_exit(sig, None)

    async def shutdown(self, sockets: Any = None) -> None:
        from callwright.balancer import SlotState, worker_board

        if (seat := worker_board()) is not None:
            seat[0].set_state(seat[1], SlotState.CLOSED)  # the steering sends nothing more here
            seat[0].close()
        await super().shutdown(sockets)
