"""MCube (VMC Technologies): click-to-call with an account JWT. No credential check is documented.

MCube publishes no developer docs; everything here follows third-party integrations
(carriers.md §5). Its media leg is unknown, so this adapter places and releases calls and reads
the refurl webhook, and has no answer document or media stream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx

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


class MCubeCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("jwt_token",)

    jwt_token: Secret
    # The executive's number; MCube's API takes the 10-digit national form.
    exe_number: PhoneNumber


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
    for key in ("status", "Status", "success"):
        if key in body:
            return str(body[key]).strip().lower() in _SUCCESS
    return True


def _message(body: Mapping[str, Any]) -> str:
    for key in ("msg", "message", "Message", "error"):
        if body.get(key):
            return str(body[key])
    return "no reason given"


class MCube(Carrier):
    provider = Provider.MCUBE
    credentials_model = MCubeCredentials
    verifies_credentials = False
    caller_id_field = "exe_number"
    # MCube bridges its executive leg on its side; no audio reaches us (carriers.md §5).
    has_media_stream = False
    # Its click-to-call answer may name no call (our refid stands in), and whether a callid it
    # does name is the one its webhooks carry is undocumented (§5): the first webhook's callid
    # becomes the call's, and no later webhook may change it.
    dial_id_is_call_id = False

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
        call_id = raw.get("callid") or raw.get("callId") or raw.get("call_id") or dial.call_id
        return PlacedCall(provider_call_id=str(call_id), raw=raw)

    async def hangup(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # Guess: the call-release "Business Token" is the account JWT used for click-to-call.
        response = await self.request(
            http,
            "POST",
            release_url(endpoints),
            json={"token": account.secrets["jwt_token"], "callid": provider_call_id},
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
    """Seconds from answer to hang-up.

    Guess: integrations read ``answeredtime`` both as a timestamp and as an ``HH:MM:SS`` talk
    time; both are accepted. Timestamps are ``YYYY-MM-DD HH:MM:SS`` in one (local) zone.
    """
    answered = text(params, "answeredtime")
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
