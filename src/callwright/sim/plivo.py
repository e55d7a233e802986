"""Plivo as the simulator plays it, at the real host's paths (``https://api.plivo.com``).

Auth is HTTP Basic ``auth_id:auth_token``; resources live under ``/v1/Account/{auth_id}/`` and the
trailing slash is part of the path (the SDK always adds it; carriers.md §2.1).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from callwright.domain.providers import Provider
from callwright.sim.auth import Refusal, SimStateDep, basic_credentials, secrets_match
from callwright.sim.farend.plivo import PlivoFarEnd
from callwright.sim.plivo_calls import add_call_routes
from callwright.sim.state import PlivoAccount

router = APIRouter()


def unauthorized() -> PlainTextResponse:
    # Guess, from memory: Plivo answers a bad Basic login with Werkzeug's plain-text 401 rather
    # than JSON, which is why the SDK falls back to "Failed to authenticate while accessing
    # resource at: …" (plivo 4.63, process_response) in reports of this error.
    return PlainTextResponse(
        "Could not verify your access level for that URL.\n"
        "You have to login with proper credentials",
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="Login Required"'},
    )


def plivo_account(auth_id: str, request: Request, state: SimStateDep) -> PlivoAccount:
    credentials = basic_credentials(request)
    if credentials is None:
        raise Refusal(unauthorized())
    user, token = credentials
    account = state.account(Provider.PLIVO, user)
    # Guess: the account in the path must be the one logged in (no sub-account access here).
    if (
        isinstance(account, PlivoAccount)
        and secrets_match(token, account.auth_token)
        and auth_id == account.auth_id
    ):
        return account
    raise Refusal(unauthorized())


PlivoAccountDep = Annotated[PlivoAccount, Depends(plivo_account)]


@router.get("/v1/Account/{auth_id}/")
async def get_account(account: PlivoAccountDep) -> dict[str, Any]:
    # Field set of Plivo's "Retrieve account details" example; the values are made up.
    return {
        "account_type": "standard",
        "address": "",
        "api_id": str(uuid.uuid4()),
        "auth_id": account.auth_id,
        "auto_recharge": False,
        "billing_mode": "prepaid",
        "cash_credits": "100.00000",
        "city": "",
        "name": "Callwright simulated account",
        "resource_uri": f"/v1/Account/{account.auth_id}/",
        "state": "",
        "timezone": "Asia/Kolkata",
    }


add_call_routes(
    router,
    prefix="/v1",
    account_dep=PlivoAccountDep,
    far_end=PlivoFarEnd,
    fired_message="call fired",
    call_uuid_is_request_uuid=False,
    unauthorized=unauthorized,
)


# --- Numbers and Applications (§2: an Application's answer_url, linked to a number by app_id) ---


def plivo_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"api_id": str(uuid.uuid4()), "error": message}, status_code=status)


@router.get("/v1/Account/{auth_id}/Number/")
async def list_numbers(
    account: PlivoAccountDep, state: SimStateDep, limit: int = 20, offset: int = 0
) -> dict[str, Any]:
    numbers = state.numbers.numbers(Provider.PLIVO, account.auth_id)
    limit, offset = min(max(limit, 1), 20), max(offset, 0)
    base = f"/v1/Account/{account.auth_id}/Number/"
    more = offset + limit < len(numbers)
    return {
        "api_id": str(uuid.uuid4()),
        "meta": {
            "limit": limit,
            "offset": offset,
            "total_count": len(numbers),
            "next": f"{base}?limit={limit}&offset={offset + limit}" if more else None,
            "previous": f"{base}?limit={limit}&offset={max(offset - limit, 0)}" if offset else None,
        },
        "objects": [
            {
                # Plivo lists the number without its "+".
                "number": n.phone_number.lstrip("+"),
                "alias": n.alias,
                "application": f"/v1/Account/{account.auth_id}/Application/{n.app_id}/" if n.app_id else None,
                "number_type": "local",
                "voice_enabled": True,
                "sms_enabled": False,
                "resource_uri": f"{base}{n.phone_number.lstrip('+')}/",
            }
            for n in numbers[offset : offset + limit]
        ],
    }


@router.post("/v1/Account/{auth_id}/Number/{number}/", status_code=202)
async def update_number(number: str, request: Request, account: PlivoAccountDep, state: SimStateDep) -> Any:
    found = state.numbers.find(Provider.PLIVO, account.auth_id, number)
    if found is None:
        return plivo_error(404, "not found")
    body = await request.json()
    if "app_id" in body:
        app_id = str(body["app_id"] or "") or None
        if app_id is not None and state.numbers.application(Provider.PLIVO, account.auth_id, app_id) is None:
            return plivo_error(404, "application not found")
        state.numbers.update(found, app_id=app_id, set_app=True)
    return {"api_id": str(uuid.uuid4()), "message": "changed"}


@router.post("/v1/Account/{auth_id}/Application/", status_code=201)
async def create_application(request: Request, account: PlivoAccountDep, state: SimStateDep) -> Any:
    body = await request.json()
    if not body.get("answer_url") or not body.get("app_name"):
        return plivo_error(400, "app_name and answer_url are required")
    application = state.numbers.add_application(
        Provider.PLIVO, account.auth_id, name=str(body["app_name"]), answer_url=str(body["answer_url"])
    )
    return {"api_id": str(uuid.uuid4()), "app_id": application.app_id, "message": "created"}


@router.delete("/v1/Account/{auth_id}/Application/{app_id}/", status_code=204, response_model=None)
async def delete_application(app_id: str, account: PlivoAccountDep, state: SimStateDep) -> Response:
    if not state.numbers.delete_application(Provider.PLIVO, account.auth_id, app_id):
        return plivo_error(404, "not found")
    return Response(status_code=204)
