"""Local servers speaking the cloud speech providers' WebSocket protocols, each on a free port in a
thread of its own (so its tasks never mix with the test's event loop).

Each server records every connection it accepts (path with query, headers, messages received) and
answers as the provider documents: Deepgram's live ``Results``, Cartesia's ``chunk``/``done``
contexts, ElevenLabs' multi-context ``audio``/``isFinal``, Sarvam's TTS ``audio``/``final`` events
and Sarvam's realtime STT ``session.begin``/``transcript.final``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

# A generous bound on how long a server thread takes to start or stop.
THREAD_SECS = 5.0  # how long a stopping server thread may take to finish
START_GUARD_SECS = 120.0  # only a hang guard: a loaded box starts a thread slowly


@dataclass
class Connection:
    path: str  # e.g. "/v1/listen"
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    received: list[str | bytes] = field(default_factory=list)
    raw_query: str = ""  # as sent: repeated parameters (Deepgram's keyterm) all kept

    def json_messages(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.received if isinstance(m, str)]

    def audio(self) -> bytes:
        return b"".join(m for m in self.received if isinstance(m, bytes))


@dataclass
class ProtocolServer:
    """One provider's WebSocket endpoint; subclasses answer in ``converse``."""

    connections: list[Connection] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _accept(self, websocket: ServerConnection) -> None:
        request = websocket.request
        assert request is not None
        parts = urlsplit(request.path)
        connection = Connection(
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in request.headers.raw_items()},
            raw_query=parts.query,
        )
        self.connections.append(connection)
        with contextlib.suppress(ConnectionClosed):
            await self.converse(websocket, connection)

    async def converse(self, websocket: ServerConnection, connection: Connection) -> None:
        raise NotImplementedError


def b64(audio: bytes) -> str:
    return base64.b64encode(audio).decode("ascii")


# --- Deepgram live transcription (/v1/listen) ---------------------------------------------------


@dataclass
class DeepgramServer(ProtocolServer):
    """Answers ``Finalize`` with a final ``Results`` carrying ``transcript``; before that, once
    audio has come in, one interim result with ``interim``."""

    transcript: str = "I would like to book a table."
    interim: str = "I would like"

    def results(self, text: str, *, is_final: bool, from_finalize: bool = False) -> str:
        words = [
            {"word": w.strip(".,").lower(), "start": i * 0.3, "end": i * 0.3 + 0.25,
             "confidence": 0.98, "punctuated_word": w}
            for i, w in enumerate(text.split())
        ]
        return json.dumps({
            "type": "Results",
            "channel_index": [0, 1],
            "duration": 1.5,
            "start": 0.0,
            "is_final": is_final,
            "speech_final": is_final,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.98, "words": words}]},
            "metadata": {
                "request_id": "5a4ad1a5-0000-4000-8000-000000000001",
                "model_info": {
                    "name": "general-nova-3", "version": "2025-01-01.0", "arch": "nova-3"
                },
                "model_uuid": "1dbdfb4d-0000-4000-8000-000000000002",
            },
            "from_finalize": from_finalize,
        })

    async def converse(self, websocket: ServerConnection, connection: Connection) -> None:
        sent_interim = False
        async for message in websocket:
            connection.received.append(message)
            if isinstance(message, bytes):
                if not sent_interim:
                    sent_interim = True
                    await websocket.send(self.results(self.interim, is_final=False))
                continue
            kind = json.loads(message).get("type")
            if kind == "Finalize":
                await websocket.send(
                    self.results(self.transcript, is_final=True, from_finalize=True)
                )
            elif kind == "CloseStream":
                await websocket.close()
                return


# --- Cartesia TTS (/tts/websocket) --------------------------------------------------------------


@dataclass
class CartesiaServer(ProtocolServer):
    """Each request with a transcript gets ``audio`` in two ``chunk`` messages and its word
    ``timestamps``; a request with ``continue: false`` ends the context with ``done``."""

    audio: bytes = bytes(range(256)) * 8

    async def converse(self, websocket: ServerConnection, connection: Connection) -> None:
        async for message in websocket:
            connection.received.append(message)
            request = json.loads(message)
            context = request["context_id"]
            if request.get("cancel"):
                continue
            transcript = request.get("transcript", "")
            base = {"done": False, "status_code": 206, "context_id": context}
            if transcript.strip():
                half = len(self.audio) // 2
                for piece in (self.audio[:half], self.audio[half:]):
                    await websocket.send(json.dumps(
                        {"type": "chunk", "data": b64(piece), "step_time": 12, **base}
                    ))
                words = transcript.split()
                await websocket.send(json.dumps({
                    "type": "timestamps",
                    "word_timestamps": {
                        "words": words,
                        "start": [i * 0.3 for i in range(len(words))],
                        "end": [i * 0.3 + 0.25 for i in range(len(words))],
                    },
                    **base,
                }))
            if not request.get("continue", False):
                await websocket.send(json.dumps({**base, "type": "done", "done": True}))


