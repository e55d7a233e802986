"""A tiny stand-in for the Callwright platform, for testing the carrier simulator alone.

It answers each carrier's answer URL with the document that carrier expects, accepts the media
WebSocket and speaks the agent's side of the carrier's protocol from a small script (a tone, a
mark or checkpoint, a clear, a close), and records everything the simulator sent it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import uvicorn
from fastapi import FastAPI, Request, Response, WebSocket, WebSocketDisconnect

from callwright.sim.audio import tone, ulaw_encode


@dataclass
class AgentScript:
    """What the agent does once the media stream starts (times from the start message)."""

    tone_secs: float = 0.6  # sent at once, faster than real time: the carrier must queue it
    tone_hz: float = 440.0
    mark: str | None = "greeting-done"  # sent right after the tone
    clear_after_secs: float | None = None
    close_after_secs: float | None = None
    send_stop: bool = False  # Vobiz: a stop message instead of a close
    exotel_chunk_bytes: int = 3200


@dataclass
class Received:
    """One request or WebSocket message the platform got, with its arrival time."""

    at: float
    kind: str
    path: str = ""
    method: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""
    message: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class MediaSession:
    carrier: str
    query: dict[str, str]
    headers: dict[str, str]
    opened_at: float
    messages: list[Received] = field(default_factory=list)
    closed_at: float | None = None

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [r.message for r in self.messages if name is None or r.message.get("event") == name]

    def first(self, name: str) -> dict[str, Any]:
        found = self.events(name)
        assert found, f"no {name!r} message in {[r.message.get('event') for r in self.messages]}"
        return found[0]

    def time_of(self, name: str) -> float:
        return next(r.at for r in self.messages if r.message.get("event") == name)


class AgentPlatform:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.sessions: list[MediaSession] = []
        self.scripts: dict[str, AgentScript] = {}  # by the call tag in the answer URL
        self.answer_status: dict[str, int] = {}  # tag → HTTP status to answer the answer URL with
        self.documents: dict[str, str] = {}  # tag → answer document to send instead of the usual
        self.status_code = 200  # what callbacks other than the answer get
        self.app = self._build()
        self._server: uvicorn.Server | None = None
        self.base_url = ""

    # --- what tests read -----------------------------------------------------------------------

    def received(self, kind: str, tag: str | None = None) -> list[Received]:
        return [
            r
            for r in list(self.requests)
            if r.kind == kind and (tag is None or r.path.rstrip("/").endswith("/" + tag))
        ]

    def session(self, tag: str) -> MediaSession:
        found = [s for s in list(self.sessions) if s.query.get("tag") == tag]
        assert found, f"no media session for {tag}"
        return found[-1]

    def ws_url(self, carrier: str, tag: str) -> str:
        base = self.base_url.replace("http://", "ws://")
        if carrier in ("plivo", "vobiz"):  # they promise no query string on a stream URL
            return f"{base}/media/{carrier}/{tag}"
        return f"{base}/media/{carrier}?tag={tag}"

    def answer_url(self, carrier: str, tag: str) -> str:
        return f"{self.base_url}/answer/{carrier}/{tag}"

    def status_url(self, tag: str) -> str:
        return f"{self.base_url}/status/{tag}"

    # --- the app -------------------------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI()

        async def record(request: Request, kind: str) -> Received:
            body = await request.body()
            ctype = request.headers.get("content-type", "")
            if "json" in ctype:
                params = json.loads(body or b"{}")
            elif request.method == "GET":
                params = dict(request.query_params)
            else:
                form = await request.form()
                params = {k: form.get(k) for k in form.keys()}
            item = Received(
                time.monotonic(), kind, request.url.path, request.method, params,
                dict(request.headers), str(request.url), body=body,
            )  # fmt: skip
            self.requests.append(item)
            return item

        @app.api_route("/answer/{carrier}/{tag}", methods=["GET", "POST"])
        async def answer(carrier: str, tag: str, request: Request) -> Response:
            await record(request, "answer")
            status = self.answer_status.get(tag, 200)
            if status != 200:
                return Response("no", status_code=status)
            if tag in self.documents:
                return Response(self.documents[tag], media_type="application/xml")
            url = escape(self.ws_url(carrier, tag))
            if carrier == "twilio":
                body = (
                    f'<Response><Connect><Stream url="{url}">'
                    f'<Parameter name="call_id" value="{tag}"/></Stream></Connect></Response>'
                )
            else:
                body = (
                    '<Response><Stream bidirectional="true" keepCallAlive="true" '
                    f'contentType="audio/x-mulaw;rate=8000" extraHeaders="callId={tag}">'
                    f"{url}</Stream></Response>"
                )
            return Response(body, media_type="application/xml")

        @app.api_route("/{kind}/{tag}", methods=["GET", "POST"])
        async def callback(kind: str, tag: str, request: Request) -> Response:
            await record(request, kind)
            return Response("ok", status_code=self.status_code)

        @app.websocket("/media/{carrier}")
        async def media(websocket: WebSocket, carrier: str) -> None:
            await serve_media(websocket, carrier, dict(websocket.query_params))

        @app.websocket("/media/{carrier}/{tag}")
        async def media_tagged(websocket: WebSocket, carrier: str, tag: str) -> None:
            await serve_media(websocket, carrier, {**websocket.query_params, "tag": tag})

        async def serve_media(websocket: WebSocket, carrier: str, query: dict[str, str]) -> None:
            await websocket.accept()
            session = MediaSession(carrier, query, dict(websocket.headers), time.monotonic())
            self.sessions.append(session)
            await AgentSide(self, websocket, session).run()

        return app

    # --- serving -------------------------------------------------------------------------------

    def start(self) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        config = uvicorn.Config(self.app, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, daemon=True
        ).start()
        while not self._server.started:
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


class AgentSide:
    """The agent's half of one media WebSocket, per carrier protocol."""

    def __init__(
        self, platform: AgentPlatform, websocket: WebSocket, session: MediaSession
    ) -> None:
        self.platform, self.ws, self.session = platform, websocket, session
        self.carrier = session.carrier
        self.stream_id = ""

    async def run(self) -> None:
        script_task: asyncio.Task[None] | None = None
        try:
            while True:
                message = json.loads(await self.ws.receive_text())
                self.session.messages.append(Received(time.monotonic(), "ws", message=message))
                if message.get("event") == "start" and script_task is None:
                    self.stream_id = stream_id_of(message)
                    tag = self.session.query.get("tag") or custom_tag(message)
                    self.session.query.setdefault("tag", tag)
                    script = self.platform.scripts.get(tag, AgentScript())
                    script_task = asyncio.create_task(self.play(script))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.session.closed_at = time.monotonic()
            if script_task is not None:
                script_task.cancel()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(message))

    async def play(self, script: AgentScript) -> None:
        start = time.monotonic()
        pcm = tone(script.tone_hz, script.tone_secs)
        for message in self.audio_messages(pcm, script):
            await self.send(message)
        if script.mark:
            await self.send(self.mark_message(script.mark))
        if script.clear_after_secs is not None:
            await asyncio.sleep(max(0.0, start + script.clear_after_secs - time.monotonic()))
            await self.send(self.clear_message())
        if script.close_after_secs is not None:
            await asyncio.sleep(max(0.0, start + script.close_after_secs - time.monotonic()))
            if script.send_stop:
                await self.send({"event": "stop", "streamId": self.stream_id})
            else:
                await self.ws.close()

    def audio_messages(self, pcm: np.ndarray, script: AgentScript) -> list[dict[str, Any]]:
        if self.carrier == "exotel":
            data = pcm.astype("<i2").tobytes()
            step = script.exotel_chunk_bytes
            return [
                {"event": "media", "stream_sid": self.stream_id,
                 "media": {"payload": base64.b64encode(data[i:i + step]).decode()}}
                for i in range(0, len(data), step)
            ]  # fmt: skip
        wire = ulaw_encode(pcm)
        chunks = [base64.b64encode(wire[i : i + 160]).decode() for i in range(0, len(wire), 160)]
        if self.carrier == "twilio":
            return [
                {"event": "media", "streamSid": self.stream_id, "media": {"payload": chunk}}
                for chunk in chunks
            ]
        return [
            {"event": "playAudio",
             "media": {"contentType": "audio/x-mulaw", "sampleRate": 8000, "payload": c}}
            for c in chunks
        ]  # fmt: skip

    def mark_message(self, name: str) -> dict[str, Any]:
        if self.carrier == "twilio":
            return {"event": "mark", "streamSid": self.stream_id, "mark": {"name": name}}
        if self.carrier == "exotel":
            return {"event": "mark", "stream_sid": self.stream_id, "mark": {"name": name}}
        return {"event": "checkpoint", "streamId": self.stream_id, "name": name}

    def clear_message(self) -> dict[str, Any]:
        if self.carrier == "twilio":
            return {"event": "clear", "streamSid": self.stream_id}
        if self.carrier == "exotel":
            return {"event": "clear", "stream_sid": self.stream_id}
        return {"event": "clearAudio", "streamId": self.stream_id}


def stream_id_of(start: dict[str, Any]) -> str:
    inner = start.get("start", {})
    return inner.get("streamSid") or inner.get("streamId") or inner.get("stream_sid") or ""


def custom_tag(start: dict[str, Any]) -> str:
    inner = start.get("start", {})
    return (inner.get("customParameters") or inner.get("custom_parameters") or {}).get("tag", "")
