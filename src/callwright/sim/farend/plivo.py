"""Plivo's far end (carriers.md §2): ring / answer / hangup callbacks signed V3, the answer XML's
``<Stream>``, the bidirectional audio stream, machine detection. Vobiz, a Plivo fork, subclasses it.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callwright.sim import signing
from callwright.sim.audio import MULAW_8K, AudioFormat
from callwright.sim.calls import EndReason
from callwright.sim.farend.base import FarEnd
from callwright.sim.farend.dial import PLIVO_WORDS, run_dial
from callwright.sim.farend.plivo_stream import PlivoStream
from callwright.sim.farend.stream import StreamEnd
from callwright.sim.scenarios import Outcome
from callwright.sim.state import PlivoAccount, VobizAccount

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # as in Plivo's and Vobiz's callbacks and call records


class PlivoDial(BaseModel):
    """The body of ``POST /Account/{id}/Call/`` (§1.3, §2.3); unknown fields are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    answer_url: str = Field(min_length=1)
    answer_method: str = "POST"
    ring_url: str | None = None
    ring_method: str = "POST"
    hangup_url: str | None = None
    hangup_method: str = "POST"
    fallback_url: str | None = None
    fallback_method: str = "POST"
    machine_detection: str | None = None  # "true" or "hangup"
    machine_detection_time: int = 5000
    machine_detection_url: str | None = None
    machine_detection_method: str = "POST"
    time_limit: int | None = None
    ring_timeout: int = 120  # Plivo's documented default (SDK 4.63)

    @field_validator("machine_detection", mode="before")
    @classmethod
    def _machine_detection_text(cls, value: Any) -> Any:
        return str(value).lower() if isinstance(value, bool) else value


# EndReason → (CallStatus, HangupCause, hangup_cause_code, hangup_cause_name, hangup_source).
# From plivo.com/docs/voice/troubleshooting/hangup-causes (mirrored by Vobiz): 4000 Normal Hangup,
# 4010 End Of XML Instructions, 1000 Canceled, 2000 Invalid Destination Address, and the sources.
# Guesses: the 3xxx codes and names for busy / no answer, time limit and machine hang-ups, the
# Error row, and CallStatus "completed" for a call canceled before answer.
# None as the source means the carrier itself ("Plivo" / "Vobiz").
END_WORDS: dict[EndReason, tuple[str, str, int, str, str | None]] = {
    EndReason.CALLEE_HUNG_UP: ("completed", "NORMAL_CLEARING", 4000, "Normal Hangup", "Callee"),
    EndReason.API_HANGUP: ("completed", "NORMAL_CLEARING", 4000, "Normal Hangup", "API Request"),
    EndReason.CANCELED: ("completed", "ORIGINATOR_CANCEL", 1000, "Canceled", "API Request"),
    EndReason.STREAM_CLOSED: (
        "completed",
        "NORMAL_CLEARING",
        4010,
        "End Of XML Instructions",
        None,
    ),
    EndReason.ANSWER_HANGUP: ("completed", "NORMAL_CLEARING", 4000, "Normal Hangup", "Answer XML"),
    EndReason.ANSWER_FAILED: ("completed", "NORMAL_TEMPORARY_FAILURE", 0, "Error", "Error"),
    EndReason.TIME_LIMIT: ("completed", "ALLOTTED_TIMEOUT", 4050, "Call Time Limit Reached", None),
    EndReason.MACHINE_HANGUP: ("completed", "NORMAL_CLEARING", 3040, "Machine Detected", None),
    EndReason.BUSY: ("busy", "USER_BUSY", 3000, "Busy Line", "Callee"),
    EndReason.NO_ANSWER: ("no-answer", "NO_ANSWER", 3020, "No Answer", "Callee"),
    EndReason.FAILED: ("failed", "UNALLOCATED_NUMBER", 2000, "Invalid Destination Address", None),
    EndReason.SIMULATOR_STOPPED: ("completed", "NORMAL_CLEARING", 0, "Unknown", "Unknown"),
}
# A scenario's own failure wording → (HangupCause, code); other wordings get code 0.
FAILURE_WORDS: dict[str, tuple[str, int]] = {
    "Invalid Destination Address": ("UNALLOCATED_NUMBER", 2000),
    "Destination Out Of Service": ("NO_ROUTE_DESTINATION", 2010),
    "No route to destination": ("NO_ROUTE_DESTINATION", 2010),
    "Destination Country Barred": ("CALL_REJECTED", 2030),
    "Invalid from number": ("CALL_REJECTED", 0),
}


