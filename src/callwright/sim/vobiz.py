"""Vobiz as the simulator plays it, at the real host's paths (``https://api.vobiz.ai``).

Auth is the ``X-Auth-ID`` / ``X-Auth-Token`` header pair on every request (carriers.md §1.1).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from callwright.domain.providers import Provider
from callwright.sim.auth import Refusal, SimStateDep, secrets_match
from callwright.sim.farend.vobiz import VobizFarEnd
from callwright.sim.plivo_calls import add_call_routes
from callwright.sim.state import VobizAccount

router = APIRouter()


def unauthorized() -> JSONResponse:
    # Guess: the body's wording is not documented. The SDK (vobiz-python 0.1.1, process_response)
    # reads an "error" key from a 401 body, so the simulator sends one.
    return JSONResponse({"error": "Invalid auth credentials"}, status_code=401)


def vobiz_account(request: Request, state: SimStateDep) -> VobizAccount:
    # The docs also accept "Authorization: Bearer <console JWT>"; the simulator issues no JWTs.
    auth_id = request.headers.get("X-Auth-ID", "")
    auth_token = request.headers.get("X-Auth-Token", "")
    account = state.account(Provider.VOBIZ, auth_id)
    if isinstance(account, VobizAccount) and secrets_match(auth_token, account.auth_token):
        return account
    raise Refusal(unauthorized())


VobizAccountDep = Annotated[VobizAccount, Depends(vobiz_account)]


@router.get("/api/v1/auth/me")
async def auth_me(account: VobizAccountDep) -> dict[str, Any]:
    # auth_id, cps_limit, concurrent_calls_limit and pricing_tier are documented (carriers.md §1.2);
    # name is what the SDK README prints; the other fields and all values are guesses.
    return {
        "auth_id": account.auth_id,
        "name": "Callwright simulated account",
        "account_type": "sub" if account.auth_id.startswith("SA_") else "main",
        "status": "active",
        "cps_limit": 10,
        "concurrent_calls_limit": 50,
        "pricing_tier": "standard",
    }


# §1.3: Vobiz says "Call fired" where Plivo says "call fired"; request_uuid is the CallUUID.
add_call_routes(
    router,
    prefix="/api/v1",
    account_dep=VobizAccountDep,
    far_end=VobizFarEnd,
    fired_message="Call fired",
    call_uuid_is_request_uuid=True,
    unauthorized=unauthorized,
)


# Keep this route last: Vobiz answers 401, not 404, to a path it does not know, e.g. a wrongly
# cased one such as /Auth/me (carriers.md §1.1).
@router.api_route("/{unknown_path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unknown_path(unknown_path: str) -> JSONResponse:
    return unauthorized()
