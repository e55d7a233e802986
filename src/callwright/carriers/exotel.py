"""Exotel: HTTP Basic ``api_key:api_token`` against the account's regional subdomain."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlsplit

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
    CarrierRejected,
    CarrierUnavailable,
    DialRequest,
    InboundCall,
    MediaStart,
    NotSupported,
    PlacedCall,
)
from callwright.domain.calls import CallEvent, CallStatus, EventKind
from callwright.domain.errors import ValidationFailed
from callwright.domain.providers import Provider

if TYPE_CHECKING:
    from callwright.carriers.exotel_media import ExotelMediaSerializer


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
    # What the account streams, when its start message cannot be trusted to say (the beta
    # extension guide defaults to µ-law, the protocol page to 16-bit PCM: carriers.md §4.5
    # [conflict]). None: read it from each stream's start.media_format.encoding.
    stream_encoding: Literal["pcm16", "mulaw"] | None = None

    def public_view(self) -> dict[str, Any]:
        view = super().public_view()
        if view.get("stream_encoding") is None:
            view.pop("stream_encoding", None)  # shown only when the partner set it
        return view


def api_base(subdomain: str, override: str | None) -> str:
    """``https://{subdomain}``, or the override's scheme and host (CALLWRIGHT_EXOTEL_API_URL)."""
    if override:
        parts = urlsplit(override)
        return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return f"https://{subdomain}"


# Status values of Connect Voice AI calls and their StatusCallback (carriers.md §4.3, §4.6).
# Exotel has no "ringing" status and reports "in-progress" while the call is still connecting
# (developer.exotel.com call details / Connect Voice AI statuses: queued, in-progress, completed,
# failed, busy, no-answer): only EventType=answered, or the media stream's start, marks an answer.
_PROGRESS = {
    "queued": EventKind.DIALED,
    "ringing": EventKind.RINGING,  # not an Exotel status; kept in case a ringing event names it
    "in-progress": EventKind.DIALED,
}
# Legs[].AnsweredBy of the answered/terminal callback (Exotel's beta AMD: HUMAN, MACHINE,
# NOT_SURE; carriers.md §4.7).
_VERDICTS = {"human": EventKind.HUMAN_DETECTED, "machine": EventKind.MACHINE_DETECTED}
# The ExoPhone list's pages followed before giving up on finding the caller ID (50 a page).
_MAX_EXOPHONE_PAGES = 20
_ENDED = {
    "completed": CallStatus.COMPLETED,
    "failed": CallStatus.FAILED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
}


