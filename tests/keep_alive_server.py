"""A local HTTP server that answers every request 200 and never closes a connection itself.

For tests of how a client pools its connections: it counts them and notes when the client has
closed one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


class KeepAliveServer:
    def __init__(self) -> None:
        self.connections = 0
        self.closed_by_client = asyncio.Event()
        self.url = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length:")),
                    0,
                )  # fmt: skip
                await reader.readexactly(length)
                writer.write(RESPONSE)
                await writer.drain()
        except asyncio.IncompleteReadError:
            self.closed_by_client.set()
        finally:
            writer.close()


@asynccontextmanager
async def keep_alive_server() -> AsyncIterator[KeepAliveServer]:
    server = KeepAliveServer()
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    server.url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/hook"
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()
