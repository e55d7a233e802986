"""Vobiz's far end: Plivo's (Vobiz forked Plivo), with Vobiz's own differences (carriers.md §1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from callwright.sim import signing
from callwright.sim.farend.plivo import PlivoFarEnd
from callwright.sim.farend.plivo_stream import PlivoStream


class VobizStream(PlivoStream):
    # §1.5: playedStream is {event, name} only; clearedAudio is {event, streamId}.
    def played(self, name: str) -> dict[str, Any]:
        return {"event": "playedStream", "name": name}

    def cleared(self) -> dict[str, Any]:
        return {"event": "clearedAudio", "streamId": self.stream_id}

    async def on_other_message(self, event: str, message: dict[str, Any]) -> None:
        if event == "stop":
            # §1.5: the app's stop ends the stream; Vobiz moves to the next XML verb.
            self.check_stream_id(message)
            self.agent_stopped = True
            return
        await super().on_other_message(event, message)


class VobizFarEnd(PlivoFarEnd):
    carrier = "vobiz"
    carrier_name: ClassVar[str] = "Vobiz"
    allowed_rates: ClassVar[tuple[int, ...]] = (8000, 16000, 24000)
    # [conflict] §1.5: Vobiz documents inbound L16 as big-endian (playAudio stays little-endian).
    inbound_l16_big_endian: ClassVar[bool] = True
    resource_prefix: ClassVar[str] = "/api/v1"
    stream_class: ClassVar[type[PlivoStream]] = VobizStream
    inbound_numbers_without_plus: ClassVar[bool] = False

    def ring_timeout_secs(self) -> float:
        # docs.vobiz.ai/call/make-call documents no ring_timeout: a sent one is not honoured here.
        # Guess: Vobiz rings as long as Plivo's default (120 s).
        self.note_undocumented("ring_timeout")
        return 120.0

    def time_limit_secs(self) -> float | None:
        # No time_limit on Vobiz's make-call page either. Guess: the Dial element's default cap,
        # 14,400 s (docs.vobiz.ai/xml/dial, timeLimit).
        self.note_undocumented("time_limit")
        return 14_400.0

    def note_undocumented(self, field: str) -> None:
        note = f"{field} is not a documented make-call field: ignored"
        if field in (self.dial.model_extra or {}) | self.dial.model_dump(exclude_unset=True):
            if note not in self.call.notes:
                self.call.notes.append(note)

    def sign(self, method: str, url: str, params: Mapping[str, str]) -> dict[str, str]:
        # §1.9: Vobiz signs only the URL without its query, and the nonce; never the params.
        return signing.vobiz_headers(auth_token=self.auth_token, url=url)
