"""Exotel as the simulator plays it, at the regional host's paths (``https://api.exotel.com``).

Auth is HTTP Basic ``api_key:api_token``; the account SID is in the path (carriers.md §4.1).
v2 answers in one JSON envelope (``request_id``, ``method``, ``http_code``, ``response``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from callwright.domain.providers import Provider
from callwright.sim.auth import Refusal, SimStateDep, basic_credentials, secrets_match
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
async def list_exophones(account: ExotelAccountDep) -> dict[str, Any]:
    # Guess: field names follow Exotel's ExoPhone resource as we remember it; values are made up.
    items = [
        {"code": 200, "error_data": None, "status": "success", "data": exophone(account, number)}
        for number in account.exophones
    ]
    metadata = {"total": len(items), "page_size": 50, "next_page_uri": None, "prev_page_uri": None}
    return envelope(method="GET", http_code=200, metadata=metadata, response=items)


def exophone(account: ExotelAccount, number: str) -> dict[str, Any]:
    phone_sid = uuid.uuid5(uuid.NAMESPACE_URL, f"{account.account_sid}/{number}").hex
    return {
        "sid": phone_sid,
        "account_sid": account.account_sid,
        "friendly_name": number,
        "phone_number": number,
        "capabilities": {"voice": True, "sms": False},
        "country": "IN",
        "number_type": "Landline",
        "region": "KA",
        "voice_url": None,
        "sms_url": None,
        "date_created": "2024-01-01T00:00:00+05:30",
        "date_updated": "2024-01-01T00:00:00+05:30",
        "uri": f"/v2_beta/Accounts/{account.account_sid}/IncomingPhoneNumbers/{phone_sid}",
    }
