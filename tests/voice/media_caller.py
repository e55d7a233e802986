"""The carrier's side of a media WebSocket, per shared/spec/carriers.md §2.5, §3.5, §4.5.

A ``MediaCaller`` opens the stream the way the carrier does (``connected``/``start``), streams the
caller's silence at the carrier's pace, and records what the agent sends back, decoded to PCM16
with an independent G.711 µ-law table (not the code under test). It belongs in ``sim/`` once the
simulator speaks media; until then tests and ``bench/greeting_latency.py`` share it from here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

SAMPLE_RATE = 8000


def ulaw_to_pcm16(data: bytes) -> np.ndarray:
    """G.711 µ-law → linear PCM16 (ITU-T G.711 expansion, bias 0x84)."""
    x = ~np.frombuffer(data, dtype=np.uint8)
    magnitude = (((x & 0x0F).astype(np.int32) << 3) + 0x84) << ((x & 0x70) >> 4)
    return np.where(x & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


@dataclass(frozen=True)
class CarrierWire:
    """One carrier's media protocol, seen from the carrier."""

    name: str
    agent_media_event: str  # what the agent's audio messages are called
    inbound_frame: bytes  # one frame of the caller's silence
    inbound_interval_secs: float
    sends_stop: bool

    def opening(self, call_id: str) -> list[dict[str, Any]]:
        ids = _ids(call_id)
        if self.name == "twilio":
            start = {
                "accountSid": "AC" + "0" * 32,
                "streamSid": ids["stream"],
                "callSid": ids["call"],
                "tracks": ["inbound"],
                "customParameters": {"call_id": call_id},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            }
            return [
                {"event": "connected", "protocol": "Call", "version": "1.0.0"},
                {"event": "start", "sequenceNumber": "1", "start": start, "streamSid": ids["stream"]},
            ]
        if self.name == "plivo":
            start = {
                "callId": ids["call"],
                "streamId": ids["stream"],
                "accountId": "MA0000000000",
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
            }
            return [
                {
                    "event": "start",
                    "sequenceNumber": 0,
                    "start": start,
                    "extra_headers": f"call_id={call_id}",
                }
            ]
        start = {
            "stream_sid": ids["stream"],
            "call_sid": ids["call"],
            "account_sid": "exotel-account",
            "from": "+919800000001",
            "to": "+918000000002",
            "custom_parameters": {"call_id": call_id},
            "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"},
        }
        return [
            {"event": "connected"},
            {"event": "start", "sequence_number": 1, "stream_sid": ids["stream"], "start": start},
        ]

    def media(self, call_id: str, n: int, payload: bytes) -> dict[str, Any]:
        ids = _ids(call_id)
        ms = str(int(n * self.inbound_interval_secs * 1000))
        b64 = base64.b64encode(payload).decode()
        if self.name == "twilio":
            media = {"track": "inbound", "chunk": str(n), "timestamp": ms, "payload": b64}
            return {
                "event": "media",
                "sequenceNumber": str(n + 2),
                "media": media,
                "streamSid": ids["stream"],
            }
        if self.name == "plivo":
            media = {"track": "inbound", "timestamp": ms, "chunk": n, "payload": b64}
            return {
                "event": "media",
                "sequenceNumber": n + 1,
                "streamId": ids["stream"],
                "media": media,
            }
        return {
            "event": "media",
            "sequence_number": n + 2,
            "stream_sid": ids["stream"],
            "media": {"chunk": n, "timestamp": ms, "payload": b64},
        }

    def stop(self, call_id: str) -> dict[str, Any]:
        ids = _ids(call_id)
        if self.name == "twilio":
            return {
                "event": "stop",
                "sequenceNumber": "999",
                "streamSid": ids["stream"],
                "stop": {"accountSid": "AC" + "0" * 32, "callSid": ids["call"]},
            }
        if self.name == "exotel":
            return {
                "event": "stop",
                "sequence_number": 999,
                "stream_sid": ids["stream"],
                "stop": {"call_sid": ids["call"], "account_sid": "x", "reason": "callended"},
            }
        raise ValueError(f"{self.name} sends no stop event; the socket close ends the stream")

    def agent_audio(self, message: dict[str, Any]) -> bytes | None:
        """The raw payload bytes of an agent audio message (µ-law or PCM16), else None."""
        if message.get("event") != self.agent_media_event:
            return None
        return base64.b64decode(message["media"]["payload"])

    def to_pcm16(self, payload: bytes) -> np.ndarray:
        if self.name == "exotel":
            return np.frombuffer(payload, dtype="<i2")
        return ulaw_to_pcm16(payload)


