"""A real DND check receiver for tests: an aiohttp server on a free local port that answers
``{"allow": …}`` per number (allowed unless listed in ``denied``), after ``delay_secs``, and records
each question with whether its signature matched ``secret``."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from callwright.domain.webhooks import signature_valid


@dataclass
class DndReceiver:
    denied: set[str] = field(default_factory=set)
    delay_secs: float = 0.0
    secret: str | None = None
    asked: list[tuple[dict[str, Any], bool]] = field(default_factory=list)  # (question, signed)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> DndReceiver:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        app = web.Application()
        app.router.add_post("/dnd", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dnd"

    def phones_asked(self) -> list[str]:
        return [question["phone"] for question, _ in self.asked]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.read()
        signed = self.secret is not None and signature_valid(
            self.secret, request.headers.get("X-Webhook-Timestamp", ""), body, request.headers.get("X-Webhook-Signature", "")
        )
        question = json.loads(body)
        self.asked.append((question, signed))
        if self.delay_secs:
            await asyncio.sleep(self.delay_secs)
        return web.json_response({"allow": question["phone"] not in self.denied})
