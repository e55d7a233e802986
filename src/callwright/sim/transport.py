"""How the simulator's callbacks reach the platform: one method behind a small seam.

aiohttp rather than httpx: with 80 calls answering at once, its answer-URL requests take ~30 ms
where httpx's shared pool took ~300 ms, enough to make the simulator the bottleneck of a benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aiohttp

BODY_KEEP = 4096  # of the platform's answer, kept on the call's record
# A server closes a connection left idle past its keep-alive (uvicorn's default and Callwright's
# are 5 s). A request sent on a pooled connection just as the server closes it is lost with no
# answer: the platform never sees it. So the simulator drops its idle connections well before.
IDLE_KEEP_SECS = 2.0


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    body: str


class CallbackTransport(Protocol):
    async def send(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None,
        headers: dict[str, str],
        timeout: float,
    ) -> Answer:
        """Make the request; raises ``TransportError`` when no HTTP answer came back."""
        ...

    async def close(self) -> None: ...


class TransportError(Exception):
    """The platform could not be reached, or did not answer in time."""


class AiohttpTransport:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use: a session belongs to the event loop that runs it.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0, ttl_dns_cache=300, keepalive_timeout=IDLE_KEEP_SECS
            )
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None,
        headers: dict[str, str],
        timeout: float,
    ) -> Answer:
        try:
            async with self._client().request(
                method,
                url,
                data=content,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                body = await response.text(errors="replace")
                return Answer(response.status, body[:BODY_KEEP])
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def default_transport() -> CallbackTransport:
    return AiohttpTransport()
