"""Twilio as the simulator plays it, at the real host's paths (``https://api.twilio.com``).

Auth is HTTP Basic ``AccountSid:AuthToken``; the account's SID is also in every path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from callwright.domain.providers import Provider
from callwright.sim.auth import Refusal, SimStateDep, basic_credentials, secrets_match
from callwright.sim.dialing import (
    SwitchboardDep,
    first_problem,
    live_far_end,
    recorded_call,
    request_fields,
    start_call,
)
from callwright.sim.farend.twilio import API_VERSION as CALLS_API_VERSION
from callwright.sim.farend.twilio import TwilioDial, TwilioFarEnd, new_sid
from callwright.sim.numbers import SimNumber
from callwright.sim.state import TwilioAccount

router = APIRouter()

API_VERSION = "/2010-04-01"
# Twilio's account resources list these sub-resources; only the names matter to clients.
SUBRESOURCES = (
    "addresses", "conferences", "signing_keys", "transcriptions", "connect_apps", "sip",
    "authorized_connect_apps", "usage", "keys", "applications", "recordings", "short_codes",
    "calls", "notifications", "incoming_phone_numbers", "queues", "messages",
    "outgoing_caller_ids", "available_phone_numbers", "balance",
)  # fmt: skip
CREATED_AT = datetime(2024, 1, 1, tzinfo=UTC)


def unauthorized() -> JSONResponse:
    # Twilio's documented body for error 20003; the WWW-Authenticate realm is from memory.
    return JSONResponse(
        {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        },
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
    )


def twilio_account(account_sid: str, request: Request, state: SimStateDep) -> TwilioAccount:
    # Twilio also takes an API key (SKxxx:secret) as the Basic login; the simulator does not.
    credentials = basic_credentials(request)
    if credentials is None:
        raise Refusal(unauthorized())
    user, token = credentials
    account = state.account(Provider.TWILIO, user)
    if (
        isinstance(account, TwilioAccount)
        and secrets_match(token, account.auth_token)
        and account_sid == account.account_sid
    ):
        return account
    raise Refusal(unauthorized())


TwilioAccountDep = Annotated[TwilioAccount, Depends(twilio_account)]


@router.get(API_VERSION + "/Accounts/{account_sid}.json")
async def fetch_account(account: TwilioAccountDep) -> dict[str, Any]:
    base = f"{API_VERSION}/Accounts/{account.account_sid}"
    created = format_datetime(CREATED_AT)
    return {
        # Twilio's Account resource echoes the auth token to whoever authenticated with it.
        "auth_token": account.auth_token,
        "date_created": created,
        "date_updated": created,
        "friendly_name": "Callwright simulated account",
        "owner_account_sid": account.account_sid,
        "sid": account.account_sid,
        "status": "active",
        "subresource_uris": {name: f"{base}/{_pascal(name)}.json" for name in SUBRESOURCES},
        "type": "Full",
        "uri": f"{base}.json",
    }


def _pascal(snake: str) -> str:
    if snake == "sip":
        return "SIP"
    return "".join(part.capitalize() for part in snake.split("_"))


# --- Calls (§3.3, §3.8) --------------------------------------------------------------------------


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    body = {"code": code, "message": message, "more_info": more_info, "status": status}
    return JSONResponse(body, status_code=status)


def not_found(request: Request) -> JSONResponse:
    return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")


@router.post(API_VERSION + "/Accounts/{account_sid}/Calls.json", status_code=201)
async def create_call(
    request: Request, account: TwilioAccountDep, board: SwitchboardDep
) -> Response:
    fields = await request_fields(request)
    events = fields.get("StatusCallbackEvent", [])
    fields["StatusCallbackEvent"] = events if isinstance(events, list) else [events]
    if not fields.get("To"):
        return twilio_error(400, 21201, "No 'To' number is specified")
    if not fields.get("From"):
        return twilio_error(400, 21213, "No 'From' number is specified")
    if not any(fields.get(name) for name in ("Url", "Twiml", "ApplicationSid")):
        return twilio_error(400, 21205, "Url parameter is required.")
    try:
        dial = TwilioDial.model_validate(fields)
    except ValidationError as exc:
        return twilio_error(400, 20001, first_problem(exc))
    played = start_call(
        board=board,
        carrier="twilio",
        call_id=new_sid("CA"),
        account=account,
        to=dial.To,
        from_=dial.From,
        dial=fields,
        far_end=lambda **kw: TwilioFarEnd(dial=dial, **kw),
    )
    assert isinstance(played, TwilioFarEnd)
    return JSONResponse(call_resource(played), status_code=201)


@router.post(API_VERSION + "/Accounts/{account_sid}/Calls/{call_sid}.json")
async def update_call(
    call_sid: str, request: Request, account: TwilioAccountDep, board: SwitchboardDep
) -> Response:
    fields = await request_fields(request)
    played = live_far_end(board, call_sid, account)
    if not isinstance(played, TwilioFarEnd) or played.ending.is_set():
        return not_found(request)
    status = fields.get("Status")
    answered = played.call.answered_at is not None
    twiml = fields.get("Twiml")
    if twiml and status is None:
        # "Twiml: TwiML instructions for the call … will replace the current TwiML" (Call
        # resource, update); a call not yet answered would run it on answer (not simulated).
        if not answered:
            return twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
        played.update_twiml(str(twiml))
        return JSONResponse(call_resource(played))
    url = fields.get("Url")
    if url and not twiml and status is None:
        # "Url: the absolute URL that returns the TwiML instructions for the call" (Call
        # resource, update): Twilio fetches it and runs it in place of the current TwiML.
        if not answered:
            return twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
        played.update_url(str(url), str(fields.get("Method") or "POST").upper())
        return JSONResponse(call_resource(played))
    if status == "completed" or (status == "canceled" and not answered):
        # "Specifying completed will attempt to hang up a call even if it's already in progress";
        # canceled ends only a queued or ringing one (twilio.com/docs/api/rest/change-call-state).
        played.hang_up_by_api()
    elif status == "canceled":
        played.call.notes.append("Status=canceled on a call in progress: ignored, as Twilio does")
    elif status is not None:
        return twilio_error(400, 20001, f"Status {status!r} is not completed or canceled")
    else:
        played.call.notes.append(f"call update {sorted(fields)} is not simulated")
    return JSONResponse(call_resource(played))


@router.get(API_VERSION + "/Accounts/{account_sid}/Calls/{call_sid}.json")
async def fetch_call(
    call_sid: str, request: Request, account: TwilioAccountDep, board: SwitchboardDep
) -> Response:
    call = recorded_call(board, call_sid, account)
    if call is None or not isinstance(call.far_end, TwilioFarEnd) or call.call_id != call_sid:
        return not_found(request)
    return JSONResponse(call_resource(call.far_end))


def call_resource(played: TwilioFarEnd) -> dict[str, Any]:
    """The Call resource, as ``Calls.json`` and ``Calls/{CA}.json`` answer (§3.3)."""
    call = played.call
    base = f"{API_VERSION}/Accounts/{played.account.account_id}/Calls/{call.call_id}"
    started = call.wall(call.answered_at)
    ended = call.wall(call.ended_at) if call.ended.is_set() else None
    return {
        "account_sid": played.account.account_id,
        "annotation": None,
        "answered_by": call.machine_result,
        "api_version": CALLS_API_VERSION,
        "caller_name": None,
        "date_created": format_datetime(call.created_wall),
        "date_updated": format_datetime(call.wall(call.now()) or call.created_wall),
        "direction": "outbound-api",
        "duration": str(played.duration_secs()) if ended else None,
        "end_time": format_datetime(ended) if ended else None,
        "forwarded_from": None,
        "from": played.dial.From,
        "from_formatted": played.dial.From,
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.call_id,
        "start_time": format_datetime(started) if started else None,
        "status": call.status or "queued",
        "subresource_uris": {
            name: f"{base}/{path}.json"
            for name, path in (
                ("notifications", "Notifications"),
                ("recordings", "Recordings"),
                ("payments", "Payments"),
                ("events", "Events"),
                ("siprec", "Siprec"),
                ("streams", "Streams"),
                ("transcriptions", "Transcriptions"),
                ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
                ("user_defined_messages", "UserDefinedMessages"),
            )
        },
        "to": played.dial.To,
        "to_formatted": played.dial.To,
        "trunk_sid": None,
        "uri": f"{base}.json",
    }


# --- IncomingPhoneNumbers (§3.9: VoiceUrl on the number) -----------------------------------------


def incoming_number(account: TwilioAccount, number: SimNumber) -> dict[str, Any]:
    created = format_datetime(CREATED_AT)
    return {
        "sid": number.sid,
        "account_sid": account.account_sid,
        "phone_number": number.phone_number,
        "friendly_name": number.alias or number.phone_number,
        "voice_url": number.voice_url or "",
        "voice_method": "POST",
        "capabilities": {"voice": True, "sms": True, "mms": False, "fax": False},
        "date_created": created,
        "date_updated": created,
        "uri": f"{API_VERSION}/Accounts/{account.account_sid}/IncomingPhoneNumbers/{number.sid}.json",
    }


@router.get(API_VERSION + "/Accounts/{account_sid}/IncomingPhoneNumbers.json")
async def list_incoming_numbers(
    account: TwilioAccountDep,
    state: SimStateDep,
    page: Annotated[int, Query(alias="Page")] = 0,
    size: Annotated[int, Query(alias="PageSize")] = 50,
) -> dict[str, Any]:
    # Twilio pages with Page/PageSize (plus a PageToken the simulator does not need).
    numbers = state.numbers.numbers(Provider.TWILIO, account.account_sid)
    page, size = max(page, 0), min(max(size, 1), 1000)
    base = f"{API_VERSION}/Accounts/{account.account_sid}/IncomingPhoneNumbers.json"
    more = (page + 1) * size < len(numbers)
    return {
        "incoming_phone_numbers": [incoming_number(account, n) for n in numbers[page * size : (page + 1) * size]],
        "page": page,
        "page_size": size,
        "first_page_uri": f"{base}?PageSize={size}&Page=0",
        "next_page_uri": f"{base}?PageSize={size}&Page={page + 1}" if more else None,
        "previous_page_uri": f"{base}?PageSize={size}&Page={page - 1}" if page else None,
        "uri": f"{base}?PageSize={size}&Page={page}",
        "start": page * size,
        "end": min((page + 1) * size, len(numbers)) - 1,
    }


@router.post(API_VERSION + "/Accounts/{account_sid}/IncomingPhoneNumbers/{phone_sid}.json")
async def update_incoming_number(
    phone_sid: str, request: Request, account: TwilioAccountDep, state: SimStateDep
) -> Response:
    number = state.numbers.find(Provider.TWILIO, account.account_sid, phone_sid)
    if number is None or number.sid != phone_sid:
        return not_found(request)
    fields = await request_fields(request)
    if "VoiceUrl" in fields:
        voice_url = fields["VoiceUrl"]
        state.numbers.update(number, voice_url=str(voice_url) or None, set_voice_url=True)
    return JSONResponse(incoming_number(account, number))