class Exotel(Carrier):
    provider = Provider.EXOTEL
    # Exotel's public API has no call to redirect a live call (its Call API only places and reads
    # calls); a hand-off happens only inside an App Bazaar flow built in Exotel's dashboard (a
    # Connect applet after the Voicebot applet), which the platform does not control.
    transfer_refusal = (
        "offers no API to transfer a live call; a hand-off is possible only in an Exotel flow "
        "(a Connect applet after the Voicebot applet), set up in Exotel's dashboard"
    )
    credentials_model = ExotelCredentials
    caller_id_field = "caller_id"
    # Agent audio must go out in chunks of at least 3.2 KB in multiples of 320 B (§4.5).
    media_packet_bytes = 3200
    offers_call_status = True
    takes_inbound_calls = True

    def auth_failed_message(self) -> str:
        return "Exotel rejected the API key / API token (or this server's IP is not whitelisted)"

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        assert isinstance(credentials, ExotelCredentials)
        base = api_base(credentials.subdomain, endpoints.exotel)
        url = f"{base}/v2_beta/Accounts/{credentials.account_sid}/IncomingPhoneNumbers"
        # The list ("List all ExoPhones", developer.exotel.com/api/exophone-details) answers
        # {"page", "page_size", "next_page_uri", "incoming_phone_numbers": [{"sid",
        # "phone_number", …}]}. next_page_uri names Exotel's own host (twilix.exotel.com in the
        # example): only its Page/PageSize are followed, on the host we were configured with.
        query: dict[str, str] = {}
        numbers: list[str] = []
        for _ in range(_MAX_EXOPHONE_PAGES):
            response = await self.request(
                http,
                "GET",
                url,
                params=query or None,
                auth=(credentials.api_key, credentials.api_token),
                timeout=endpoints.timeout_secs,
            )
            page = json_object(response)
            listed = page.get("incoming_phone_numbers")
            if not isinstance(listed, list):
                raise CarrierRejected(
                    "Exotel answered the ExoPhone list without its incoming_phone_numbers"
                )
            numbers += [text(item, "phone_number") for item in listed if isinstance(item, Mapping)]
            if any(same_number(number, credentials.caller_id) for number in numbers):
                return
            next_page = page.get("next_page_uri")
            if not listed or not isinstance(next_page, str) or not next_page:
                break
            query = dict(parse_qsl(urlsplit(next_page).query))
        raise ValidationFailed(
            "caller_id",
            f"caller_id {credentials.caller_id} is not one of this Exotel account's ExoPhones",
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
        # EventType first: an "answered" callback carries Status in-progress, which on its own
        # means only that Exotel is connecting the call (developer.exotel.com status-callback).
        call_sid = text(params, "CallSid") or None
        status = text(params, "Status").lower()
        event_type = text(params, "EventType").lower()
        verdicts = [
            CallEvent(verdict, at=received_at, provider_call_id=call_sid)
            for verdict in _legs_verdicts(params)
        ]
        if event_type == "answered":
            return [CallEvent(EventKind.ANSWERED, at=received_at, provider_call_id=call_sid), *verdicts]
        if event_type == "ringing" and status not in _ENDED:
            return [CallEvent(EventKind.RINGING, at=received_at, provider_call_id=call_sid)]
        if status in _ENDED:
            duration = as_int(params.get("ConversationDuration"))
            if duration is None:
                duration = _legs_duration(_legs(params))
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
            return [*verdicts, ended]
        if event_type == "terminal":
            return verdicts  # a terminal event whose Status we do not know
        if status in _PROGRESS:
            return [CallEvent(_PROGRESS[status], at=received_at, provider_call_id=call_sid)]
        return []

    def callback_call_id(self, params: Mapping[str, str]) -> str | None:
        return text(params, "CallSid") or None

    def parse_inbound(self, params: Mapping[str, str]) -> InboundCall | None:
        # An applet URL's request (the Voicebot applet's dynamic URL, as the Passthru and Connect
        # applets' URLs): CallSid, CallFrom, CallTo, Direction "incoming" | "outbound-dial"
        # (support.exotel.com "Working with Passthru Applet"); older pages name From / To.
        call_sid = text(params, "CallSid")
        caller = text(params, "CallFrom") or text(params, "From")
        called = text(params, "CallTo") or text(params, "To")
        if text(params, "Direction").lower() != "incoming" or not (call_sid and called):
            return None
        return InboundCall(provider_call_id=call_sid, caller=indian_e164(caller), called=called)

    def parse_media_start(self, message: Mapping[str, Any]) -> MediaStart | None:
        from callwright.carriers.exotel_media import parse_start

        return parse_start(message)

    def media_serializer(self, start: MediaStart, account: Account) -> ExotelMediaSerializer:
        from callwright.carriers.exotel_media import (  # pipecat takes ~1 s to import
            ExotelMediaSerializer,
            stream_encoding,
        )

        encoding = stream_encoding(start.encoding, account.identifiers.get("stream_encoding"))
        return ExotelMediaSerializer(
            start.stream_id,
            call_sid=start.provider_call_id,
            sample_rate=start.sample_rate,
            encoding=encoding,
        )


def indian_e164(number: str) -> str:
    """Exotel writes Indian numbers nationally (``09876543210``): +91 and the ten digits."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if number.startswith("+") or len(digits) < 10:
        return number
    if len(digits) == 11 and digits.startswith("0"):
        return "+91" + digits[1:]
    if len(digits) == 12 and digits.startswith("91"):
        return "+" + digits
    return number


def same_number(one: str, other: str) -> bool:
    """ExoPhones appear as +91…, 91… or 0…: the same number when the last ten digits agree."""
    digits = ["".join(ch for ch in number if ch.isdigit())[-10:] for number in (one, other)]
    return bool(digits[0]) and digits[0] == digits[1]


_LEG_FIELD = re.compile(r"Legs\[(\d+)\]\[(\w+)\]")


def _legs(params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``Legs[]`` as a list: a JSON list, its JSON text, or form fields ``Legs[0][AnsweredBy]``
    (how a multipart form carries a list of objects; Exotel's docs show only the JSON)."""
    legs: Any = params.get("Legs")
    if isinstance(legs, str):
        try:
            legs = json.loads(legs)
        except ValueError:
            legs = None
    if isinstance(legs, list):
        return [leg for leg in legs if isinstance(leg, Mapping)]
    flattened: dict[int, dict[str, Any]] = {}
    for key, value in params.items():
        if (match := _LEG_FIELD.fullmatch(key)) is not None:
            flattened.setdefault(int(match[1]), {})[match[2]] = value
    return [flattened[index] for index in sorted(flattened)]


def _legs_verdicts(params: Mapping[str, Any]) -> list[EventKind]:
    """The answering-machine verdict in ``Legs[].AnsweredBy`` (NOT_SURE and absent say nothing)."""
    for leg in _legs(params):
        verdict = _VERDICTS.get(text(leg, "AnsweredBy").lower())
        if verdict is not None:
            return [verdict]
    return []


def _legs_duration(legs: list[Mapping[str, Any]]) -> int | None:
    """``Legs[]``: the customer leg's ``OnCallDuration`` when the call's own total is missing."""
    durations = [as_int(leg.get("OnCallDuration")) for leg in legs]
    known = [duration for duration in durations if duration is not None]
    return max(known) if known else None
