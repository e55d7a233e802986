"""Plivo as the simulator plays it, at the real host's paths (``https://api.plivo.com``).

Auth is HTTP Basic ``auth_id:auth_token``; resources live under ``/v1/Account/{auth_id}/`` and the
trailing slash is part of the path (the SDK always adds it; carriers.md §2.1).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

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
