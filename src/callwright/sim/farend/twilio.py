"""Twilio's far end (carriers.md §3): status callbacks, the ``Url`` webhook and its TwiML,
``<Connect><Stream>``, answering-machine detection; every request signed X-Twilio-Signature.
"""

from __future__ import annotations

import math
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from email.utils import format_datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callwright.sim import signing
from callwright.sim.calls import EndReason
from callwright.sim.farend.base import FarEnd
from callwright.sim.farend.dial import TWILIO_WORDS, run_dial
from callwright.sim.farend.twilio_stream import TwilioStream
from callwright.sim.scenarios import Outcome
from callwright.sim.state import TwilioAccount

API_VERSION = "2010-04-01"


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


class TwilioDial(BaseModel):
    """The form of ``POST /Accounts/{AC}/Calls.json`` (§3.3); unknown fields are kept."""

    model_config = ConfigDict(extra="allow")

    To: str = Field(min_length=1)
    From: str = Field(min_length=1)
    Url: str | None = None
    Twiml: str | None = None
    ApplicationSid: str | None = None
    Method: str = "POST"
    FallbackUrl: str | None = None
    FallbackMethod: str = "POST"
    StatusCallback: str | None = None
    StatusCallbackEvent: list[str] = Field(default_factory=list)
    StatusCallbackMethod: str = "POST"
    Timeout: int = Field(default=60, ge=1, le=600)
    TimeLimit: int = Field(default=14400, ge=1)
    MachineDetection: str | None = None  # Enable | DetectMessageEnd
    AsyncAmd: str | None = None
    AsyncAmdStatusCallback: str | None = None
    AsyncAmdStatusCallbackMethod: str = "POST"

    def events(self) -> set[str]:
        # Repeated, or (some clients) space-separated; only "completed" when none is given.
        named = {word for value in self.StatusCallbackEvent for word in value.split()}
        return named or {"completed"}


# EndReason → (CallStatus, SipResponseCode) in the completed callback (§3.6). Guess: the SIP codes.
END_WORDS: dict[EndReason, tuple[str, int]] = {
    EndReason.CANCELED: ("canceled", 487),
    EndReason.BUSY: ("busy", 486),
    EndReason.NO_ANSWER: ("no-answer", 487),
    EndReason.FAILED: ("failed", 404),
}