class PlivoFarEnd(FarEnd):
    carrier = "plivo"
    carrier_name: ClassVar[str] = "Plivo"
    # Without contentType the stream is L16 at 8 kHz (§1.4, §2.4).
    default_content_type: ClassVar[str] = "audio/x-l16;rate=8000"
    allowed_rates: ClassVar[tuple[int, ...]] = (8000, 16000)
    inbound_l16_big_endian: ClassVar[bool] = False
    resource_prefix: ClassVar[str] = "/v1"
    stream_class: ClassVar[type[PlivoStream]] = PlivoStream

    # Guess: Plivo writes an inbound call's From and To without the "+" (as its Number API lists
    # numbers); Vobiz's pages show E.164.
    inbound_numbers_without_plus: ClassVar[bool] = True

    def __init__(
        self, *, dial: PlivoDial, request_uuid: str, call_uuid: str, inbound: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.dial = dial
        # An inbound call: the number's application gave the dial's answer_url and hangup_url.
        self.inbound = inbound
        self.request_uuid = request_uuid
        self.call_uuid = call_uuid
        self.stream: PlivoStream | None = None
        self.hangup_code: int | None = None
        self.hangup_q850: str | None = None  # HangupCause, the Q.850-style name
        self.redirect: tuple[str, str] | None = None  # a transfer's aleg_url and method

    @property
    def auth_token(self) -> str:
        assert isinstance(self.account, PlivoAccount | VobizAccount)
        return self.account.auth_token

    def sign(self, method: str, url: str, params: Mapping[str, str]) -> dict[str, str]:
        return signing.plivo_headers(
            auth_token=self.auth_token,
            method=method,
            url=url,
            params=params,
            main_account=self.account.account_id.startswith("MA"),
        )

    def ring_timeout_secs(self) -> float:
        return float(self.dial.ring_timeout)

    def time_limit_secs(self) -> float | None:
        return float(self.dial.time_limit) if self.dial.time_limit else None

    def call_params(self, status: str, event: str) -> dict[str, str]:
        if self.inbound:
            # No request: nobody dialled through the API (ALegRequestUUID is outbound only, §1.4).
            def number(value: str) -> str:
                return value.lstrip("+") if self.inbound_numbers_without_plus else value

            return {
                "CallUUID": self.call_uuid,
                "From": number(self.dial.from_),
                "To": number(self.dial.to),
                "CallStatus": status,
                "Direction": "inbound",
                "ALegUUID": self.call_uuid,
                "Event": event,
            }
        return {
            "CallUUID": self.call_uuid,
            "RequestUUID": self.request_uuid,
            "From": self.dial.from_,
            "To": self.dial.to,
            "CallStatus": status,
            "Direction": "outbound",
            "ALegUUID": self.call_uuid,
            "ALegRequestUUID": self.request_uuid,
            "Event": event,
        }

    # --- ringing and answer --------------------------------------------------------------------

    def on_ringing(self) -> None:
        self.call.set_status("ringing")
        params = self.call_params("ringing", "Ring")
        self.notify("ring", self.dial.ring_url, params, method=self.dial.ring_method)

    async def on_answered(self) -> None:
        self.call.set_status("in-progress")
        params = self.call_params("ringing" if self.inbound else "in-progress", "StartApp")
        machine = self.machine_verdict()
        if machine is not None and not self.dial.machine_detection_url:
            # Guess: synchronous detection holds the answer request and adds Machine to it.
            if not await self.wait(self.call.scenario.machine_detection_secs):
                return
            params["Machine"] = machine
            if self.hangs_up_on_machine(machine):
                return
        elif machine is not None:
            self.background(self.detect_machine(machine))
        document = await self.fetch_answer(params)
        if document is None:
            self.end(EndReason.ANSWER_FAILED)
            return
        await self.follow(document)

    async def fetch_answer(self, params: dict[str, str]) -> ET.Element | None:
        urls = [(self.dial.answer_url, self.dial.answer_method)]
        if self.dial.fallback_url:
            urls.append((self.dial.fallback_url, self.dial.fallback_method))
        for url, method in urls:
            record = await self.ask("answer", url, params, method=method)
            if record.status_code is None or not 200 <= record.status_code < 300:
                continue
            self.call.answer_document = record.body
            try:
                root = ET.fromstring(record.body)
            except ET.ParseError:
                self.call.notes.append("the answer XML does not parse")
                continue
            if root.tag != "Response":
                self.call.notes.append(f"the answer XML's root is <{root.tag}>, not <Response>")
                continue
            return root
        return None

    def transfer(self, url: str, method: str) -> None:
        """The Transfer API (``POST /Call/{uuid}/`` with ``legs=aleg``): leave the XML running now
        (its ``<Stream>`` ends) and run the one at ``url``."""
        self.redirect = (url, method)
        if self.stream is not None:
            self.background(self.stream.leave())

    async def follow(self, document: ET.Element) -> None:
        """Run the answer XML's verbs in order; when they run out, the call ends (§1.4). A
        transfer moves the call to the XML at its ``aleg_url``, and a ``<Dial>``'s action URL's
        answer is run once the dial is over."""
        for verb in document:
            if self.ending.is_set():
                return
            if self.redirect is not None:
                break
            if verb.tag == "Dial":
                fields = await run_dial(self, verb, PLIVO_WORDS)
                if fields is None:
                    return
                action = verb.get("action")
                if action:
                    await self.follow_url(action, verb.get("method") or "POST", {**self.call_params("in-progress", "Dial"), **fields})
                    return
                continue
            if verb.tag == "Speak":
                await self.say(verb.text or "")
                continue
            if verb.tag == "Conference":
                await self.conference(verb)
                continue
            if verb.tag == "Redirect":
                # The rest of this XML is dropped; the XML at the URL runs instead.
                url = (verb.text or "").strip()
                await self.follow_url(url, verb.get("method") or "POST", self.call_params("in-progress", "Redirect"))
                return
            if verb.tag == "Stream":
                if not await self.run_stream(verb):
                    return
            elif verb.tag == "Hangup":
                self.end(EndReason.ANSWER_HANGUP)
                return
            elif verb.tag == "Wait":
                await self.wait(float(verb.get("length", "1")))
            else:
                self.call.notes.append(f"<{verb.tag}> is not simulated; skipped")
        if self.redirect is not None and not self.ending.is_set():
            (url, method), self.redirect = self.redirect, None
            await self.follow_url(url, method, self.call_params("in-progress", "Transfer"))
            return
        self.end(EndReason.STREAM_CLOSED)

    async def follow_url(self, url: str, method: str, params: dict[str, str]) -> None:
        """Fetch the XML at ``url`` and run it; a failed fetch ends the call (Plivo hangs up)."""
        kind = "redirect" if params.get("Event") == "Redirect" else "transfer"
        record = await self.ask(kind, url, params, method=method)
        if record.status_code is None or not 200 <= record.status_code < 300:
            self.call.notes.append(f"the XML at {url} answered {record.status_code}: the call hangs up")
            self.end(EndReason.ANSWER_FAILED)
            return
        try:
            root = ET.fromstring(record.body)
        except ET.ParseError:
            self.call.notes.append(f"the XML at {url} does not parse")
            self.end(EndReason.ANSWER_FAILED)
            return
        await self.follow(root)

    async def run_stream(self, element: ET.Element) -> bool:
        """Stream to the element's URL; False when the call is over."""
        url = (element.text or "").strip()
        if urlsplit(url).query:
            # Neither Plivo's nor Vobiz's <Stream> docs promise that a stream URL's query string
            # reaches the WebSocket server, so the simulator does not carry it: whatever must
            # reach the server travels in the path (or extraHeaders).
            self.call.notes.append("<Stream> URL has a query string: not carried to the socket")
            url = urlunsplit(urlsplit(url)._replace(query=""))
        bidirectional = element.get("bidirectional", "false").lower() == "true"
        keep_alive = element.get("keepCallAlive", "false").lower() == "true"
        fmt = self.stream_format(element.get("contentType", self.default_content_type))
        if fmt is None:
            return True
        if bidirectional and element.get("audioTrack", "inbound") != "inbound":
            # §1.4: a bidirectional stream must take the inbound track, or the call hangs up.
            self.call.notes.append("bidirectional <Stream> with audioTrack other than inbound")
            return True
        if not bidirectional:
            self.call.notes.append("<Stream> is not bidirectional: the agent's audio is not played")
        self.call.stream_id = str(uuid.uuid4())
        self.switchboard.state.calls.alias(self.call, self.call.stream_id)
        stream = self.stream_class(
            self, url=url, fmt=fmt, element=element, bidirectional=bidirectional
        )
        self.stream = stream
        if not keep_alive:
            # §1.4: without keepCallAlive the XML moves on at once (and, with no more, hangs up).
            self.call.notes.append("<Stream> without keepCallAlive: the call does not wait for it")
            self.background(stream.run())
            return True
        ended = await stream.run()
        return ended is not StreamEnd.CALL_ENDED

    def stream_format(self, content_type: str) -> AudioFormat | None:
        kind, _, rate_part = content_type.replace(" ", "").partition(";rate=")
        rate = int(rate_part) if rate_part.isdigit() else 8000
        if kind == "audio/x-mulaw" and rate == 8000:
            return MULAW_8K
        if kind == "audio/x-l16" and rate in self.allowed_rates:
            return AudioFormat("l16", rate, big_endian=self.inbound_l16_big_endian)
        self.call.notes.append(
            f"<Stream> contentType {content_type!r} is not one {self.carrier_name} offers"
        )
        return None

    # --- machine detection (§1.7, §2.7) ----------------------------------------------------------

    def machine_verdict(self) -> str | None:
        if self.dial.machine_detection not in ("true", "hangup"):
            return None
        return "true" if self.call.scenario.outcome is Outcome.VOICEMAIL else "false"

    def hangs_up_on_machine(self, machine: str) -> bool:
        self.call.machine_result = machine
        if machine == "true" and self.dial.machine_detection == "hangup":
            self.end(EndReason.MACHINE_HANGUP)
            return True
        return False

    async def detect_machine(self, machine: str) -> None:
        if not await self.wait(self.call.scenario.machine_detection_secs):
            return
        params = {
            **self.call_params("in-progress", "MachineDetection"),
            "Machine": machine,
            "IfMachine": "hangup" if self.dial.machine_detection == "hangup" else "continue",
        }
        url, method = self.dial.machine_detection_url, self.dial.machine_detection_method
        self.notify("machine", url, params, method=method)
        self.hangs_up_on_machine(machine)

    # --- the end ---------------------------------------------------------------------------------

    def report_end(self) -> None:
        call = self.call
        reason = call.end_reason or EndReason.SIMULATOR_STOPPED
        status, cause, code, name, source = END_WORDS[reason]
        if reason is EndReason.FAILED and call.scenario.failure_cause:
            name = call.scenario.failure_cause
            cause, code = FAILURE_WORDS.get(name, ("CALL_REJECTED", 0))
        call.set_status(status)
        call.hangup_cause, call.hangup_source = name, source or self.carrier_name
        duration = self.duration_secs()
        params = {
            **self.call_params(status, "Hangup"),
            "HangupCause": cause,
            "HangupCauseCode": str(code),
            "HangupCauseName": name,
            "HangupSource": call.hangup_source,
            "Duration": str(duration),
            "BillDuration": str(duration),
            "StartTime": self.time_text(0.0),
            "AnswerTime": self.time_text(call.answered_at),
            "EndTime": self.time_text(call.ended_at),
        }
        self.hangup_code, self.hangup_q850 = code, cause
        self.notify("hangup", self.dial.hangup_url, params, method=self.dial.hangup_method)

    def time_text(self, at: float | None) -> str:
        moment = self.call.wall(at)
        return "" if moment is None else moment.strftime(TIME_FORMAT)
