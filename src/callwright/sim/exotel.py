"""Exotel as the simulator plays it, at the regional host's paths (``https://api.exotel.com``).

Auth is HTTP Basic ``api_key:api_token``; the account SID is in the path (carriers.md §4.1).
v2 answers in one JSON envelope (``request_id``, ``method``, ``http_code``, ``response``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from callwright.domain.providers import Provider
from callwright.sim.auth import Refusal, SimStateDep, basic_credentials, secrets_match
from callwright.sim.dialing import (
    SwitchboardDep,
    first_problem,
    recorded_call,
    request_fields,
    start_call,
)
from callwright.sim.farend.exotel import ExotelDial, ExotelFarEnd
from callwright.sim.state import ExotelAccount

router = APIRouter()


def envelope(*, method: str, http_code: int, response: Any, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": uuid.uuid4().hex,
        "method": method,
        "http_code": http_code,
        **extra,
        "response": response,
    }


def unauthorized(method: str) -> JSONResponse:
    # Guess: the v2 envelope with a failure item; Exotel's auth error code and wording are not in
    # the stored docs (exotelpy only keys on the 401 status).
    failure = {
        "code": 401,
        "error_data": {
            "code": 1010,
            "message": "Authentication failed",
            "description": "Invalid API key or API token",
        },
        "status": "failure",
        "data": None,
    }
    return JSONResponse(envelope(method=method, http_code=401, response=failure), status_code=401)


def exotel_account(account_sid: str, request: Request, state: SimStateDep) -> ExotelAccount:
    credentials = basic_credentials(request)
    account = state.account(Provider.EXOTEL, account_sid)
    if credentials is not None and isinstance(account, ExotelAccount):
        api_key, api_token = credentials
        # Both halves checked in full, so a wrong key costs as long as a wrong token.
        key_ok = secrets_match(api_key, account.api_key)
        token_ok = secrets_match(api_token, account.api_token)
        if key_ok and token_ok:
            return account
    raise Refusal(unauthorized(request.method))


ExotelAccountDep = Annotated[ExotelAccount, Depends(exotel_account)]


@router.get("/v2_beta/Accounts/{account_sid}/IncomingPhoneNumbers")
async def list_exophones(
    account: ExotelAccountDep,
    page_asked: Annotated[int, Query(alias="Page")] = 0,
    size_asked: Annotated[int, Query(alias="PageSize")] = 50,
) -> dict[str, Any]:
    # "List all ExoPhones" (developer.exotel.com/api/exophone-details): a page object with the
    # numbers under incoming_phone_numbers, paged by Page/PageSize; next_page_uri names Exotel's
    # own host (twilix.exotel.com in the docs' example), as here.
    page, size = max(page_asked, 0), min(max(size_asked, 1), 100)
    numbers = account.exophones[page * size : (page + 1) * size]
    more = (page + 1) * size < len(account.exophones)

    def page_uri(number: int) -> str:
        path = f"/v2_beta/Accounts/{account.account_sid}/IncomingPhoneNumbers"
        return f"http://twilix.exotel.com{path}?Page={number}&PageSize={size}"

    return {
        "page": page,
        "page_size": size,
        "uri": page_uri(page),
        "first_page_uri": page_uri(0),
        "next_page_uri": page_uri(page + 1) if more else None,
        "previous_page_uri": page_uri(page - 1) if page > 0 else None,
        "incoming_phone_numbers": [exophone(account, number) for number in numbers],
    }


def exophone(account: ExotelAccount, number: str) -> dict[str, Any]:
    phone_sid = uuid.uuid5(uuid.NAMESPACE_URL, f"{account.account_sid}/{number}").hex
    return {
        "sid": phone_sid,
        "account_sid": account.account_sid,
        "friendly_name": number,
        "phone_number": number,
        "capabilities": {"voice": True, "sms": False},
        "country": "IN",
        "voice_url": None,
        "sms_url": None,
        "date_created": "2024-01-01T00:00:00+05:30",
        "date_updated": "2024-01-01T00:00:00+05:30",
        "uri": f"/v2_beta/Accounts/{account.account_sid}/IncomingPhoneNumbers/{phone_sid}",
    }


# --- Calls: Connect Voice AI (§4.3) -----------------------------------------------------------


def rest_error(status: int, message: str) -> JSONResponse:
    # Guess: the v1 API's error envelope as we remember it (Twilio-like RestException).
    body = {"RestException": {"Status": status, "Message": message}}
    return JSONResponse(body, status_code=status)


def connect_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Both spellings of §4.3 as one: keys lower-cased, ``[]`` dropped, events always a list."""
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        fields[key.lower().removesuffix("[]")] = value
    events = fields.get("statuscallbackevents", [])
    fields["statuscallbackevents"] = events if isinstance(events, list) else [events]
    return fields


