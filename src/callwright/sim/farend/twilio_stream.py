"""Twilio Media Streams, bidirectional (carriers.md §3.5).

Twilio → app: ``connected``, ``start`` (ids nested under ``start``; ``streamSid`` and a string
``sequenceNumber`` on every message after ``connected``), ``media`` every 20 ms (160 B µ-law),
``dtmf``, ``mark`` once the audio before it has played (and at once when a ``clear`` drops it),
``stop`` before Twilio closes the socket. App → Twilio: ``media``, ``mark``, ``clear``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from callwright.sim.audio import MULAW_8K
from callwright.sim.farend.stream import MediaStream

if TYPE_CHECKING:
    from callwright.sim.farend.twilio import TwilioFarEnd


class TwilioStream(MediaStream):
    far_end: TwilioFarEnd

    def __init__(
        self,
        far_end: TwilioFarEnd,
        *,
        url: str,
        stream_sid: str,
        parameters: dict[str, str],
        headers: dict[str, str],
    ) -> None:
        super().__init__(far_end, url=url, fmt=MULAW_8K, headers=headers)
        self.stream_sid = stream_sid
        self.parameters = parameters

    def seq(self) -> str:
        return str(self.next_sequence())

    def opening(self) -> list[dict[str, Any]]:
        self.far_end.stream_event("stream-started", self.stream_sid)
        return [
            {"event": "connected", "protocol": "Call", "version": "1.0.0"},
            {
                "event": "start",
                "sequenceNumber": self.seq(),
                "start": {
                    "accountSid": self.far_end.account.account_id,
                    "streamSid": self.stream_sid,
                    "callSid": self.far_end.call.call_id,
                    "tracks": ["inbound"],
                    "customParameters": self.parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
                "streamSid": self.stream_sid,
            },
        ]

    def media(self, payload: str, chunk: int, timestamp_ms: int) -> dict[str, Any]:
        return {
            "event": "media",
            "sequenceNumber": self.seq(),
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(timestamp_ms),
                "payload": payload,
            },
            "streamSid": self.stream_sid,
        }

    def dtmf(self, digit: str, timestamp_ms: int) -> dict[str, Any] | None:
        return {
            "event": "dtmf",
            "streamSid": self.stream_sid,
            "sequenceNumber": self.seq(),
            "dtmf": {"track": "inbound_track", "digit": digit},
        }

    def played(self, name: str) -> dict[str, Any]:
        return {
            "event": "mark",
            "sequenceNumber": self.seq(),
            "streamSid": self.stream_sid,
            "mark": {"name": name},
        }

    def closing(self) -> list[dict[str, Any]]:
        stop = {"accountSid": self.far_end.account.account_id, "callSid": self.far_end.call.call_id}
        head = {"event": "stop", "sequenceNumber": self.seq(), "streamSid": self.stream_sid}
        return [{**head, "stop": stop}]

    async def on_message(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if message.get("streamSid") != self.stream_sid:
            self.call.notes.append(f"{event} with streamSid {message.get('streamSid')!r}")
        if event == "media":
            media = message.get("media")
            audio = self.decode(media.get("payload")) if isinstance(media, dict) else None
            if audio is not None:
                self.play(audio)
        elif event == "mark":
            mark = message.get("mark")
            self.mark(str(mark.get("name", "")) if isinstance(mark, dict) else "")
        elif event == "clear":
            # §3.5: the marks of the dropped audio come back at once.
            for name in self.clear().pending_marks:
                await self.send(self.played(name))
        else:
            self.call.notes.append(f"agent sent {event!r}, which Twilio ignores")

    async def run(self):
        try:
            return await super().run()
        finally:
            if self.call.media_started_at is not None:
                self.far_end.stream_event("stream-stopped", self.stream_sid)