# --- ElevenLabs multi-context TTS (/v1/text-to-speech/{voice}/multi-stream-input) ---------------


@dataclass
class ElevenLabsServer(ProtocolServer):
    """Each text message with words gets ``audio`` (with its character alignment) on its
    context; ``close_context`` ends the context with ``isFinal``."""

    audio: bytes = bytes(range(255, -1, -1)) * 8

    async def converse(self, websocket: ServerConnection, connection: Connection) -> None:
        async for message in websocket:
            connection.received.append(message)
            request = json.loads(message)
            context = request.get("context_id")
            text = request.get("text") or ""
            if context and text.strip():
                alignment = {
                    "chars": list(text),
                    "charStartTimesMs": [i * 50 for i in range(len(text))],
                    "charDurationsMs": [50] * len(text),
                }
                await websocket.send(json.dumps({
                    "audio": b64(self.audio),
                    "isFinal": None,
                    "normalizedAlignment": alignment,
                    "alignment": alignment,
                    "contextId": context,
                }))
            if context and request.get("close_context"):
                await websocket.send(json.dumps({"isFinal": True, "contextId": context}))


# --- Sarvam TTS (/text-to-speech/ws) ------------------------------------------------------------


@dataclass
class SarvamTTSServer(ProtocolServer):
    """Buffers ``text`` messages until ``flush``, then answers with ``audio`` and the ``final``
    event; ``ping`` is ignored."""

    audio: bytes = bytes(range(0, 256, 2)) * 16

    async def converse(self, websocket: ServerConnection, connection: Connection) -> None:
        pending = ""
        async for message in websocket:
            connection.received.append(message)
            request = json.loads(message)
            kind = request.get("type")
            if kind == "text":
                pending += request["data"]["text"]
            elif kind == "flush" and pending.strip():
                pending = ""
                await websocket.send(json.dumps({
                    "type": "audio",
                    "data": {
                        "audio": b64(self.audio),
                        "content_type": "audio/pcm",
                        "request_id": "20260101_00000000-0000-4000-8000-000000000003",
                    },
                }))
                await websocket.send(json.dumps({"type": "event", "data": {"event_type": "final"}}))


# --- Sarvam realtime STT (/speech-to-text-realtime/ws) ------------------------------------------


@dataclass
class SarvamSTTServer(ProtocolServer):
    """Opens with ``session.begin``; answers the client's ``speech_end`` with ``transcript.final``
    and ``end`` with ``session.end``."""

    transcript: str = "मुझे कल की बुकिंग चाहिए"
    language: str = "hi-IN"

    async def converse(self, websocket: ServerConnection, connection: Connection) -> None:
        request_id = "20260101_00000000-0000-4000-8000-000000000004"
        await websocket.send(json.dumps({"event": "session.begin", "request_id": request_id}))
        async for message in websocket:
            connection.received.append(message)
            event = json.loads(message).get("event")
            if event == "speech_end":
                await websocket.send(json.dumps({
                    "event": "transcript.final",
                    "text": self.transcript,
                    "language": self.language,
                    "request_id": request_id,
                }))
            elif event == "ping":
                await websocket.send(json.dumps({"event": "pong"}))
            elif event == "end":
                await websocket.send(json.dumps({"event": "session.end", "request_id": request_id}))
                await websocket.close()
                return


Server = TypeVar("Server", bound=ProtocolServer)


@contextlib.contextmanager
def serving_in_thread(server: Server) -> Iterator[Server]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: asyncio.Future[None] | None = None

    async def main() -> None:
        nonlocal stop
        stop = loop.create_future()
        async with serve(server._accept, "127.0.0.1", 0) as running:
            server.port = next(iter(running.sockets)).getsockname()[1]
            started.set()
            await stop

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not started.wait(START_GUARD_SECS):
        raise RuntimeError(f"{type(server).__name__} did not start")
    try:
        yield server
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(THREAD_SECS)
        loop.close()
