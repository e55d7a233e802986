"""The platform's one outbound HTTP client lets an idle connection go before its server would.

A partner's tool behind gunicorn closes an idle connection after 2 s, behind uvicorn or Node.js
after 5 s. A tool's POST sent on a pooled connection just as the server closes it would be lost
mid-call ("Server disconnected"), and it must not be sent twice.
"""

from __future__ import annotations

import asyncio

from callwright.platform import IDLE_KEEP_SECS, outbound_http
from tests.keep_alive_server import keep_alive_server

SHORTEST_SERVER_KEEP_ALIVE_SECS = 2.0  # gunicorn's default


async def test_an_idle_connection_is_not_reused_after_the_keep_alive() -> None:
    async with outbound_http() as http, keep_alive_server() as server:
        assert (await http.post(server.url, json={"a": 1})).text == "ok"
        await asyncio.sleep(IDLE_KEEP_SECS + 0.5)
        assert (await http.post(server.url, json={"a": 2})).status_code == 200
        assert server.connections == 2
        await asyncio.wait_for(server.closed_by_client.wait(), timeout=30)


def test_the_keep_alive_is_below_the_shortest_common_server_keep_alive() -> None:
    assert IDLE_KEEP_SECS < SHORTEST_SERVER_KEEP_ALIVE_SECS
