"""Exotel's far end for Connect Voice AI (carriers.md §4.3–§4.6): no answer URL; on answer Exotel
opens the dial's stream URL itself and speaks the AgentStream protocol (snake_case, PCM16 LE;
or, per account, camelCase keys and µ-law); StatusCallback posts are multipart and unsigned (§4.9).

Exotel has no "ringing" status: a call reads "in-progress" from the dial until it ends, so a
ringing event says in-progress too, and only EventType=answered (or the stream's start) means the
call was answered (developer.exotel.com call details and status-callback pages).
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from callwright.sim.audio import AudioFormat
from callwright.sim.calls import EndReason
from callwright.sim.farend.base import FarEnd
from callwright.sim.farend.stream import MediaStream

IST = timezone(timedelta(hours=5, minutes=30))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# [conflict] §4.5 says media arrives "every ~100 ms (3200 B at 8k)", but 3200 B of 16-bit audio at
# 8 kHz lasts 200 ms. The simulator keeps the documented size and real time: 3200 B every 200 ms.
INBOUND_FRAME_MS = 200
# §4.5: an agent media chunk must be ≥ 3.2 KB, ≤ 100 KB and a multiple of 320 B (at 8 kHz; scaled
# with the sample rate here, which is a guess: the rule for 16k/24k is not documented).
MIN_CHUNK_8K, STEP_8K, MAX_CHUNK = 3200, 320, 100 * 1024
MAX_CUSTOM_PARAMETERS = 3


class ExotelDial(BaseModel):
    """The connect form, with keys lower-cased and ``[]`` dropped (both spellings of §4.3)."""

    model_config = ConfigDict(extra="allow")

    from_: str = Field(alias="from", min_length=1)
    callerid: str = Field(min_length=1)
    streamurl: str | None = None
    streamtype: str | None = None
    url: str | None = None
    statuscallback: str | None = None
    statuscallbackevents: list[str] = Field(default_factory=list)
    timelimit: int = Field(default=14400, ge=1, le=14400)
    timeout: int = Field(default=45, ge=1)
    customfield: str | None = None


# EndReason → Status in the terminal callback (§4.6). Guess: a cancel before answer reads no-answer.
END_STATUS = {
    EndReason.BUSY: "busy",
    EndReason.NO_ANSWER: "no-answer",
    EndReason.CANCELED: "no-answer",
    EndReason.FAILED: "failed",
}


def stream_target(streamurl: str) -> tuple[str, dict[str, str], int, dict[str, str]]:
    """(URL to dial, upgrade headers, sample rate, custom parameters) for the stream URL (§4.4)."""
    parts = urlsplit(streamurl)
    headers = {}
    if parts.username is not None:
        # wss://KEY:TOKEN@host/… : Exotel strips the credentials and sends them as Basic auth.
        credentials = f"{parts.username}:{parts.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    rate = int(query.pop("sample-rate", "8000") or 8000)
    custom = dict(list(query.items())[:MAX_CUSTOM_PARAMETERS])
    return url, headers, rate, custom


class ExotelFarEnd(FarEnd):
    carrier = "exotel"

    def __init__(self, *, dial: ExotelDial, applet_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dial = dial
        # An inbound call to an ExoPhone: the Voicebot applet's URL in the ExoPhone's flow, an
        # https endpoint answering {"url": "wss://…"} (§4.4). None: Connect Voice AI's streamurl.
        self.applet_url = applet_url

    def ring_timeout_secs(self) -> float:
        return float(self.dial.timeout)

    def time_limit_secs(self) -> float | None:
        return float(self.dial.timelimit)

    def time_text(self, at: float | None) -> str | None:
        moment = self.call.wall(at)
        return None if moment is None else moment.astimezone(IST).strftime(TIME_FORMAT)

    def status_callback(self, event: str, status: str) -> None:
        if event not in self.dial.statuscallbackevents:
            return
        params = self.event_params(event, status)
        self.notify("status", self.dial.statuscallback, params, body="multipart")

    def event_params(self, event: str, status: str) -> dict[str, Any]:
        call = self.call
        duration = self.duration_secs()
        params = {
            "CallSid": call.call_id,
            "EventType": event,
            "Status": status,
            "DateCreated": self.time_text(0.0),
            "DateUpdated": self.time_text(call.now()),
            "To": self.dial.callerid,
            "From": self.dial.from_,
            "PhoneNumberSid": self.dial.callerid,
            "StartTime": self.time_text(0.0),
            "EndTime": self.time_text(call.ended_at) if event == "terminal" else None,
            "ConversationDuration": str(duration) if event == "terminal" else None,
            "Direction": "outbound-api",
            "CustomField": self.dial.customfield,
            "RecordingUrl": "",
        }
        if self.account_amd and call.answered_at is not None:
            # Legs[] as a multipart form carries it (form fields; Exotel's docs show JSON only).
            machine = call.scenario.outcome.value == "voicemail"
            params["Legs[0][AnsweredBy]"] = "MACHINE" if machine else "HUMAN"
            params["Legs[0][Status]"] = status
        return params

    @property
    def account_amd(self) -> bool:
        return bool(getattr(self.account, "amd", False))

    def on_ringing(self) -> None:
        self.call.set_status("ringing")
        # No "ringing" status at Exotel: the call already reads in-progress while it connects.
        self.status_callback("ringing", "in-progress")

    async def on_answered(self) -> None:
        self.call.set_status("in-progress")
        self.status_callback("answered", "in-progress")
        streamurl = self.dial.streamurl or ""
        if self.applet_url is not None:
            found = await self.applet_stream_url(self.applet_url)
            if found is None:
                self.end(EndReason.ANSWER_FAILED)
                return
            streamurl = found
        url, headers, rate, custom = stream_target(streamurl)
        mulaw = getattr(self.account, "stream_encoding", "pcm16") == "mulaw"
        # µ-law is 8 kHz only (the beta extension guide's audio/x-mulaw;rate=8000).
        fmt = AudioFormat("mulaw", 8000, frame_ms=INBOUND_FRAME_MS) if mulaw else AudioFormat("l16", rate, frame_ms=INBOUND_FRAME_MS)
        self.call.stream_id = uuid.uuid4().hex
        self.switchboard.state.calls.alias(self.call, self.call.stream_id)
        await ExotelStream(self, url=url, fmt=fmt, headers=headers, custom=custom).run()
        # §4.4: with the stream closed and no next applet, the call ends.
        self.end(EndReason.STREAM_CLOSED)

    async def applet_stream_url(self, applet_url: str) -> str | None:
        """Ask the Voicebot applet's dynamic URL for the stream URL. Guess: it sends the query
        parameters Exotel's Passthru and Connect applet URLs get (support.exotel.com, "Working with
        Passthru Applet"): ExoPhones and callers in national form (0…)."""
        call = self.call

        def national(number: str) -> str:
            return "0" + "".join(ch for ch in number if ch.isdigit())[-10:]

        params = {
            "CallSid": call.call_id,
            "CallFrom": national(self.dial.from_),
            "CallTo": national(self.dial.callerid),
            "From": national(self.dial.from_),
            "To": national(self.dial.callerid),
            "Direction": "incoming",
            "CallStatus": "in-progress",
            "CallType": "call-attempt",
            "Created": self.time_text(0.0),
            "StartTime": self.time_text(0.0),
            "CurrentTime": self.time_text(call.now()),
            "DialCallDuration": "0",
            "DialWhomNumber": "",
            "flow_id": "sim-flow",
            "tenant_id": "sim-tenant",
        }
        record = await self.ask("answer", applet_url, params, method="GET")
        if record.status_code is None or not 200 <= record.status_code < 300:
            call.notes.append(f"the Voicebot applet URL answered {record.status_code}: the flow moves on")
            return None
        try:
            url = json.loads(record.body).get("url")
        except (ValueError, AttributeError):
            url = None
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            call.notes.append("the Voicebot applet URL answered no ws(s) url")
            return None
        call.answer_document = record.body
        return url

    def report_end(self) -> None:
        reason = self.call.end_reason or EndReason.SIMULATOR_STOPPED
        status = END_STATUS.get(reason, "completed")
        self.call.set_status(status)
        failed = reason is EndReason.FAILED
        self.call.hangup_cause = (self.call.scenario.failure_cause if failed else None) or status
        if "terminal" in self.dial.statuscallbackevents:
            self.status_callback("terminal", status)
        else:
            # §4.6: without StatusCallbackEvents, one POST at the end with the basic fields.
            params = {
                "CallSid": self.call.call_id,
                "Status": status,
                "RecordingUrl": "",
                "DateUpdated": self.time_text(self.call.now()),
            }
            self.notify("status", self.dial.statuscallback, params, body="multipart")