def owns_exophone(account: ExotelAccount, number: str) -> bool:
    # ExoPhones appear as +91…, 91… or 0…: compare the last ten digits.
    def last_ten(phone: str) -> str:
        return "".join(ch for ch in phone if ch.isdigit())[-10:]

    return any(last_ten(own) == last_ten(number) for own in account.exophones)


async def connect_call(
    request: Request, account: ExotelAccountDep, board: SwitchboardDep
) -> Response:
    raw = await request_fields(request)
    try:
        dial = ExotelDial.model_validate(connect_fields(raw))
    except ValidationError as exc:
        return rest_error(400, first_problem(exc))
    if not dial.streamurl:
        # Flow (Url) calls need an Exotel app; the simulator only plays Connect Voice AI.
        return rest_error(400, "StreamUrl is required (the simulator plays Connect Voice AI only)")
    if not owns_exophone(account, dial.callerid):
        return rest_error(400, f"CallerId {dial.callerid} is not an ExoPhone of this account")
    played = start_call(
        board=board,
        carrier="exotel",
        call_id=uuid.uuid4().hex,
        account=account,
        to=dial.from_,  # Exotel calls the From number first
        from_=dial.callerid,
        dial=raw,
        far_end=lambda **kw: ExotelFarEnd(dial=dial, **kw),
    )
    assert isinstance(played, ExotelFarEnd)
    lower_case = "/calls/" in request.url.path
    if lower_case or request.url.path.endswith(".json"):
        return JSONResponse(call_resource(played, lower_case=lower_case))
    return Response(xml_call(call_resource(played)["Call"]), media_type="application/xml")


def xml_call(fields: dict[str, Any]) -> str:
    # v1 answers XML without .json (§4.1); the TwilioResponse root is a guess from Exotel's samples.
    items = "".join(
        f"<{key}>{'' if value is None else escape(str(value))}</{key}>"
        for key, value in fields.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<TwilioResponse><Call>{items}</Call></TwilioResponse>"
    )


for _path in (
    "/v1/Accounts/{account_sid}/Calls/connect",
    "/v1/Accounts/{account_sid}/Calls/connect.json",
    "/v1/accounts/{account_sid}/calls/connect",
    "/v1/accounts/{account_sid}/calls/connect.json",
):
    router.add_api_route(_path, connect_call, methods=["POST"])


@router.get("/v1/Accounts/{account_sid}/Calls/{call_sid}.json")
async def call_details(call_sid: str, account: ExotelAccountDep, board: SwitchboardDep) -> Response:
    call = recorded_call(board, call_sid, account)
    if call is None or not isinstance(call.far_end, ExotelFarEnd) or call.call_id != call_sid:
        return rest_error(404, f"Call {call_sid} not found")
    return JSONResponse(call_resource(call.far_end))


def call_resource(played: ExotelFarEnd, *, lower_case: bool = False) -> dict[str, Any]:
    call = played.call
    fields = {
        "Sid": call.call_id,
        "ParentCallSid": None,
        "DateCreated": played.time_text(0.0),
        "DateUpdated": played.time_text(call.now()),
        "AccountSid": played.account.account_id,
        "To": played.dial.callerid,
        "From": played.dial.from_,
        "PhoneNumberSid": played.dial.callerid,
        # Guess: a freshly connected call already reads in-progress, as Exotel's samples show.
        "Status": "in-progress" if call.status in (None, "ringing") else call.status,
        "StartTime": played.time_text(0.0),
        "EndTime": played.time_text(call.ended_at) if call.ended.is_set() else None,
        "Duration": played.duration_secs() if call.ended.is_set() else None,
        "Price": None,
        "Direction": "outbound-api",
        "AnsweredBy": None,
        "ForwardedFrom": None,
        "CallerName": None,
        "Uri": f"/v1/Accounts/{played.account.account_id}/Calls/{call.call_id}.json",
        "RecordingUrl": None,
    }
    if lower_case:
        return {"call": {key.lower(): value for key, value in fields.items()}}
    return {"Call": fields}
