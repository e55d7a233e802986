"""MCube (VMC Technologies): click-to-call with an account JWT. No credential check is documented.

MCube publishes no developer docs; everything here follows third-party integrations
(carriers.md §5). MCube has no answer document or media stream of its own, so this adapter places
and releases calls and reads the refurl webhook; the audio comes over the executive leg, when the
connection lists ``executive_numbers`` (our numbers on another carrier: services.mcube_bridge). Every guess is named in
``GUESSES`` below, with where it came from, and each is read tolerantly: a wrong guess must show
(a refusal naming MCube's own words), never pass silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import Field

from callwright.carriers._fields import PhoneNumber, Secret
from callwright.carriers._wire import json_object, text
from callwright.carriers.base import (
    Account,
    CallbackKind,
    Carrier,
    CarrierCredentials,
    CarrierEndpoints,
    CarrierRejected,
    DialRequest,
    NotSupported,
    PlacedCall,
)
from callwright.domain.calls import CallEvent, CallStatus, EventKind
from callwright.domain.phone import normalize_national
from callwright.domain.providers import Provider

# Each guess about MCube's wire, in one place. Sources: carriers.md §5 (third-party CRM modules
# calling Restmcube-api, help.meritto.com "mcube-old-config", the call-release example naming a
# "Business Token"); none is first-party.
GUESSES: Mapping[str, str] = {
    "click_to_call_answer": "JSON; success read from `success`, then `status`/`Status`; the call id "
    "from `callId`, then `callid`/`call_id`; the reason from `message`, then `msg`/`Message`/`error`",
    "success_words": "true, 1, ok, succ, success (any case)",
    "release_token": "call-release takes the account's Business Token, which may differ from the "
    "click-to-call JWT: the optional business_token field, else the JWT",
    "release_gone": "a release refused with words like 'not found' / 'already' means the call is gone",
    "answeredtime": "a talk duration (seconds, MM:SS or HH:MM:SS) or the answer's timestamp "
    "(YYYY-MM-DD HH:MM:SS, the same zone as endtime)",
    "hangup_marker": "a webhook with a non-empty endtime (not 0000-…) reports the hang-up",
    "callback_auth": "MCube may not keep our refurl's query string: the callback token travels "
    "in the URL's path (/telephony/mcube/{call}/status/{token})",
}
# Where each field of MCube's answers is looked for, first match wins (GUESSES above).
_SUCCESS_KEYS = ("success", "status", "Status")
_CALL_ID_KEYS = ("callId", "callid", "call_id", "CallId")
_MESSAGE_KEYS = ("message", "msg", "Message", "error")


class MCubeCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("jwt_token", "business_token")

    jwt_token: Secret
    # The executive's number; MCube's API takes the 10-digit national form.
    exe_number: PhoneNumber
    # The call-release API's "Business Token" (GUESSES["release_token"]); None: the JWT.
    business_token: Secret | None = None
    # The media route (services.mcube_bridge): our numbers on the partner's other connections
    # (Twilio, Plivo, Vobiz, Exotel) that MCube rings as the executive. Each live MCube call
    # holds one; the bridged leg arrives there as an inbound call and carries the conversation.
    # None: MCube rings exe_number and no audio reaches us.
    executive_numbers: list[PhoneNumber] | None = Field(default=None, max_length=50)


# dialstatus of the refurl webhook (§5) → terminal status; "Executive Busy" means the executive
# leg (rung first) never took the call.
_ENDED = {
    "answer": CallStatus.COMPLETED,
    "cancel": CallStatus.CANCELED,
    "executive busy": CallStatus.FAILED,
    "busy": CallStatus.BUSY,
    "noanswer": CallStatus.NO_ANSWER,
}
# Guess: MCube's "success" words in a click-to-call or call-release answer.
_SUCCESS = frozenset({"true", "1", "ok", "succ", "success"})
_GONE = re.compile(r"not found|no active|already|invalid call|does not exist", re.IGNORECASE)


def national_number(number: str) -> str:
    """An Indian number as MCube dials it: 10 digits, no +91 (§5)."""
    e164 = normalize_national(number)
    if e164 is None or not e164.startswith("+91"):
        raise NotSupported(f"MCube dials Indian (+91) numbers only, not {number}")
    return e164[3:]


def release_url(endpoints: CarrierEndpoints) -> str:
    """The call-release endpoint: ``/hangup-api/call-release`` at the root of MCube's host.

    MCube serves it on config.mcube.com while click-to-call lives at api.mcube.com/Restmcube-api
    (§5): keep the configured scheme and host (the simulator's, in tests), the path at its root,
    and use config.mcube.com when the configured host is MCube's own api.mcube.com.
    """
    parts = urlsplit(endpoints.mcube)
    host = "config.mcube.com" if parts.netloc == "api.mcube.com" else parts.netloc
    return urlunsplit((parts.scheme, host, "/hangup-api/call-release", "", ""))


def _succeeded(body: Mapping[str, Any]) -> bool:
    for key in _SUCCESS_KEYS:
        if key in body:
            return str(body[key]).strip().lower() in _SUCCESS
    return True


def _message(body: Mapping[str, Any]) -> str:
    for key in _MESSAGE_KEYS:
        if body.get(key):
            return str(body[key])
    return "no reason given"


def _call_id(body: Mapping[str, Any]) -> str | None:
    for key in _CALL_ID_KEYS:
        if body.get(key):
            return str(body[key])
    return None


class MCube(Carrier):
    provider = Provider.MCUBE
    # MCube documents only click-to-call (carriers.md §5): no live-call control at all.
    transfer_refusal = "documents no API to control a live call, so it cannot transfer one"
    credentials_model = MCubeCredentials
    verifies_credentials = False
    caller_id_field = "exe_number"
    # MCube bridges its executive leg on its side: no MCube stream reaches us (carriers.md §5).
    # The audio comes as the executive leg, an inbound call on another carrier (mcube_bridge).
    has_media_stream = False
    # Its click-to-call answer may name no call (our refid stands in), and whether a callid it
    # does name is the one its webhooks carry is undocumented (§5): the first webhook's callid
    # becomes the call's, and no later webhook may change it.
    dial_id_is_call_id = False
    callback_token_in_path = True  # GUESSES["callback_auth"]

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        # MCube documents no authenticated read; the first click-to-call is the first real check.
        return None

    def dial_body(self, dial: DialRequest, account: Account) -> dict[str, str]:
        # The token travels in the JSON body, not a header; MCube rings the executive
        # (exenumber) first, then bridges the customer (§5).
        return {
            "HTTP_AUTHORIZATION": account.secrets["jwt_token"],
            "exenumber": national_number(dial.from_number),
            "custnumber": national_number(dial.to_number),
            "refurl": dial.status_url,
            "refid": dial.call_id,
        }

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
            f"{endpoints.mcube}/outbound-calls",
            json=self.dial_body(dial, account),
            timeout=endpoints.timeout_secs,
            dialing=True,
        )
        # Guess at the answer's shape: {"status": "succ"|true|…, "msg": …, "callid"?: …}, with
        # refusals such as "Executive is not opted for Outbound Calls" under HTTP 200.
        raw = json_object(response)
        if not _succeeded(raw):
            raise CarrierRejected(
                f"MCube refused the call: {_message(raw)}", carrier_reason=_message(raw)
            )
        # No call id in the answer: our refid stands in until the webhook brings callid.
        return PlacedCall(provider_call_id=_call_id(raw) or dial.call_id, raw=raw)

    async def hangup(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        token = account.secrets.get("business_token") or account.secrets["jwt_token"]
        response = await self.request(
            http,
            "POST",
            release_url(endpoints),
            json={"token": token, "callid": provider_call_id},
            timeout=endpoints.timeout_secs,
        )
        raw = json_object(response)
        if _succeeded(raw) or _GONE.search(_message(raw)):
            return
        raise CarrierRejected(
            f"MCube did not release the call: {_message(raw)}", carrier_reason=_message(raw)
        )

    def callback_call_id(self, params: Mapping[str, str]) -> str | None:
        return text(params, "callid") or None

    def parse_callback(
        self, kind: CallbackKind, params: Mapping[str, str], *, received_at: datetime
    ) -> list[CallEvent]:
        call_id = text(params, "callid") or None
        dialstatus = " ".join(text(params, "dialstatus").lower().split())
        ended = bool(text(params, "endtime")) and not text(params, "endtime").startswith("0000")
        if not ended:
            if dialstatus == "answer":
                return [CallEvent(EventKind.ANSWERED, at=received_at, provider_call_id=call_id)]
            return []
        outcome = _ENDED.get(dialstatus)
        if outcome is None:
            return []
        if outcome == CallStatus.COMPLETED:
            who = text(params, "disconnectedby")
            cause = f"disconnected by {who}" if who else None
        else:
            cause = text(params, "dialstatus")
        return [
            CallEvent(
                EventKind.ENDED,
                at=received_at,
                provider_call_id=call_id,
                outcome=outcome,
                hangup_cause=cause,
                duration_seconds=_talk_seconds(params),
            )
        ]


def _talk_seconds(params: Mapping[str, str]) -> int | None:
    """Seconds from answer to hang-up (GUESSES["answeredtime"]): ``answeredtime`` as a duration
    (whole seconds, ``MM:SS`` or ``HH:MM:SS``) or as the answer's timestamp, in endtime's zone."""
    answered = text(params, "answeredtime")
    if re.fullmatch(r"\d+", answered):
        return int(answered)
    if re.fullmatch(r"\d{1,2}(:\d{1,2}){1,2}", answered):
        seconds = 0
        for part in answered.split(":"):
            seconds = seconds * 60 + int(part)
        return seconds
    try:
        start = datetime.fromisoformat(answered)
        end = datetime.fromisoformat(text(params, "endtime"))
    except ValueError:
        return None
    return max(0, int((end - start).total_seconds()))