class ExotelStream(MediaStream):
    far_end: ExotelFarEnd

    def __init__(
        self,
        far_end: ExotelFarEnd,
        *,
        url: str,
        fmt: AudioFormat,
        headers: dict[str, str],
        custom: dict[str, str],
    ) -> None:
        super().__init__(far_end, url=url, fmt=fmt, headers=headers)
        self.custom = custom
        # Guess: the byte rule scales with the bytes per second (rate, and 1 B a sample for µ-law).
        scale = fmt.sample_rate / 8000 / (2 if fmt.encoding == "mulaw" else 1)
        self.min_chunk, self.step = int(MIN_CHUNK_8K * scale), int(STEP_8K * scale)
        self.play_format = AudioFormat(fmt.encoding, fmt.sample_rate)
        self.camel_case = getattr(far_end.account, "start_keys", "snake_case") == "camelCase"

    @property
    def stream_sid(self) -> str:
        assert self.call.stream_id is not None
        return self.call.stream_id

    def head(self, event: str) -> dict[str, Any]:
        sequence = self.next_sequence()
        return {"event": event, "sequence_number": sequence, "stream_sid": self.stream_sid}

    def opening(self) -> list[dict[str, Any]]:
        if self.camel_case:
            return [{"event": "connected"}, self.camel_start()]
        start = {
            "stream_sid": self.stream_sid,
            "call_sid": self.call.call_id,
            "account_sid": self.far_end.account.account_id,
            "from": self.far_end.dial.from_,
            "to": self.far_end.dial.callerid,
            "custom_parameters": self.custom,
            "media_format": self.media_format(),
        }
        return [{"event": "connected"}, {**self.head("start"), "start": start}]

    def media_format(self) -> dict[str, str]:
        if self.fmt.encoding == "mulaw":
            return {"encoding": "audio/x-mulaw", "sample_rate": "8000", "bit_rate": "8"}
        return {"encoding": "audio/x-raw", "sample_rate": str(self.fmt.sample_rate), "bit_rate": "16"}

    def camel_start(self) -> dict[str, Any]:
        """The start as Exotel's own reference code reads it: ``streamSid``/``callSid``."""
        start = {
            "streamSid": self.stream_sid,
            "callSid": self.call.call_id,
            "accountSid": self.far_end.account.account_id,
            "from": self.far_end.dial.from_,
            "to": self.far_end.dial.callerid,
            "customParameters": self.custom,
            "mediaFormat": {
                "encoding": self.media_format()["encoding"],
                "sampleRate": self.media_format()["sample_rate"],
            },
        }
        return {"event": "start", "sequenceNumber": self.next_sequence(), "streamSid": self.stream_sid, "start": start}

    def media(self, payload: str, chunk: int, timestamp_ms: int) -> dict[str, Any]:
        media = {"chunk": chunk, "timestamp": str(timestamp_ms), "payload": payload}
        return {**self.head("media"), "media": media}

    def dtmf(self, digit: str, timestamp_ms: int) -> dict[str, Any] | None:
        return {**self.head("dtmf"), "dtmf": {"digit": digit, "duration": "250"}}

    def played(self, name: str) -> dict[str, Any]:
        return {**self.head("mark"), "mark": {"name": name}}

    def closing(self) -> list[dict[str, Any]]:
        account_sid = self.far_end.account.account_id
        stop = {"call_sid": self.call.call_id, "account_sid": account_sid, "reason": "callended"}
        return [{**self.head("stop"), "stop": stop}]

    async def on_message(self, message: dict[str, Any]) -> None:
        event = message["event"]
        # The protocol page spells it stream_sid, Exotel's reference bots streamSid: either names it.
        named = message.get("stream_sid", message.get("streamSid"))
        if named != self.stream_sid:
            self.call.notes.append(f"{event} with stream_sid {named!r}")
        if event == "media":
            media = message.get("media")
            audio = self.decode(media.get("payload")) if isinstance(media, dict) else None
            if audio is not None:
                self.check_chunk(len(audio))
                self.play(audio, self.play_format)
        elif event == "mark":
            mark = message.get("mark")
            self.mark(str(mark.get("name", "")) if isinstance(mark, dict) else "")
        elif event == "clear":
            # Guess: like Twilio, Exotel acknowledges the marks of the audio a clear drops.
            for name in self.clear().pending_marks:
                await self.send(self.played(name))
        else:
            self.call.notes.append(f"agent sent {event!r}, which Exotel ignores")

    def check_chunk(self, size: int) -> None:
        if size < self.min_chunk or size > MAX_CHUNK or size % self.step:
            at = self.call.now()
            self.call.media_violations.append(
                f"{at:.3f}s: agent media chunk of {size} B breaks Exotel's rule "
                f"(≥{self.min_chunk} B, ≤{MAX_CHUNK} B, a multiple of {self.step} B)"
            )
