"""Exotel: HTTP Basic ``api_key:api_token`` against the account's regional subdomain."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from callwright.carriers._fields import PhoneNumber, Secret, pattern
from callwright.carriers._wire import as_int, json_object, text, with_query
from callwright.carriers.base import (
    Account,
    AnswerDocument,
    CallbackKind,
    Carrier,
    CarrierCallState,
    CarrierCredentials,
    CarrierEndpoints,
    CarrierUnavailable,
    DialRequest,
    MediaStart,
    NotSupported,
    PlacedCall,
)
from callwright.domain.calls import CallEvent, CallStatus, EventKind
from callwright.domain.providers import Provider

if TYPE_CHECKING:
    from pipecat.serializers.exotel import ExotelFrameSerializer


class ExotelCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("api_key", "api_token")
    # Vocobase's set-or-update-exotel-credentials page answers the placeholder, not a masked SID.
    placeholder_fields: ClassVar[tuple[str, ...]] = ("account_sid",)

    account_sid: Annotated[
        str,
        Field(min_length=2, max_length=64),
        pattern(r"[A-Za-z0-9_-]+", "must contain only letters, digits, '-' and '_'"),
    ]
    api_key: Secret
    api_token: Secret
    # Singapore or Mumbai cluster.
    subdomain: Literal["api.exotel.com", "api.in.exotel.com"]
    caller_id: PhoneNumber
    applet_id: Annotated[str, Field(max_length=64)] | None = None


def api_base(subdomain: str, override: str | None) -> str:
    """``https://{subdomain}``, or the override's scheme and host (CALLWRIGHT_EXOTEL_API_URL)."""
    if override:
        parts = urlsplit(override)
        return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return f"https://{subdomain}"


# Status values of Connect Voice AI calls and their StatusCallback (carriers.md §4.3, §4.6).
_PROGRESS = {
    "queued": EventKind.DIALED,
    "ringing": EventKind.RINGING,
    "in-progress": EventKind.ANSWERED,
}
_ENDED = {
    "completed": CallStatus.COMPLETED,
    "failed": CallStatus.FAILED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
}


