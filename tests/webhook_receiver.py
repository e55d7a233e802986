"""A real webhook receiver for tests: an aiohttp server on a free local port that checks every
request's signature against the secrets it was given and records what arrived.

It can go down (its port closed: connections are refused) and come back on the same port, or
answer with a chosen status.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from callwright.domain.webhooks import signature_valid


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signed_with: str | None  # the secret whose signature matched, None when none did

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event_type(self) -> str:
        return self.json["event"]

    @property
    def event_id(self) -> str:
        return self.headers["x-webhook-id"]


@dataclass
class WebhookReceiver:
    secrets: list[str] = field(default_factory=list)
    status: int = 200  # what it answers while up
    answer: Any = None  # a JSON body to answer with instead of "ok" (a custom function's result)
    delay_secs: float = 0.0  # how long it takes to answer
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None

    async def start(self) -> WebhookReceiver:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await self.come_back()
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def go_down(self) -> None:
        """Close the port: senders get connection refused until ``come_back``."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def come_back(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Webhook-Timestamp", "")
        header = request.headers.get("X-Webhook-Signature", "")
        signed_with = next((s for s in self.secrets if signature_valid(s, timestamp, body, header)), None)
        self.received.append(
            Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body, signed_with)
        )
        if self.delay_secs:
            await asyncio.sleep(self.delay_secs)
        if self.answer is not None:
            return web.json_response(self.answer, status=self.status)
        return web.Response(status=self.status, text="ok" if self.status < 300 else "try later")

    def of(self, *, path: str | None = None, event: str | None = None) -> list[Received]:
        return [
            r for r in self.received
            if (path is None or r.path == path) and (event is None or r.event_type == event)
        ]

    async def wait_for(self, count: int, *, timeout: float = 30.0, **match: Any) -> list[Received]:
        """At least ``count`` matching requests, waiting up to ``timeout`` seconds for them."""
        deadline = time.monotonic() + timeout
        while len(found := self.of(**match)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} webhook(s) matching {match}, got {len(found)}: "
                                     f"{[(r.path, r.event_type) for r in self.received]}")
            await asyncio.sleep(0.05)
        return found
