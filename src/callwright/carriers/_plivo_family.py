"""What Plivo and Vobiz share: Vobiz is a Plivo-derived API (carriers.md §1, §2).

Same call REST shapes under ``/Account/{auth_id}/Call/``, same XML ``<Stream>`` answer, same
callback fields and the same media WebSocket protocol. Only auth, base URL, signatures and a few
refusal codes differ; those live in ``plivo.py`` and ``vobiz.py``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote
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
from callwright.carriers._plivo_records import finished_events, is_finished, live_events
from callwright.carriers._wire import as_int, json_object, text
from callwright.carriers.base import (
    Account,
    AnswerDocument,
    CallbackKind,
    Carrier,
    CarrierCallState,
    CarrierEndpoints,
    CarrierUnavailable,
    DialRequest,
    InboundCall,
    MediaStart,
    PlacedCall,
)
from callwright.domain.calls import CallEvent, CallStatus, EventKind
from callwright.domain.errors import ValidationFailed
from callwright.domain.transfers import DialResult

if TYPE_CHECKING:
    from pipecat.serializers.plivo import PlivoFrameSerializer

# pipecat's PlivoFrameSerializer speaks µ-law 8 kHz only, so the answer document asks for it
# (the carriers' default is L16, carriers.md §1.4 / §2.4).
STREAM_CONTENT_TYPE = "audio/x-mulaw;rate=8000"

# CallStatus on hangup callbacks (§1.6, §2.6; plivo.com/docs/voice/xml/request/call-status and
# docs.vobiz.ai/xml/request/call-status). "timeout" is "a timeout while connecting your call,
# caused by either an issue with one of the terminating carriers or network lag": a failure of
# the network, not a callee who did not answer. "cancel": "the call was canceled by the caller".
_ENDED = {
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "failed": CallStatus.FAILED,
    "timeout": CallStatus.FAILED,
    "no-answer": CallStatus.NO_ANSWER,
    "cancel": CallStatus.CANCELED,
    "canceled": CallStatus.CANCELED,
}


class PlivoFamilyCarrier(Carrier):
    supports_machine_detection = True
    supports_transfer = True
    supports_send_dtmf = True
    supports_warm_transfer = True
    offers_call_status = True
    takes_inbound_calls = True
    # Statuses a dial request answers when the credentials are wrong.
    dial_auth_statuses: ClassVar[tuple[int, ...]] = (401, 403)

    @abstractmethod
    def api_base(self, endpoints: CarrierEndpoints) -> str:
        """The REST base, e.g. ``https://api.plivo.com/v1``."""

    @abstractmethod
    def auth(self, account: Account) -> dict[str, Any]:
        """httpx arguments that send the account's credentials this carrier's way."""

    def call_url(self, account: Account, endpoints: CarrierEndpoints, *path: str) -> str:
        tail = "".join(f"{segment}/" for segment in path)
        return f"{self.api_base(endpoints)}/Account/{account.identifiers['auth_id']}/{tail}"

    def dial_body(self, dial: DialRequest) -> dict[str, Any]:
        if "<" in dial.to_number:
            # "<" separates bulk destinations (§6): one dial must never fan out.
            raise ValidationFailed("to_number", "to_number must be a single E.164 number")
        body: dict[str, Any] = {
            "from": dial.from_number,
            "to": dial.to_number,
            "answer_url": dial.answer_url,
            "answer_method": "POST",
            "hangup_url": dial.status_url,
            "hangup_method": "POST",
            "ring_url": dial.status_url,
            "ring_method": "POST",
            "ring_timeout": dial.ring_timeout_secs,
        }
        if dial.time_limit_secs is not None:
            body["time_limit"] = dial.time_limit_secs
        if dial.machine_detection_url:
            # "true" keeps the call up and reports Machine=true|false asynchronously (§1.7, §2.7).
            body["machine_detection"] = "true"
            body["machine_detection_url"] = dial.machine_detection_url
            body["machine_detection_method"] = "POST"
        return body

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
            self.call_url(account, endpoints, "Call"),
            json=self.dial_body(dial),
            timeout=endpoints.timeout_secs,
            dialing=True,
            auth_statuses=self.dial_auth_statuses,
            **self.auth(account),
        )
        raw = json_object(response)
        request_uuid = raw.get("request_uuid")
        if isinstance(request_uuid, list):
            request_uuid = request_uuid[0] if request_uuid else None
        if not request_uuid:
            raise CarrierUnavailable(
                f"{self.display_name} accepted the call but sent no request_uuid",
                outcome_unknown=True,
            )
        return PlacedCall(provider_call_id=str(request_uuid), raw=raw)

    async def delete(
        self, account: Account, endpoints: CarrierEndpoints, http: httpx.AsyncClient, *path: str
    ) -> bool:
        """DELETE a call resource; False when the carrier says it does not exist (404)."""
        response = await self.request(
            http,
            "DELETE",
            self.call_url(account, endpoints, *path),
            timeout=endpoints.timeout_secs,
            accept=(404,),
            **self.auth(account),
        )
        return response.status_code != 404

    async def hangup(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # 204 when hung up, 404 when the call already ended (§1.8, §2.8).
        await self.delete(account, endpoints, http, "Call", provider_call_id)

    async def fetch_call_state(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
        at: datetime,
    ) -> CarrierCallState | None:
        # Lookup order (docs.vobiz.ai/call/retrieve-queued-call, Plivo's "Retrieve a live call" and
        # "Retrieve a queued call"): ?status=live finds only a call in progress, ?status=queued
        # one initiated but not yet answered (ringing included); each answers 404 otherwise. A
        # finished call is found only in its record (``finished_record``).
        url = self.call_url(account, endpoints, "Call", provider_call_id)
        for status in ("live", "queued"):
            response = await self.request(
                http,
                "GET",
                url,
                params={"status": status},
                timeout=endpoints.timeout_secs,
                accept=(404,),
                **self.auth(account),
            )
            if response.status_code != 404:
                record = json_object(response)
                events = live_events(record, provider_call_id, at)
                return CarrierCallState(events=tuple(events), raw=record)
        finished = await self.finished_record(provider_call_id, account, http=http, endpoints=endpoints)
        if finished is None:
            return None
        if not is_finished(finished):
            return CarrierCallState(events=(), raw=finished)  # neither live nor over: still held
        events = finished_events(finished, provider_call_id, at)
        return CarrierCallState(events=tuple(events), raw=finished)

    async def finished_record(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> Mapping[str, Any] | None:
        """A finished call's record; None when the carrier has none (404). Plivo's is the Call
        object, ``GET /Call/{uuid}/`` without ``status`` (plivo-python's callGetResponse.json);
        Vobiz overrides this with its CDR."""
        response = await self.request(
            http,
            "GET",
            self.call_url(account, endpoints, "Call", provider_call_id),
            timeout=endpoints.timeout_secs,
            accept=(404,),
            **self.auth(account),
        )
        return None if response.status_code == 404 else json_object(response)

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
        await self.redirect(provider_call_id, account, url=document_url, http=http, endpoints=endpoints)

    async def redirect(
        self,
        provider_call_id: str,
        account: Account,
        *,
        url: str,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # Transfer a live call: legs=aleg moves the caller's leg to the XML at aleg_url (§1.8;
        # Plivo's "Transfer a call", plivo-python calls.update(legs, aleg_url, aleg_method)).
        body = {"legs": "aleg", "aleg_url": url, "aleg_method": "POST"}
        await self.request(
            http,
            "POST",
            self.call_url(account, endpoints, "Call", provider_call_id),
            json=body,
            timeout=endpoints.timeout_secs,
            **self.auth(account),
        )

    def summary_document(self, *, summary: str, bridge_url: str) -> AnswerDocument:
        # <Speak> then <Redirect> (plivo.com/docs/voice/xml/redirect; Vobiz lists both elements).
        return AnswerDocument("application/xml", summary_document(summary=summary, bridge_url=bridge_url, say_verb="Speak"))

    def conference_document(self, *, room: str) -> AnswerDocument:
        return AnswerDocument("application/xml", conference_document(room=room, in_dial=False))

    def goodbye_document(self, *, message: str) -> AnswerDocument:
        return AnswerDocument("application/xml", goodbye_document(message=message, say_verb="Speak"))

    def callback_call_ids(self, params: Mapping[str, str]) -> set[str]:
        # A consult leg is known by its request_uuid until its callbacks name the CallUUID.
        return {value for value in (text(params, "CallUUID"), text(params, "RequestUUID")) if value}

    def transfer_document(self, *, to: str, caller_id: str, action_url: str) -> AnswerDocument:
        body = dial_document(to=to, caller_id=caller_id, action_url=action_url, caller_id_attribute="callerId")
        return AnswerDocument("application/xml", body)

    def parse_dial_result(self, params: Mapping[str, str]) -> DialResult | None:
        return dial_result(params, status_field="DialStatus", reason_field="DialHangupCause")

    def after_dial_document(self, result: DialResult, *, message: str) -> AnswerDocument:
        return AnswerDocument("application/xml", after_dial(result, message=message, say_verb="Speak"))

    async def send_dtmf(
        self,
        provider_call_id: str,
        digits: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # POST /Call/{uuid}/DTMF/ {digits, leg} (Plivo's "Send digits"; Vobiz lists the same
        # mid-call resource, §1.8). The stream keeps running.
        await self.request(
            http,
            "POST",
            self.call_url(account, endpoints, "Call", provider_call_id, "DTMF"),
            json={"digits": digits, "leg": "aleg"},
            timeout=endpoints.timeout_secs,
            **self.auth(account),
        )

    def answer_document(self, *, stream_url: str, parameters: Mapping[str, str]) -> AnswerDocument:
        return stream_answer(stream_url, parameters)

    def parse_callback(
        self, kind: CallbackKind, params: Mapping[str, str], *, received_at: datetime
    ) -> list[CallEvent]:
        return parse_call_callback(kind, params, received_at)

    def callback_call_id(self, params: Mapping[str, str]) -> str | None:
        return text(params, "CallUUID") or text(params, "RequestUUID") or None

    def parse_inbound(self, params: Mapping[str, str]) -> InboundCall | None:
        # The application's answer_url request: CallUUID, From, To, Direction=inbound (§1.4, §2.10).
        # Plivo writes numbers without the "+" ("14155550100").
        call_uuid, caller, called = text(params, "CallUUID"), text(params, "From"), text(params, "To")
        if text(params, "Direction").lower() != "inbound" or not (call_uuid and called):
            return None
        return InboundCall(provider_call_id=call_uuid, caller=_plus(caller), called=_plus(called))

    def refusal_document(self, message: str) -> AnswerDocument:
        return AnswerDocument("application/xml", spoken_hangup(message, say_verb="Speak"))

    def parse_media_start(self, message: Mapping[str, Any]) -> MediaStart | None:
        return parse_stream_start(message)

    def media_serializer(self, start: MediaStart, account: Account) -> PlivoFrameSerializer:
        from pipecat.serializers.plivo import PlivoFrameSerializer  # pipecat takes ~1 s to import

        # Auto hang-up off: pipecat would DELETE at api.plivo.com itself; the platform hangs up
        # through this adapter, whose base URL may be the simulator's.
        params = PlivoFrameSerializer.InputParams(auto_hang_up=False)
        return PlivoFrameSerializer(start.stream_id, call_id=start.provider_call_id, params=params)


def _plus(number: str) -> str:
    return f"+{number}" if number.isdigit() else number


def stream_answer(stream_url: str, parameters: Mapping[str, str]) -> AnswerDocument:
    """``<Response><Stream …>wss://…/media/{provider}/{call_id}/{token}</Stream></Response>``.

    The WebSocket URL is the element's text, not an attribute (§1.4). Neither carrier promises to
    keep a stream URL's query string, so the media token travels as the URL's last path segment.
    ``audioTrack`` stays at its default ``inbound``: a bidirectional stream with another track is
    hung up by Vobiz.
    """
    response = ElementTree.Element("Response")
    stream = ElementTree.SubElement(
        response,
        "Stream",
        {"bidirectional": "true", "keepCallAlive": "true", "contentType": STREAM_CONTENT_TYPE},
    )
    stream.text = f"{stream_url}/{quote(parameters['token'], safe='')}"
    return AnswerDocument("application/xml", ElementTree.tostring(response, encoding="unicode"))


def parse_call_callback(
    kind: CallbackKind, params: Mapping[str, str], received_at: datetime
) -> list[CallEvent]:
    call_id = text(params, "CallUUID") or text(params, "RequestUUID") or None
    status = text(params, "CallStatus").lower()
    event = text(params, "Event").lower()

    def at(kind_: EventKind, **fields: Any) -> list[CallEvent]:
        return [CallEvent(kind_, at=received_at, provider_call_id=call_id, **fields)]

    progress: list[CallEvent] = []
    ended: list[CallEvent] = []
    if kind != CallbackKind.MACHINE and event != "machinedetection":
        if event == "hangup" or status in _ENDED:
            ended = _ended(params, status, at)
        elif status == "in-progress":
            progress = at(EventKind.ANSWERED)
        elif status == "ringing" or event == "ring":
            progress = at(EventKind.RINGING)
    # Machine=true|false comes on the async detection callback, or on the answer request with
    # synchronous detection (§1.7, §2.7); a verdict belongs before the hang-up it may arrive with.
    machine = text(params, "Machine").lower()
    verdict = {"true": EventKind.MACHINE_DETECTED, "false": EventKind.HUMAN_DETECTED}.get(machine)
    return progress + (at(verdict) if verdict else []) + ended


def _ended(
    params: Mapping[str, str], status: str, at: Callable[..., list[CallEvent]]
) -> list[CallEvent]:
    outcome = _ENDED.get(status)
    if outcome is None:
        return []
    code_name = text(params, "HangupCause") or None
    # Plivo (and Vobiz) send the cause as a Q.850-style name (HangupCause) and, since their
    # hangup-cause codes, in words (HangupCauseName, e.g. "No route to destination"): keep the words.
    cause = text(params, "HangupCauseName") or code_name
    if outcome == CallStatus.COMPLETED and code_name == "ORIGINATOR_CANCEL":
        # Guess: a request canceled before answer may still report CallStatus=completed; Plivo's
        # hangup-cause table names ORIGINATOR_CANCEL (code 1000, "Canceled") for it.
        outcome = CallStatus.CANCELED
    duration = as_int(params.get("Duration"))
    if duration is None:
        duration = as_int(params.get("BillDuration"))
    return at(EventKind.ENDED, outcome=outcome, hangup_cause=cause, duration_seconds=duration)


def parse_stream_start(message: Mapping[str, Any]) -> MediaStart | None:
    """``{"event":"start","start":{"callId","streamId","mediaFormat":{…}},"extra_headers"?}``."""
    start = message.get("start")
    if message.get("event") != "start" or not isinstance(start, Mapping):
        return None
    if not start.get("streamId") or not start.get("callId"):
        return None  # a start naming no stream or call identifies nothing
    media_format = start.get("mediaFormat")
    if not isinstance(media_format, Mapping):
        media_format = {}
    return MediaStart(
        stream_id=str(start["streamId"]),
        provider_call_id=str(start["callId"]),
        custom_parameters=_extra_headers(message.get("extra_headers")),
        encoding=str(media_format.get("encoding") or "audio/x-mulaw"),
        sample_rate=as_int(media_format.get("sampleRate")) or 8000,
    )


def _extra_headers(value: Any) -> dict[str, str]:
    """The XML ``extraHeaders`` echo: ``"k=v,k2=v2"`` (or already an object)."""
    if isinstance(value, Mapping):
        return {str(key): str(item) for key, item in value.items()}
    if not isinstance(value, str):
        return {}
    pairs = (part.partition("=") for part in value.split(",") if "=" in part)
    return {key.strip(): item.strip() for key, _, item in pairs}

