"""The simulator's callback transport gives up an idle connection before a server would.

A server closes a connection idle past its keep-alive (5 s for uvicorn and Callwright). A client
that sends on such a connection as it closes loses the request: once, under two whole runs at
once, a Plivo hang-up callback never reached the test's platform that way.
"""

from __future__ import annotations

import asyncio

from callwright.serving import KEEP_ALIVE_SECS
from callwright.sim.transport import IDLE_KEEP_SECS, AiohttpTransport
from tests.keep_alive_server import keep_alive_server


async def test_a_connection_idle_past_the_keep_alive_is_not_reused() -> None:
    transport = AiohttpTransport()
    async with keep_alive_server() as server:
        try:
            first = await transport.send("POST", server.url, content=b"a=1", headers={}, timeout=30)
            assert (first.status_code, first.body) == (200, "ok")
            await asyncio.sleep(IDLE_KEEP_SECS + 0.5)
            second = await transport.send("POST", server.url, content=b"a=2", headers={}, timeout=30)
            assert second.status_code == 200
            # The request went on a new connection, and the client closed the idle one.
            assert server.connections == 2
            await asyncio.wait_for(server.closed_by_client.wait(), timeout=30)
        finally:
            await transport.close()


def test_the_simulator_lets_go_well_before_the_platform_would() -> None:
    assert IDLE_KEEP_SECS <= KEEP_ALIVE_SECS / 2
