"""Webhook receivers a careless or hostile partner might run, as real local TCP servers.

``TricklingReceiver`` reads the request and then answers one byte at a time, forever: a sender
whose timeout is per read (not per request) never gets to the end of it. ``HugeReceiver`` answers
with a body of ``size`` bytes and notes how much of it the sender took before hanging up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class _Server:
    port: int = 0
    connections: int = 0  # open right now
    requests: int = 0  # requests read in full so far
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self):  # type: ignore[no-untyped-def]
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")),
                0,
            )
            await reader.readexactly(length)
            self.requests += 1
            await self.answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections -= 1
            self._handlers.discard(task)
            writer.close()

    async def answer(self, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


@dataclass
class TricklingReceiver(_Server):
    """Answers ``HTTP/1.1 200 OK…`` one byte every ``interval`` seconds, and never finishes."""

    interval: float = 0.2

    async def answer(self, writer: asyncio.StreamWriter) -> None:
        while True:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: ":
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(self.interval)
            while True:  # a header line that never ends
                writer.write(b"z")
                await writer.drain()
                await asyncio.sleep(self.interval)


@dataclass
class HugeReceiver(_Server):
    """Answers ``status`` with a ``size``-byte body, written in 64 KiB pieces."""

    status: int = 200
    size: int = 100 * 1024 * 1024
    written: int = 0  # body bytes handed to the socket
    finished: bool = False  # the whole body went out

    async def answer(self, writer: asyncio.StreamWriter) -> None:
        writer.write(
            f"HTTP/1.1 {self.status} Whatever\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {self.size}\r\n\r\n".encode()
        )
        piece = b"x" * 65536
        while self.written < self.size:
            writer.write(piece[: self.size - self.written])
            await writer.drain()
            self.written += min(len(piece), self.size - self.written)
        self.finished = True