class Exotel(Carrier):
    provider = Provider.EXOTEL
    credentials_model = ExotelCredentials
    caller_id_field = "caller_id"
    # Agent audio must go out in chunks of at least 3.2 KB in multiples of 320 B (§4.5).
    media_packet_bytes = 3200
    offers_call_status = True

    def auth_failed_message(self) -> str:
        return "Exotel rejected the API key / API token (or this server's IP is not whitelisted)"

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        assert isinstance(credentials, ExotelCredentials)
        base = api_base(credentials.subdomain, endpoints.exotel)
        await self.request(
            http,
            "GET",
            f"{base}/v2_beta/Accounts/{credentials.account_sid}/IncomingPhoneNumbers",
            auth=(credentials.api_key, credentials.api_token),
            timeout=endpoints.timeout_secs,
        )

    def dial_form(self, dial: DialRequest) -> dict[str, str | list[str]]:
        # Connect Voice AI: From is the number Exotel dials (our customer), CallerId the ExoPhone
        # shown to them; on answer Exotel opens the bidirectional stream to StreamUrl (§4.3).
        # dial.stream_url already carries call_id and token as query parameters.
        form: dict[str, str | list[str]] = {
            "From": dial.to_number,
            "CallerId": dial.from_number,
            "StreamUrl": dial.stream_url,
            "StreamType": "bidirectional",
            "StatusCallback": dial.status_url,
            "StatusCallbackEvents[]": ["ringing", "answered", "terminal"],
            # Guess: TimeOut (ring seconds) is documented for classic Connect, not for Voice AI.
            "TimeOut": str(dial.ring_timeout_secs),
        }
        if dial.time_limit_secs is not None:
            form["TimeLimit"] = str(min(dial.time_limit_secs, 14400))  # Exotel's cap
        return form

    async def place_call(
        self,
        dial: DialRequest,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> PlacedCall:
        base = api_base(account.identifiers["subdomain"], endpoints.exotel)
        sid = account.identifiers["account_sid"]
        # v1 answers XML unless the path ends in .json (§4.1).
        response = await self.request(
            http,
            "POST",
            f"{base}/v1/Accounts/{sid}/Calls/connect.json",
            data=self.dial_form(dial),
            auth=(account.secrets["api_key"], account.secrets["api_token"]),
            timeout=endpoints.timeout_secs,
            dialing=True,
        )
        raw = json_object(response)
        # Classic Connect answers {"Call":{"Sid"}}, the Voice AI docs show {"call":{"sid"}}.
        call = raw.get("Call") or raw.get("call") or {}
        call_sid = (call.get("Sid") or call.get("sid")) if isinstance(call, dict) else None
        if not call_sid:
            raise CarrierUnavailable(
                "Exotel accepted the call but sent no call Sid", outcome_unknown=True
            )
        return PlacedCall(provider_call_id=str(call_sid), raw=raw)

    async def hangup(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # Exotel documents no REST hang-up for v1 calls (carriers.md §4.8): closing the media
        # WebSocket with no next applet ends the call, and TimeLimit is the backstop.
        raise NotSupported("Exotel has no REST hang-up; the call ends when its media stream closes")

    async def fetch_call_state(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
        at: datetime,
    ) -> CarrierCallState | None:
        # Call details: GET /v1/Accounts/{sid}/Calls/{CallSid}.json (§4.3) → {"Call": {…}}.
        base = api_base(account.identifiers["subdomain"], endpoints.exotel)
        sid = account.identifiers["account_sid"]
        response = await self.request(
            http,
            "GET",
            f"{base}/v1/Accounts/{sid}/Calls/{provider_call_id}.json",
            auth=(account.secrets["api_key"], account.secrets["api_token"]),
            timeout=endpoints.timeout_secs,
            accept=(404,),
        )
        if response.status_code == 404:
            return None
        raw = json_object(response)
        call = raw.get("Call") or raw.get("call") or {}
        call = {str(key).lower(): value for key, value in call.items()} if isinstance(call, dict) else {}
        # The details in the status callback's field names, so one set of rules reads both.
        params = {
            "CallSid": text(call, "sid") or provider_call_id,
            "Status": text(call, "status"),
            "ConversationDuration": text(call, "duration"),
        }
        events = self.parse_callback(CallbackKind.STATUS, params, received_at=at)
        return CarrierCallState(events=tuple(events), raw=raw)

    def answer_document(self, *, stream_url: str, parameters: Mapping[str, str]) -> AnswerDocument:
        # The Voicebot applet's dynamic-URL mode: an https endpoint answering {"url": "wss://…"};
        # custom values ride the URL's query and come back in start.custom_parameters (§4.4).
        url = with_query(stream_url, parameters)
        return AnswerDocument("application/json", json.dumps({"url": url}))

    def parse_callback(
        self, kind: CallbackKind, params: Mapping[str, str], *, received_at: datetime
    ) -> list[CallEvent]:
        call_sid = text(params, "CallSid") or None
        status = text(params, "Status").lower()
        event_type = text(params, "EventType").lower()
        if status in _ENDED:
            duration = as_int(params.get("ConversationDuration"))
            if duration is None:
                duration = _legs_duration(params.get("Legs"))
            ended = CallEvent(
                EventKind.ENDED,
                at=received_at,
                provider_call_id=call_sid,
                outcome=_ENDED[status],
                # Exotel's status callback carries no hang-up cause (§4.6): its words are the
                # final Status.
                hangup_cause=text(params, "Status") or None,
                duration_seconds=duration,
            )
            return [ended]
        if event_type == "answered":
            return [CallEvent(EventKind.ANSWERED, at=received_at, provider_call_id=call_sid)]
        if status in _PROGRESS:
            return [CallEvent(_PROGRESS[status], at=received_at, provider_call_id=call_sid)]
        return []

    def callback_call_id(self, params: Mapping[str, str]) -> str | None:
        return text(params, "CallSid") or None

    def parse_media_start(self, message: Mapping[str, Any]) -> MediaStart | None:
        # AgentStream keys are snake_case and sample_rate may be a string (§4.5).
        start = message.get("start")
        if message.get("event") != "start" or not isinstance(start, Mapping):
            return None
        stream_sid = start.get("stream_sid") or message.get("stream_sid")
        if not stream_sid or not start.get("call_sid"):
            return None  # a start naming no stream or call identifies nothing
        media_format = start.get("media_format")
        media_format = media_format if isinstance(media_format, Mapping) else {}
        custom = start.get("custom_parameters")
        return MediaStart(
            stream_id=str(stream_sid),
            provider_call_id=str(start["call_sid"]),
            custom_parameters={str(k): str(v) for k, v in (custom or {}).items()},
            encoding=str(media_format.get("encoding") or "audio/x-raw"),
            sample_rate=as_int(media_format.get("sample_rate")) or 8000,
        )

    def media_serializer(self, start: MediaStart, account: Account) -> ExotelFrameSerializer:
        from pipecat.serializers.exotel import ExotelFrameSerializer  # pipecat takes ~1 s to import

        # pipecat's serializer passes 16-bit PCM through; the beta guide's µ-law default (§4.5
        # [conflict]) would be played as noise, so refuse it plainly.
        if "mulaw" in start.encoding.lower() or "pcmu" in start.encoding.lower():
            raise NotSupported(f"Exotel stream encoding {start.encoding} is not supported yet")
        params = ExotelFrameSerializer.InputParams(exotel_sample_rate=start.sample_rate)
        return ExotelFrameSerializer(start.stream_id, call_sid=start.provider_call_id, params=params)


def _legs_duration(legs: Any) -> int | None:
    """``Legs[]``: the customer leg's ``OnCallDuration`` when the call's own total is missing."""
    if isinstance(legs, str):
        try:
            legs = json.loads(legs)
        except ValueError:
            return None
    if not isinstance(legs, list):
        return None
    durations = [as_int(leg.get("OnCallDuration")) for leg in legs if isinstance(leg, Mapping)]
    known = [duration for duration in durations if duration is not None]
    return max(known) if known else None
