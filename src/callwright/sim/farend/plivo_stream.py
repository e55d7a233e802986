"""Plivo's and Vobiz's audio-stream WebSocket protocol (carriers.md §1.5, §2.5).

Carrier → app: ``start`` (ids nested under ``start``), ``media`` every 20 ms, ``dtmf``,
``playedStream`` once the audio before a checkpoint has played, ``clearedAudio``. App → carrier:
``playAudio``, ``checkpoint``, ``clearAudio`` (and, on Vobiz, ``stop``). There is no inbound
``stop``: the end of the call closes the socket.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from callwright.sim.audio import MULAW_8K, AudioFormat
from callwright.sim.farend.stream import MediaStream

if TYPE_CHECKING:
    from callwright.sim.farend.plivo import PlivoFarEnd


class PlivoStream(MediaStream):
    far_end: PlivoFarEnd

    def __init__(
        self,
        far_end: PlivoFarEnd,
        *,
        url: str,
        fmt: AudioFormat,
        element: ET.Element,
        bidirectional: bool,
    ) -> None:
        super().__init__(far_end, url=url, fmt=fmt)
        self.extra_headers = element.get("extraHeaders", "")
        self.bidirectional = bidirectional
        self.status_url = element.get("statusCallbackUrl")
        self.status_method = element.get("statusCallbackMethod", "POST")
        # The sequence starts at 0 with start (guess; the docs show only later numbers).
        self.sequence = -1

    @property
    def stream_id(self) -> str:
        assert self.call.stream_id is not None
        return self.call.stream_id

    def encoding(self) -> str:
        return "audio/x-mulaw" if self.fmt.encoding == "mulaw" else "audio/x-l16"

    def opening(self) -> list[dict[str, Any]]:
        self.stream_event("StartStream")
        return [
            {
                "event": "start",
                "sequenceNumber": self.next_sequence(),
                "start": {
                    "callId": self.far_end.call_uuid,
                    "streamId": self.stream_id,
                    "accountId": self.far_end.account.account_id,
                    "tracks": ["inbound"],
                    "mediaFormat": {
                        "encoding": self.encoding(),
                        "sampleRate": self.fmt.sample_rate,
                    },
                },
                "extra_headers": self.extra_headers,
            }
        ]

    def media(self, payload: str, chunk: int, timestamp_ms: int) -> dict[str, Any]:
        return {
            "event": "media",
            "sequenceNumber": self.next_sequence(),
            "streamId": self.stream_id,
            "media": {
                "track": "inbound",
                "timestamp": str(timestamp_ms),
                "chunk": chunk,
                "payload": payload,
            },
            "extra_headers": self.extra_headers,
        }

    def dtmf(self, digit: str, timestamp_ms: int) -> dict[str, Any] | None:
        return {
            "event": "dtmf",
            "sequenceNumber": self.next_sequence(),
            "streamId": self.stream_id,
            "dtmf": {"track": "inbound", "digit": digit, "timestamp": str(timestamp_ms)},
            "extra_headers": self.extra_headers,
        }

    def played(self, name: str) -> dict[str, Any]:
        return {
            "event": "playedStream",
            "sequenceNumber": self.next_sequence(),
            "streamId": self.stream_id,
            "name": name,
        }

    def cleared(self) -> dict[str, Any]:
        sequence = self.next_sequence()
        return {"event": "clearedAudio", "sequenceNumber": sequence, "streamId": self.stream_id}

    def play_format(self, media: dict[str, Any]) -> AudioFormat | None:
        content_type = str(media.get("contentType", ""))
        rate = int(media.get("sampleRate") or 8000)
        if content_type == "audio/x-mulaw" and rate == 8000:
            return MULAW_8K
        if content_type == "audio/x-l16" and rate in self.far_end.allowed_rates:
            # §1.5: playAudio L16 is little-endian, whatever the inbound byte order.
            return AudioFormat("l16", rate)
        self.call.notes.append(f"playAudio of {content_type!r} at {rate} Hz is refused")
        return None

    async def on_message(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event == "playAudio":
            media = message.get("media")
            if not isinstance(media, dict):
                self.call.notes.append("playAudio without a media object")
                return
            fmt = self.play_format(media)
            audio = self.decode(media.get("payload"))
            if fmt is not None and audio is not None and self.bidirectional:
                self.play(audio, fmt)
        elif event == "checkpoint":
            self.check_stream_id(message)
            self.mark(str(message.get("name", "")))
        elif event == "clearAudio":
            self.check_stream_id(message)
            # §2.5/§6: the checkpoints of dropped audio are never acknowledged.
            self.clear()
            await self.send(self.cleared())
        else:
            await self.on_other_message(event, message)

    async def on_other_message(self, event: str, message: dict[str, Any]) -> None:
        self.call.notes.append(f"agent sent {event!r}, which {self.far_end.carrier_name} ignores")

    def check_stream_id(self, message: dict[str, Any]) -> None:
        if message.get("streamId") != self.stream_id:
            self.call.notes.append(f"{message['event']} with streamId {message.get('streamId')!r}")

    def stream_event(self, event: str) -> None:
        """The <Stream statusCallbackUrl> notice (§1.6, §2.4)."""
        params = {
            "Event": event,
            "StreamID": self.stream_id,
            "CallUUID": self.far_end.call_uuid,
            "ServiceURL": self.url,
            "Timestamp": self.far_end.time_text(self.call.now()),
        }
        self.far_end.notify("stream", self.status_url, params, method=self.status_method)

    async def run(self):
        try:
            return await super().run()
        finally:
            if self.call.media_started_at is not None:
                self.stream_event("StopStream")
