"""Twilio: HTTP Basic ``AccountSid:AuthToken``, JSON resources under ``/Accounts/{AC…}``."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit
from xml.etree import ElementTree

import httpx

from callwright.carriers._dial_xml import (
    after_dial,
    conference_document,
    dial_document,
    dial_result,
    goodbye_document,
    spoken_hangup,
    summary_document,
)
from callwright.carriers._fields import E164, Secret, pattern
from callwright.carriers._wire import as_int, header, json_object, text
from callwright.carriers.base import (
    Account,
    AnswerDocument,
    CallbackKind,
    CallbackProof,
    Carrier,
    CarrierCallState,
    CarrierCredentials,
    CarrierEndpoints,
    CarrierUnavailable,
    DialRequest,
    InboundCall,
    MediaStart,
    PlacedCall,
)
from callwright.domain.calls import CallEvent, CallStatus, EventKind
from callwright.domain.providers import Provider
from callwright.domain.transfers import DialResult

if TYPE_CHECKING:
    from pipecat.serializers.twilio import TwilioFrameSerializer


class TwilioCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_token",)
    masked_fields: ClassVar[tuple[str, ...]] = ("account_sid",)

    account_sid: Annotated[str, pattern(r"AC[0-9a-fA-F]{32}", "must be AC followed by 32 hex digits")]
    auth_token: Secret
    from_number: E164


# CallStatus values (carriers.md §3.6) → our event; "initiated" appears only in callbacks.
_PROGRESS = {
    "queued": EventKind.DIALED,
    "initiated": EventKind.DIALED,
    "ringing": EventKind.RINGING,
    "in-progress": EventKind.ANSWERED,
}
_ENDED = {
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "failed": CallStatus.FAILED,
    "no-answer": CallStatus.NO_ANSWER,
    "canceled": CallStatus.CANCELED,
}
# AnsweredBy values (§3.7); "unknown" says nothing either way.
_MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
_VERDICTS = {"human": EventKind.HUMAN_DETECTED} | dict.fromkeys(_MACHINE, EventKind.MACHINE_DETECTED)
_PROGRESS_EVENTS = ("initiated", "ringing", "answered", "completed")


def speaks_after_beep(answered_by: str) -> bool:
    """True when AMD heard the voicemail greeting end in a beep: a message spoken now is recorded.

    With ``MachineDetection=DetectMessageEnd`` Twilio waits for the end of the greeting before
    reporting ``machine_end_beep`` (carriers.md §3.7).
    """
    return answered_by.strip().lower() == "machine_end_beep"


def callback_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature`` = base64(HMAC-SHA1(token, url + sorted k+v of the POST params))."""
    message = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), message.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _signed_time(value: str) -> datetime | None:
    """A callback's ``Timestamp`` (RFC 2822, e.g. ``Tue, 01 Apr 2025 12:00:00 +0000``)."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def _url_variants(url: str) -> set[str]:
    """The URL as given, without its port and with the scheme's default port.

    Twilio signs either form depending on the path the request took, so its own validator tries
    both (twilio.request_validator, carriers.md §3.9).
    """
    parts = urlsplit(url)
    host = parts.netloc.split(":")[0]
    default_port = 443 if parts.scheme in ("https", "wss") else 80
    bare = urlunsplit(parts._replace(netloc=host))
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default_port}"))
    return {url, bare, with_port}


class Twilio(Carrier):
    provider = Provider.TWILIO
    credentials_model = TwilioCredentials
    signs_callbacks = True
    supports_machine_detection = True
    offers_call_status = True
    media_token_in_start = True
    supports_transfer = True
    takes_inbound_calls = True
    supports_warm_transfer = True
    # No send_dtmf: <Play digits> needs a call update, and an update replaces the running
    # <Connect><Stream> (the media stream would end); Twilio's stream protocol takes no digits.

    def auth_failed_message(self) -> str:
        return "Twilio rejected the Account SID / Auth Token"

    def calls_url(self, account: Account, endpoints: CarrierEndpoints) -> str:
        return f"{endpoints.twilio}/Accounts/{account.identifiers['account_sid']}/Calls"

    def auth(self, account: Account) -> tuple[str, str]:
        return (account.identifiers["account_sid"], account.secrets["auth_token"])

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        assert isinstance(credentials, TwilioCredentials)
        # 401 with Twilio error code 20003 for bad credentials.
        await self.request(
            http,
            "GET",
            f"{endpoints.twilio}/Accounts/{credentials.account_sid}.json",
            auth=(credentials.account_sid, credentials.auth_token),
            timeout=endpoints.timeout_secs,
        )

    def dial_form(self, dial: DialRequest) -> dict[str, str | list[str]]:
        form: dict[str, str | list[str]] = {
            "To": dial.to_number,
            "From": dial.from_number,
            "Url": dial.answer_url,
            "Method": "POST",
            "StatusCallback": dial.status_url,
            "StatusCallbackMethod": "POST",
            "StatusCallbackEvent": list(_PROGRESS_EVENTS),
            "Timeout": str(dial.ring_timeout_secs),
        }
        if dial.time_limit_secs is not None:
            form["TimeLimit"] = str(dial.time_limit_secs)
        if dial.machine_detection_url:
            # DetectMessageEnd waits for the beep so a voicemail can be left (§3.7).
            form["MachineDetection"] = "DetectMessageEnd"
            form["AsyncAmd"] = "true"
            form["AsyncAmdStatusCallback"] = dial.machine_detection_url
            form["AsyncAmdStatusCallbackMethod"] = "POST"
        return form

    async def place_call(
        self,
        dial: DialRequest,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> PlacedCall:
        response = await self.request(
            http,
            "POST",
            f"{self.calls_url(account, endpoints)}.json",
            data=self.dial_form(dial),
            auth=self.auth(account),
            timeout=endpoints.timeout_secs,
            dialing=True,
        )
        raw = json_object(response)
        if not raw.get("sid"):
            raise CarrierUnavailable(
                "Twilio accepted the call but sent no call sid", outcome_unknown=True
            )
        return PlacedCall(provider_call_id=str(raw["sid"]), raw=raw)

    async def transfer(
        self,
        provider_call_id: str,
        account: Account,
        *,
        to: str,
        caller_id: str,
        document_url: str,
        action_url: str,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # A call update with inline TwiML replaces what the call runs, <Connect><Stream> included
        # (twilio.com/docs/voice/api/call-resource#update-a-call-resource, the Twiml parameter).
        twiml = dial_document(to=to, caller_id=caller_id, action_url=action_url, caller_id_attribute="callerId")
        await self.request(
            http,
            "POST",
            f"{self.calls_url(account, endpoints)}/{provider_call_id}.json",
            data={"Twiml": twiml},
            auth=self.auth(account),
            timeout=endpoints.timeout_secs,
        )

    def parse_dial_result(self, params: Mapping[str, str]) -> DialResult | None:
        return dial_result(params, status_field="DialCallStatus", reason_field="ErrorMessage")

    async def redirect(
        self,
        provider_call_id: str,
        account: Account,
        *,
        url: str,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # A call update with Url: Twilio fetches the TwiML there and runs it in place of the
        # current (<Connect><Stream> ends) (Call resource, update: Url and Method).
        await self.request(
            http,
            "POST",
            f"{self.calls_url(account, endpoints)}/{provider_call_id}.json",
            data={"Url": url, "Method": "POST"},
            auth=self.auth(account),
            timeout=endpoints.timeout_secs,
        )

    def summary_document(self, *, summary: str, bridge_url: str) -> AnswerDocument:
        return AnswerDocument("text/xml", summary_document(summary=summary, bridge_url=bridge_url, say_verb="Say"))

    def conference_document(self, *, room: str) -> AnswerDocument:
        return AnswerDocument("text/xml", conference_document(room=room, in_dial=True))

    def goodbye_document(self, *, message: str) -> AnswerDocument:
        return AnswerDocument("text/xml", goodbye_document(message=message, say_verb="Say"))

    def after_dial_document(self, result: DialResult, *, message: str) -> AnswerDocument:
        return AnswerDocument("text/xml", after_dial(result, message=message, say_verb="Say"))

    async def hangup(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # One update, Status=completed: "Specifying completed will attempt to hang up a call even
        # if it's already in progress", where canceled "will attempt to hangup calls that are
        # queued or ringing" only (twilio.com/docs/api/rest/change-call-state, §3.8). No second
        # request: one that failed after a hang-up that worked would turn it into an error.
        # 404 (code 20404) = the call is already gone.
        await self.request(
            http,
            "POST",
            f"{self.calls_url(account, endpoints)}/{provider_call_id}.json",
            data={"Status": "completed"},
            auth=self.auth(account),
            timeout=endpoints.timeout_secs,
            accept=(404,),
        )

    async def fetch_call_state(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
        at: datetime,
    ) -> CarrierCallState | None:
        # The Call resource (§3.3); 404 (code 20404) when Twilio has no such call.
        response = await self.request(
            http,
            "GET",
            f"{self.calls_url(account, endpoints)}/{provider_call_id}.json",
            auth=self.auth(account),
            timeout=endpoints.timeout_secs,
            accept=(404,),
        )
        if response.status_code == 404:
            return None
        resource = json_object(response)
        # The resource in the status callback's field names, so one set of rules reads both.
        params = {
            "CallSid": text(resource, "sid") or provider_call_id,
            "CallStatus": text(resource, "status"),
            "CallDuration": text(resource, "duration"),
            "AnsweredBy": text(resource, "answered_by"),
        }
        events = self.parse_callback(CallbackKind.STATUS, params, received_at=at)
        return CarrierCallState(events=tuple(events), raw=resource)

    def answer_document(self, *, stream_url: str, parameters: Mapping[str, str]) -> AnswerDocument:
        # Custom values travel as <Parameter> children and come back in start.customParameters;
        # <Connect><Stream> is the bidirectional form (§3.4).
        response = ElementTree.Element("Response")
        connect = ElementTree.SubElement(response, "Connect")
        stream = ElementTree.SubElement(connect, "Stream", {"url": stream_url})
        for name, value in parameters.items():
            ElementTree.SubElement(stream, "Parameter", {"name": name, "value": value})
        body = ElementTree.tostring(response, encoding="unicode")
        return AnswerDocument("text/xml", f'<?xml version="1.0" encoding="UTF-8"?>{body}')

    def parse_callback(
        self, kind: CallbackKind, params: Mapping[str, str], *, received_at: datetime
    ) -> list[CallEvent]:
        call_sid = text(params, "CallSid") or None
        status = text(params, "CallStatus").lower()
        outcome = _ENDED.get(status)
        events: list[CallEvent] = []
        if status in _PROGRESS:
            events.append(CallEvent(_PROGRESS[status], at=received_at, provider_call_id=call_sid))
        # AnsweredBy comes on the AMD callback, or on the Url/status requests with synchronous
        # AMD (§3.7); a verdict belongs before the hang-up it may arrive with.
        verdict = _VERDICTS.get(text(params, "AnsweredBy").lower())
        if verdict is not None and outcome in (None, CallStatus.COMPLETED):
            events.append(CallEvent(verdict, at=received_at, provider_call_id=call_sid))
        if outcome is not None:
            sip = text(params, "SipResponseCode")
            events.append(
                CallEvent(
                    EventKind.ENDED,
                    at=received_at,
                    provider_call_id=call_sid,
                    outcome=outcome,
                    # Twilio reports no hang-up cause; its words are the final CallStatus, plus
                    # the SIP response code when the call failed at the SIP level (§3.6).
                    hangup_cause=f"{status} (SIP {sip})" if sip and sip != "200" else status,
                    duration_seconds=as_int(params.get("CallDuration")),
                )
            )
        return events

    def callback_call_id(self, params: Mapping[str, str]) -> str | None:
        return text(params, "CallSid") or None

    def parse_inbound(self, params: Mapping[str, str]) -> InboundCall | None:
        # The number's VoiceUrl request: the Url webhook's fields with Direction=inbound (§3.10).
        call_sid, caller, called = text(params, "CallSid"), text(params, "From"), text(params, "To")
        if text(params, "Direction").lower() != "inbound" or not (call_sid and called):
            return None
        return InboundCall(provider_call_id=call_sid, caller=caller, called=called)

    def refusal_document(self, message: str) -> AnswerDocument:
        return AnswerDocument("text/xml", spoken_hangup(message, say_verb="Say"))

    def message_window_open(self, params: Mapping[str, str]) -> bool:
        return speaks_after_beep(text(params, "AnsweredBy"))

    def validate_signature(
        self,
        *,
        method: str,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        account: Account,
    ) -> bool:
        sent = header(headers, "X-Twilio-Signature")
        if not sent:
            return False
        token = account.secrets["auth_token"]
        return any(
            hmac.compare_digest(callback_signature(token, candidate, params), sent)
            for candidate in _url_variants(url)
        )

    def verify_callback(
        self,
        *,
        method: str,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        account: Account,
    ) -> CallbackProof | None:
        # Twilio signs no nonce. Its status callbacks carry the event's Timestamp among the signed
        # fields (§3.6), which bounds how long a captured one stays usable; the answer and AMD
        # requests carry none.
        if not self.validate_signature(method=method, url=url, params=params, headers=headers, account=account):
            return None
        return CallbackProof(signed_at=_signed_time(text(params, "Timestamp")))

    def verify_media_upgrade(self, *, url: str, headers: Mapping[str, str], account: Account) -> bool:
        # Twilio signs the Media Streams upgrade like a webhook: the wss URL, no parameters (§3.9;
        # Twilio's firewall guide for Media Streams asks servers to validate it).
        return self.validate_signature(method="GET", url=url, params={}, headers=headers, account=account)

    def parse_media_start(self, message: Mapping[str, Any]) -> MediaStart | None:
        start = message.get("start")
        if message.get("event") != "start" or not isinstance(start, Mapping):
            return None
        stream_sid = start.get("streamSid") or message.get("streamSid")
        if not stream_sid or not start.get("callSid"):
            return None  # a start naming no stream or call identifies nothing
        media_format = start.get("mediaFormat")
        if not isinstance(media_format, Mapping):
            media_format = {}
        custom = start.get("customParameters")
        return MediaStart(
            stream_id=str(stream_sid),
            provider_call_id=str(start["callSid"]),
            custom_parameters={str(k): str(v) for k, v in (custom or {}).items()},
            encoding=str(media_format.get("encoding") or "audio/x-mulaw"),
            sample_rate=as_int(media_format.get("sampleRate")) or 8000,
        )

    def media_serializer(self, start: MediaStart, account: Account) -> TwilioFrameSerializer:
        from pipecat.serializers.twilio import TwilioFrameSerializer  # pipecat takes ~1 s to import

        # Auto hang-up off: pipecat would call api.twilio.com itself; the platform hangs up
        # through this adapter, whose base URL may be the simulator's.
        params = TwilioFrameSerializer.InputParams(auto_hang_up=False)
        return TwilioFrameSerializer(start.stream_id, call_sid=start.provider_call_id, params=params)
