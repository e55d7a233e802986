"""Exotel's AgentStream media socket: its ``start`` message in either spelling, and our outbound
media as Exotel's own reference bots send it (paced in real time, 16-bit PCM or µ-law).

Sources (see docs/carriers-exotel-mcube-fidelity.md):
- developer.exotel.com/docs/agentstream/websocket-protocol: snake_case keys (``stream_sid``,
  ``call_sid``, ``media_format``), 16-bit PCM at 8 kHz by default.
- Exotel's own reference code (github.com/exotel/Agent-Stream): its WSS host reads the stream id
  as ``streamSid`` first, then ``stream_sid``; its bots send ``{"event": "media", "streamSid",
  "media": {"payload", "chunk" | "timestamp" + "sequenceNumber"}}`` and sleep for each chunk's
  duration before sending the next.
- support.exotel.com "Working with the Stream applet": outbound chunks ≥ 3.2 KB, ≤ 100 KB, in
  multiples of 320 B.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pipecat.audio.utils import pcm_to_ulaw, ulaw_to_pcm
from pipecat.frames.frames import AudioRawFrame, Frame, InputAudioRawFrame, InterruptionFrame
from pipecat.serializers.exotel import ExotelFrameSerializer

from callwright.carriers._wire import as_int
from callwright.carriers.base import MediaStart, NotSupported

# The stream encodings we can carry, by every name an Exotel start message (or the beta extension
# guide's MediaFormat) is known to use. Anything else is refused by name, never guessed at.
PCM16 = "pcm16"
MULAW = "mulaw"
STREAM_ENCODINGS: Mapping[str, str] = {
    "audio/x-raw": PCM16,  # the AgentStream protocol page's start example
    "raw": PCM16,
    "slin": PCM16,  # "raw/slin" in the protocol page's prose
    "raw/slin": PCM16,
    "audio/l16": PCM16,  # beta extension guide: audio/L16;rate=8000
    "audio/x-l16": PCM16,
    "pcm": PCM16,
    "linear16": PCM16,
    "audio/x-mulaw": MULAW,  # beta extension guide: audio/x-mulaw;rate=8000
    "audio/mulaw": MULAW,
    "mulaw": MULAW,
    "ulaw": MULAW,
    "pcmu": MULAW,
    "audio/pcmu": MULAW,
}


def stream_encoding(encoding: str, configured: str | None = None) -> str:
    """``pcm16`` or ``mulaw``: the connection's setting when it has one, else the start's."""
    if configured in (PCM16, MULAW):
        return configured
    name = encoding.split(";", 1)[0].strip().lower()
    if name not in STREAM_ENCODINGS:
        raise NotSupported(
            f"Exotel stream encoding {encoding!r} is not supported: expected 16-bit PCM "
            "(audio/x-raw) or µ-law (audio/x-mulaw); set the connection's stream_encoding"
        )
    return STREAM_ENCODINGS[name]


def _first(mappings: tuple[Mapping[str, Any], ...], *keys: str) -> Any:
    for mapping in mappings:
        for key in keys:
            value = mapping.get(key)
            if value not in (None, ""):
                return value
    return None


def parse_start(message: Mapping[str, Any]) -> MediaStart | None:
    """The ``start`` message in Exotel's documented snake_case or its reference code's camelCase."""
    start = message.get("start")
    if message.get("event") != "start" or not isinstance(start, Mapping):
        return None
    both = (start, message)
    stream_sid = _first(both, "stream_sid", "streamSid")
    call_sid = _first(both, "call_sid", "callSid")
    if not stream_sid or not call_sid:
        return None  # a start naming no stream or call identifies nothing
    media_format = _first((start,), "media_format", "mediaFormat")
    media_format = media_format if isinstance(media_format, Mapping) else {}
    custom = _first((start,), "custom_parameters", "customParameters")
    custom = custom if isinstance(custom, Mapping) else {}
    rate = as_int(str(_first((media_format,), "sample_rate", "sampleRate") or "").lower().removesuffix("hz"))
    return MediaStart(
        stream_id=str(stream_sid),
        provider_call_id=str(call_sid),
        custom_parameters={str(k): str(v) for k, v in custom.items()},
        encoding=str(media_format.get("encoding") or "audio/x-raw"),
        sample_rate=rate or 8000,
    )


Sleep = Callable[[float], Awaitable[None]]


class ExotelMediaSerializer(ExotelFrameSerializer):
    """Pipecat's Exotel serializer, with outbound media shaped and paced as Exotel's bots send it,
    and µ-law streams carried (pipecat's passes 16-bit PCM only)."""

    def __init__(
        self,
        stream_sid: str,
        *,
        call_sid: str,
        sample_rate: int,
        encoding: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        params = ExotelFrameSerializer.InputParams(exotel_sample_rate=sample_rate)
        super().__init__(stream_sid, call_sid=call_sid, params=params)
        self.encoding = encoding
        self._clock, self._sleep = clock, sleep
        self._started: float | None = None  # when the first outbound chunk went out
        self._next_at = 0.0  # when the caller will have heard everything sent so far
        self._sequence = 0
        self._chunk = 0

    @property
    def bytes_per_second(self) -> int:
        return self._exotel_sample_rate * (1 if self.encoding == MULAW else 2)

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, InterruptionFrame):
            self._next_at = 0.0  # Exotel drops what it had queued: nothing left to wait for
            return json.dumps({"event": "clear", "stream_sid": self._stream_sid, "streamSid": self._stream_sid})
        if isinstance(frame, AudioRawFrame):
            return await self._media(frame)
        return await super().serialize(frame)

    async def _media(self, frame: AudioRawFrame) -> str | None:
        audio: bytes | None
        if self.encoding == MULAW:
            audio = await pcm_to_ulaw(frame.audio, frame.sample_rate, self._exotel_sample_rate, self._output_resampler)
        else:
            audio = await self._output_resampler.resample(frame.audio, frame.sample_rate, self._exotel_sample_rate)
        if not audio:
            return None
        await self._pace(len(audio) / self.bytes_per_second)
        now = self._clock()
        if self._started is None:
            self._started = now
        self._sequence += 1
        self._chunk += 1
        media = {
            "chunk": self._chunk,
            "timestamp": str(int((now - self._started) * 1000)),
            "sequenceNumber": str(self._sequence),
            "payload": base64.b64encode(audio).decode("ascii"),
        }
        message = {
            "event": "media",
            "stream_sid": self._stream_sid,  # the protocol page's spelling
            "streamSid": self._stream_sid,  # the reference bots' spelling
            "sequence_number": self._sequence,
            "media": media,
        }
        return json.dumps(message)

    async def _pace(self, duration: float) -> None:
        """Real time: a chunk goes out when the caller has heard all but the one before it, so
        Exotel holds at most two chunks and a barge-in's ``clear`` drops little."""
        now = self._clock()
        ahead = self._next_at - now
        if ahead > duration + 1e-6:  # float noise is no reason to wait
            await self._sleep(ahead - duration)
            now = self._clock()
        self._next_at = max(self._next_at, now) + duration

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if self.encoding != MULAW:
            return await super().deserialize(data)
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            return None
        media = message.get("media") if isinstance(message, dict) else None
        if not isinstance(message, dict) or message.get("event") != "media" or not isinstance(media, dict):
            return await super().deserialize(data)
        payload = media.get("payload")
        if not payload:
            return None
        pcm = await ulaw_to_pcm(base64.b64decode(payload), self._exotel_sample_rate, self._sample_rate, self._input_resampler)
        if not pcm:
            return None
        return InputAudioRawFrame(audio=pcm, num_channels=1, sample_rate=self._sample_rate)