class TwilioFarEnd(FarEnd):
    carrier = "twilio"

    def __init__(self, *, dial: TwilioDial, inbound: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dial = dial
        # An inbound call: the number's VoiceUrl is the dial's Url (§3.10).
        self.inbound = inbound
        self.sequence = 0
        self.stream: TwilioStream | None = None
        self.stream_status: tuple[str | None, str] = (None, "POST")
        self.redirect: str | None = None  # TwiML from a call update, run in place of the current
        self.redirect_url: tuple[str, str] | None = None  # or the Url (and Method) of one

    @property
    def auth_token(self) -> str:
        assert isinstance(self.account, TwilioAccount)
        return self.account.auth_token

    def sign(self, method: str, url: str, params: Mapping[str, str]) -> dict[str, str]:
        return signing.twilio_headers(auth_token=self.auth_token, url=url, params=params)

    def ring_timeout_secs(self) -> float:
        return float(self.dial.Timeout)

    def time_limit_secs(self) -> float | None:
        return float(self.dial.TimeLimit)

    def call_params(self, status: str) -> dict[str, str]:
        return {
            "AccountSid": self.account.account_id,
            "ApiVersion": API_VERSION,
            "CallSid": self.call.call_id,
            "CallStatus": status,
            "Called": self.dial.To,
            "Caller": self.dial.From,
            "Direction": "inbound" if self.inbound else "outbound-api",
            "From": self.dial.From,
            "To": self.dial.To,
        }

    def timestamp(self) -> str:
        """Now, as Twilio's callbacks write it (RFC 2822)."""
        return format_datetime(self.call.wall(self.call.now()) or self.call.created_wall)

    def status_callback(self, event: str, status: str, **extra: str) -> None:
        """A call-progress event, if the dial asked for it (§3.6)."""
        if event not in self.dial.events():
            return
        params = {
            **self.call_params(status),
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self.sequence),
            "Timestamp": self.timestamp(),
            **extra,
        }
        self.sequence += 1
        url, method = self.dial.StatusCallback, self.dial.StatusCallbackMethod
        self.notify("status", url, params, method=method)

    # --- the call ----------------------------------------------------------------------------

    def on_initiated(self) -> None:
        self.call.set_status("queued")
        self.status_callback("initiated", "initiated")

    def on_ringing(self) -> None:
        self.call.set_status("ringing")
        self.status_callback("ringing", "ringing")

    async def on_answered(self) -> None:
        self.call.set_status("in-progress")
        self.status_callback("answered", "in-progress")
        # An inbound call's VoiceUrl request comes while it rings: the TwiML answers it (§3.10).
        params = self.call_params("ringing" if self.inbound else "in-progress")
        verdict = self.machine_verdict()
        if verdict is not None:
            answered_by, after = verdict
            if self.dial.AsyncAmd == "true":
                self.background(self.report_machine(answered_by, after))
            else:
                # Synchronous AMD: the Url request waits for the verdict and carries it (§3.7).
                if not await self.wait(after):
                    return
                self.call.machine_result = answered_by
                params["AnsweredBy"] = answered_by
                params["MachineDetectionDuration"] = str(int(after * 1000))
        document = await self.fetch_twiml(params)
        if document is None:
            self.end(EndReason.ANSWER_FAILED)
            return
        await self.follow(document)

    async def fetch_twiml(self, params: dict[str, str]) -> ET.Element | None:
        if self.dial.Twiml:
            return self.parse_twiml(self.dial.Twiml)
        dial = self.dial
        for url, method in ((dial.Url, dial.Method), (dial.FallbackUrl, dial.FallbackMethod)):
            if not url:
                continue
            record = await self.ask("answer", url, params, method=method)
            if record.status_code is not None and 200 <= record.status_code < 300:
                document = self.parse_twiml(record.body)
                if document is not None:
                    return document
        return None

    def parse_twiml(self, text: str) -> ET.Element | None:
        self.call.answer_document = text
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            self.call.notes.append("the TwiML does not parse")
            return None
        if root.tag != "Response":
            self.call.notes.append(f"the TwiML's root is <{root.tag}>, not <Response>")
            return None
        return root

    def update_twiml(self, twiml: str) -> None:
        """A call update with ``Twiml``: the running TwiML stops (its stream gets ``stop``) and
        the new TwiML runs."""
        self.redirect = twiml
        if self.stream is not None:
            self.background(self.stream.leave())

    def update_url(self, url: str, method: str) -> None:
        """A call update with ``Url``: the running TwiML stops and Twilio runs the TwiML it
        fetches there."""
        self.redirect_url = (url, method)
        if self.stream is not None:
            self.background(self.stream.leave())

    async def follow_url(self, url: str, method: str) -> None:
        """Fetch the TwiML at ``url`` (a ``<Redirect>`` or a call update's ``Url``) and run it; a
        failed fetch ends the call."""
        record = await self.ask("redirect", url, self.call_params("in-progress"), method=method.upper())
        answered = record.status_code is not None and 200 <= record.status_code < 300
        document = self.parse_twiml(record.body) if answered else None
        if document is None:
            self.end(EndReason.ANSWER_FAILED)
            return
        await self.follow(document)

    async def follow(self, document: ET.Element) -> None:
        """Run the TwiML's verbs; ``<Connect><Stream>`` blocks while the socket is open (§3.4). A
        call update's TwiML replaces it; a ``<Dial>``'s action URL's answer runs after the dial."""
        for verb in document:
            if self.ending.is_set():
                return
            if self.redirect is not None or self.redirect_url is not None:
                break
            if verb.tag == "Dial" and verb.find("Conference") is not None:
                conference = verb.find("Conference")
                assert conference is not None
                await self.conference(conference)
                continue
            if verb.tag == "Redirect":
                # The rest of this TwiML is dropped; the TwiML at the URL runs instead.
                await self.follow_url((verb.text or "").strip(), verb.get("method") or "POST")
                return
            if verb.tag == "Dial":
                fields = await run_dial(self, verb, TWILIO_WORDS)
                if fields is None:
                    return
                action = verb.get("action")
                if action:
                    params = {**self.call_params("in-progress"), **fields}
                    record = await self.ask("dial", action, params, method=verb.get("method") or "POST")
                    answered = record.status_code is not None and 200 <= record.status_code < 300
                    document_after = self.parse_twiml(record.body) if answered else None
                    if document_after is None:
                        self.end(EndReason.ANSWER_FAILED)
                        return
                    await self.follow(document_after)
                    return
                continue
            if verb.tag == "Say":
                await self.say(verb.text or "")
                continue
            if verb.tag == "Connect":
                stream = verb.find("Stream")
                if stream is None:
                    self.call.notes.append("<Connect> without <Stream> is not simulated")
                    continue
                if not await self.run_stream(stream):
                    return
            elif verb.tag == "Hangup":
                self.end(EndReason.ANSWER_HANGUP)
                return
            elif verb.tag == "Pause":
                await self.wait(float(verb.get("length", "1")))
            else:
                self.call.notes.append(f"<{verb.tag}> is not simulated; skipped")
        if self.redirect_url is not None and not self.ending.is_set():
            (url, method), self.redirect_url = self.redirect_url, None
            await self.follow_url(url, method)
            return
        if self.redirect is not None and not self.ending.is_set():
            twiml, self.redirect = self.redirect, None
            document_next = self.parse_twiml(twiml)
            if document_next is None:
                self.end(EndReason.ANSWER_FAILED)
                return
            await self.follow(document_next)
            return
        self.end(EndReason.STREAM_CLOSED)

    async def run_stream(self, element: ET.Element) -> bool:
        url = element.get("url", "")
        parameters = {
            parameter.get("name", ""): parameter.get("value", "")
            for parameter in element.findall("Parameter")
            if parameter.get("name")
        }
        stream_sid = new_sid("MZ")
        self.call.stream_id = stream_sid
        self.switchboard.state.calls.alias(self.call, stream_sid)
        status_method = element.get("statusCallbackMethod") or "POST"
        self.stream_status = (element.get("statusCallback"), status_method)
        # §3.9 (from memory): the upgrade is signed like a webhook, over the wss URL, no params.
        headers = signing.twilio_headers(auth_token=self.auth_token, url=url, params={})
        self.stream = TwilioStream(
            self, url=url, stream_sid=stream_sid, parameters=parameters, headers=headers
        )
        await self.stream.run()
        return not self.ending.is_set()

    def stream_event(self, event: str, stream_sid: str) -> None:
        url, method = self.stream_status
        params = {
            "AccountSid": self.account.account_id,
            "CallSid": self.call.call_id,
            "StreamSid": stream_sid,
            "StreamEvent": event,
            "Timestamp": self.timestamp(),
        }
        self.notify("stream", url, params, method=method)

    # --- answering-machine detection (§3.7) ---------------------------------------------------

    def machine_verdict(self) -> tuple[str, float] | None:
        """(AnsweredBy, seconds after answer it is known), if the dial asked for detection."""
        mode = self.dial.MachineDetection
        if mode not in ("Enable", "DetectMessageEnd"):
            return None
        scenario = self.call.scenario
        if scenario.outcome is not Outcome.VOICEMAIL:
            return "human", scenario.machine_detection_secs
        track = self.call.caller_track
        if mode == "DetectMessageEnd" and track is not None and track.speech:
            return "machine_end_beep", track.speech[-1].ends_at
        return "machine_start", scenario.machine_detection_secs

    async def report_machine(self, answered_by: str, after: float) -> None:
        if not await self.wait(after):
            return
        self.call.machine_result = answered_by
        params = {
            "AccountSid": self.account.account_id,
            "CallSid": self.call.call_id,
            "AnsweredBy": answered_by,
            "MachineDetectionDuration": str(int(after * 1000)),
        }
        url, method = self.dial.AsyncAmdStatusCallback, self.dial.AsyncAmdStatusCallbackMethod
        self.notify("machine", url, params, method=method)

    # --- the end -----------------------------------------------------------------------------

    def report_end(self) -> None:
        reason = self.call.end_reason or EndReason.SIMULATOR_STOPPED
        status, sip = END_WORDS.get(reason, ("completed", 200))
        self.call.set_status(status)
        self.call.hangup_cause = status
        duration = self.duration_secs()
        extra = {
            "CallDuration": str(duration),
            "Duration": str(math.ceil(duration / 60)),  # billed minutes
            "SipResponseCode": str(sip),
        }
        self.status_callback("completed", status, **extra)
