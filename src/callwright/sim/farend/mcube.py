"""MCube's far end for click-to-call (carriers.md §5): MCube rings the executive, bridges the
customer, and posts JSON webhooks to ``refurl``.

The executive leg: when the executive number is one the simulator routes (a number of a
simulated Twilio, Plivo, Vobiz or Exotel account pointed somewhere, ``NumberBook.line_of``),
ringing it is an inbound call to that number on that carrier (``sim.inbound``), with its real
inbound request and media stream; the bridge carries the customer, so that leg's caller plays
the customer's scenario (``+91`` + ``custnumber``). Whichever side hangs up ends the other: the
leg's stream closing (the platform's agent ended the call) ends the MCube call, reported
``disconnectedby: Agent``; the customer hanging up (or a call-release) ends the leg. An executive
number routed nowhere leaves the call as before: no media leg.

Everything here beyond the documented field names is a guess: when each webhook goes out (one when
the customer answers, one at hang-up with ``endtime``), the time format and the values.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callwright.sim.calls import EndReason, SimCall
from callwright.sim.farend.base import FarEnd

IST = timezone(timedelta(hours=5, minutes=30))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# How long the customer talks when the scenario sets no hang-up time: its script, then a second.
TALK_TAIL_SECS = 1.0

# EndReason → dialstatus (§5: ANSWER | CANCEL | Executive Busy | Busy | NoAnswer).
DIAL_STATUS = {
    EndReason.BUSY: "Busy",
    EndReason.NO_ANSWER: "NoAnswer",
    EndReason.CANCELED: "CANCEL",
    EndReason.FAILED: "CANCEL",
}
KNOWN_FAILURES = ("Executive Busy", "Busy", "NoAnswer", "CANCEL")


class MCubeDial(BaseModel):
    """The JSON of ``POST /Restmcube-api/outbound-calls`` (§5); unknown fields are kept."""

    model_config = ConfigDict(extra="allow")

    HTTP_AUTHORIZATION: str | None = None
    exenumber: str = Field(min_length=1)
    custnumber: str = Field(min_length=1)
    refurl: str | None = None
    refid: str | None = None
    did: str | None = None


class MCubeFarEnd(FarEnd):
    carrier = "mcube"

    def __init__(self, *, dial: MCubeDial, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dial = dial
        self.leg: SimCall | None = None  # the executive leg, when the number routes to a carrier

    def on_initiated(self) -> None:
        """MCube rings the executive first: a call to our number on its carrier, if routed."""
        from callwright.sim.inbound import NotRouted, place_inbound_call

        executive = "+91" + self.dial.exenumber[-10:]
        line = self.switchboard.state.numbers.line_of(executive)
        if line is None:
            return
        provider, account_id = line
        customer = "+91" + self.dial.custnumber[-10:]
        try:
            self.leg = place_inbound_call(self.switchboard, provider, account_id, to=executive, from_=customer)
        except NotRouted as exc:
            self.call.notes.append(f"executive leg not placed: {exc}")
            return
        self.call.notes.append(f"executive leg {self.leg.call_id} on {provider.value}")
        self.background(self._follow_leg(self.leg))

    async def _follow_leg(self, leg: SimCall) -> None:
        """The executive hanging up (the platform closed the leg's stream) ends the bridge."""
        leg_end = leg.far_end.ending if isinstance(leg.far_end, FarEnd) else None
        if leg_end is None:
            return
        waits = {asyncio.ensure_future(leg_end.wait()), asyncio.ensure_future(self.ending.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        if self.call.end_reason is not None:
            return
        if self.call.answered_at is None:
            self.end(EndReason.FAILED)  # reported as the executive never taking the call
        elif leg.end_reason is EndReason.CALLEE_HUNG_UP:
            self.end(EndReason.CALLEE_HUNG_UP)  # the customer (the leg's caller) hung up
        else:
            self.end(EndReason.STREAM_CLOSED)  # the executive (our agent) hung up

    def _end_leg(self) -> None:
        leg = self.leg
        if leg is not None and isinstance(leg.far_end, FarEnd) and not leg.far_end.ending.is_set():
            leg.far_end.caller_hangs_up()

    @property
    def webhook_url(self) -> str | None:
        # refurl "1" means: use the URLs set in MCube's dashboard, which the simulator has none of.
        url = self.dial.refurl
        if not url or url == "1":
            return None
        if not getattr(self.account, "keeps_refurl_query", True):
            url = url.split("?", 1)[0]
        return url

    def time_text(self, at: float | None) -> str:
        moment = self.call.wall(at)
        return "" if moment is None else moment.astimezone(IST).strftime(TIME_FORMAT)

    def answered_text(self, *, ended: bool) -> str:
        call = self.call
        if getattr(self.account, "answeredtime", "timestamp") == "seconds":
            if call.answered_at is None or not ended or call.ended_at is None:
                return "0"
            return str(int(call.ended_at - call.answered_at))
        return self.time_text(call.answered_at)

    def webhook(self, dialstatus: str, *, ended: bool) -> dict[str, Any]:
        call = self.call
        body = {
            "callid": call.call_id,
            "refid": self.dial.refid,
            "starttime": self.time_text(0.0),
            "answeredtime": self.answered_text(ended=ended),
            "emp_phone": self.dial.exenumber,
            "clicktocalldid": self.dial.did or "",
            "callto": self.dial.custnumber,
            "dialstatus": dialstatus,
            "filename": "",
            "direction": "outbound",
        }
        if ended:
            body["endtime"] = self.time_text(call.ended_at)
            body["disconnectedby"] = call.hangup_source or ""
        return body

    def on_ringing(self) -> None:
        self.call.set_status("ringing")

    async def on_answered(self) -> None:
        self.call.set_status("ANSWER")
        self.notify("webhook", self.webhook_url, self.webhook("ANSWER", ended=False), body="json")
        scenario, track = self.call.scenario, self.call.caller_track
        if self.leg is not None:
            # Bridged: the conversation runs on the executive leg until one side hangs up.
            await self.ending.wait()
            return
        if scenario.hangs_up_after_secs is None:
            talk = (track.duration_secs if track is not None else 0.0) + TALK_TAIL_SECS
            if await self.wait(talk):
                self.end(EndReason.CALLEE_HUNG_UP)
        else:
            await self.ending.wait()  # the base ends it at hangs_up_after_secs

    def report_end(self) -> None:
        self._end_leg()
        call = self.call
        reason = call.end_reason or EndReason.SIMULATOR_STOPPED
        status = DIAL_STATUS.get(reason, "ANSWER")
        if reason is EndReason.FAILED and call.scenario.failure_cause in KNOWN_FAILURES:
            status = call.scenario.failure_cause or status
        call.set_status(status)
        call.hangup_cause = status
        if call.answered_at is not None:
            call.hangup_source = "Customer" if reason is EndReason.CALLEE_HUNG_UP else "Agent"
        self.notify("webhook", self.webhook_url, self.webhook(status, ended=True), body="json")