TWILIO = CarrierWire("twilio", "media", b"\xff" * 160, 0.02, sends_stop=True)
PLIVO = CarrierWire("plivo", "playAudio", b"\xff" * 160, 0.02, sends_stop=False)
# Exotel streams PCM16 at 8 kHz; 3200 B is 200 ms of it (§4.5 says "~100 ms (3200 B)").
EXOTEL = CarrierWire("exotel", "media", b"\x00" * 3200, 0.2, sends_stop=True)
WIRES = {w.name: w for w in (TWILIO, PLIVO, EXOTEL)}


def _ids(call_id: str) -> dict[str, str]:
    return {"stream": f"MZ{call_id}", "call": f"CA{call_id}"}


@dataclass
class AgentMessage:
    at: float  # time.monotonic() on receipt
    message: dict[str, Any]
    payload: bytes | None  # decoded media payload, for audio messages


@dataclass
class MediaCaller:
    wire: CarrierWire
    url: str
    call_id: str
    received: list[AgentMessage] = field(default_factory=list)
    start_sent_at: float = 0.0
    closed_at: float | None = None
    _ws: ClientConnection | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> MediaCaller:
        # Carriers don't negotiate permessage-deflate; compressing every 20 ms frame costs CPU.
        self._ws = await connect(self.url, max_size=None, compression=None)
        for message in self.wire.opening(self.call_id):
            await self._ws.send(json.dumps(message))
        self.start_sent_at = time.monotonic()
        self._tasks = [
            asyncio.create_task(self._stream_silence()),
            asyncio.create_task(self._receive()),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.hang_up()

    @property
    def audio_messages(self) -> list[AgentMessage]:
        return [m for m in self.received if m.payload is not None]

    def agent_pcm(self) -> np.ndarray:
        return self.pcm_of(self.audio_messages)

    def pcm_of(self, messages: list[AgentMessage]) -> np.ndarray:
        chunks = [self.wire.to_pcm16(m.payload) for m in messages if m.payload]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def first_audible_at(self) -> float | None:
        for m in self.audio_messages:
            if m.payload and np.abs(self.wire.to_pcm16(m.payload).astype(np.int32)).max() > 200:
                return m.at
        return None

    async def wait_for_agent_audio(
        self, *, quiet_secs: float = 0.4, timeout: float = 60, spoken: Callable[[], bool] | None = None
    ) -> None:
        """Wait for the agent's first audio, then until it has been quiet for ``quiet_secs``.

        ``spoken``: the server's word that it has sent all it meant to (its intro), waited for
        first; the quiet then covers only what is still on its way. Without it, a pause in the
        audio of a slow machine reads as the end of the speech."""
        deadline = time.monotonic() + timeout
        while not self.audio_messages or (spoken is not None and not spoken()):
            if time.monotonic() > deadline:
                raise TimeoutError("the agent never spoke" if not self.audio_messages else "the agent never finished")
            await asyncio.sleep(0.01)
        while time.monotonic() - self.audio_messages[-1].at < quiet_secs:
            remaining = quiet_secs - (time.monotonic() - self.audio_messages[-1].at)
            await asyncio.sleep(max(remaining, 0.01))
            if time.monotonic() > deadline:
                raise TimeoutError("the agent kept talking")

    async def send_stop(self) -> None:
        assert self._ws is not None
        await self._ws.send(json.dumps(self.wire.stop(self.call_id)))

    async def hang_up(self) -> float:
        """Close the socket from the carrier's side; returns when the close was sent."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        closed_at = time.monotonic()
        if self._ws is not None:
            await self._ws.close()
        return closed_at

    async def wait_closed_by_agent(self, timeout: float = 30) -> float:  # a hang guard only
        await asyncio.wait_for(self._closed.wait(), timeout)
        assert self.closed_at is not None
        return self.closed_at

    async def _stream_silence(self) -> None:
        assert self._ws is not None
        n = 0
        next_at = time.monotonic()
        try:
            while True:
                await self._ws.send(
                    json.dumps(self.wire.media(self.call_id, n, self.wire.inbound_frame))
                )
                n += 1
                next_at += self.wire.inbound_interval_secs
                await asyncio.sleep(max(next_at - time.monotonic(), 0))
        except ConnectionClosed:
            pass

    async def _receive(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                self.received.append(
                    AgentMessage(time.monotonic(), message, self.wire.agent_audio(message))
                )
        except ConnectionClosed:
            pass
        self.closed_at = time.monotonic()
        self._closed.set()
