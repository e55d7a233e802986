"""Vobiz as the simulator plays it, at the real host's paths (``https://api.vobiz.ai``).

Auth is the ``X-Auth-ID`` / ``X-Auth-Token`` header pair on every request (carriers.md §1.1).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from callwright.domain.providers import Provider
from callwright.sim.auth import Refusal, SimStateDep, secrets_match
from callwright.sim.dialing import SwitchboardDep, recorded_call
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
    finished_calls_here=False,
)


@router.get("/api/v1/Account/{auth_id}/cdr/{call_id}")
async def get_cdr(auth_id: str, call_id: str, account: VobizAccountDep, board: SwitchboardDep) -> JSONResponse:
    """docs.vobiz.ai/cdr/get-cdr: a finished call's CDR as ``{"data": {…}, "success": true}``;
    404 with no data for an unknown id or a call not over yet ("a CDR exists only after the call
    ends"). "Account" is capitalised, "cdr" is not (the page's edge cases; the SDK's get_cdr)."""
    if auth_id != account.auth_id:
        return unauthorized()
    call = recorded_call(board, call_id, account)
    played = call.far_end if call is not None else None
    if not isinstance(played, VobizFarEnd) or not played.call.ended.is_set():
        return JSONResponse({"success": False, "error": "CDR not found"}, status_code=404)
    return JSONResponse({"data": cdr(played), "success": True})


def cdr(played: VobizFarEnd) -> dict[str, Any]:
    """The fields of the SDK's GetCdrResponseData and the page's example; values are ours."""
    call = played.call
    answered, ended = call.wall(call.answered_at), call.wall(call.ended_at)
    ringing = call.wall(call.ringing_at)
    talk = played.duration_secs()
    total = round(call.ended_at or 0.0)
    return {
        "account_id": played.account.account_id,
        "answer_time": _iso(answered),
        "billsec": talk,
        "bridge_uuid": played.call_uuid,
        "call_direction": "outbound",
        "caller_id_name": played.dial.from_,
        "caller_id_number": played.dial.from_,
        "campaign_id": None,
        "carrier_ip": None,
        "codec": "PCMU",
        "context": "voice-api",
        "cost": 0.0,
        "created_at": _iso(ended),
        "currency": "INR",
        "customer_endpoint": None,
        "destination_number": played.dial.to,
        "duration": total,
        "end_time": _iso(ended),
        "failure_code": None,
        "failure_reason": None,
        "hangup_cause": played.hangup_q850 or "NORMAL_CLEARING",
        "hangup_cause_code": played.hangup_code or 0,
        "hangup_cause_name": call.hangup_cause or "Unknown",
        "hangup_disposition": "send_bye",
        "hangup_source": call.hangup_source or "Unknown",
        "id": abs(hash(played.call_uuid)) % 10**8,
        "jitter": 0.0,
        "mos": 4.5,
        "network_addr": "127.0.0.1",
        "origination_region": "mumbai",
        "packet_loss": 0,
        "progress_time": _iso(ringing),
        "region": "ap-south-1",
        "ring_time": round((call.answered_at or call.ended_at or 0.0) - (call.ringing_at or 0.0)),
        "sip_call_id": played.call_uuid,
        "sip_user_agent": "Vobiz",
        "start_time": _iso(call.created_wall),
        "streaming_cost": 0,
        "terminated_to": None,
        "total_cost": 0.0,
        "trunk_id": None,
        "updated_at": _iso(ended),
        "uuid": played.call_uuid,
    }


def _iso(moment: datetime | None) -> str | None:
    # The CDR's times are UTC ISO 8601 with a Z ("2026-03-25T10:00:42Z").
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


# --- Numbers and Applications (§1.9): lowercase /account/{id}/numbers, PascalCase Application ---


@router.get("/api/v1/account/{auth_id}/numbers")
async def list_numbers(
    auth_id: str, account: VobizAccountDep, state: SimStateDep, page: int = 1, per_page: int = 25
) -> Any:
    if auth_id != account.auth_id:
        return unauthorized()
    numbers = state.numbers.numbers(Provider.VOBIZ, account.auth_id)
    page, per_page = max(page, 1), min(max(per_page, 1), 100)
    start = (page - 1) * per_page
    return {
        "items": [
            {
                "id": n.sid,
                "account_id": account.auth_id,
                "e164": n.phone_number,
                "country": "IN",
                "capabilities": {"voice": True, "sms": False, "mms": False, "fax": False},
                "status": "active",
                # Listed by the partner API's item schema; the account API's example omits it.
                "application_id": n.app_id,
                "currency": "INR",
            }
            for n in numbers[start : start + per_page]
        ],
        "page": page,
        "per_page": per_page,
        "total": len(numbers),
    }


@router.post("/api/v1/Account/{auth_id}/Application/", status_code=201)
async def create_application(auth_id: str, request: Request, account: VobizAccountDep, state: SimStateDep) -> Any:
    body = await request.json()
    if auth_id != account.auth_id:
        return unauthorized()
    if not body.get("answer_url") or not body.get("name"):
        return JSONResponse({"error": "name and answer_url are required"}, status_code=400)
    application = state.numbers.add_application(
        Provider.VOBIZ, account.auth_id, name=str(body["name"]), answer_url=str(body["answer_url"])
    )
    return {"app_id": application.app_id, "message": "Application created successfully"}


@router.delete("/api/v1/Account/{auth_id}/Application/{app_id}/", status_code=204, response_model=None)
async def delete_application(auth_id: str, app_id: str, account: VobizAccountDep, state: SimStateDep) -> Response:
    if not state.numbers.delete_application(Provider.VOBIZ, account.auth_id, app_id):
        return JSONResponse({"error": "Application not found"}, status_code=404)
    return Response(status_code=204)


@router.api_route("/api/v1/account/{auth_id}/numbers/{e164}/application", methods=["POST", "DELETE"])
async def number_application(
    auth_id: str, e164: str, request: Request, account: VobizAccountDep, state: SimStateDep
) -> Any:
    number = state.numbers.find(Provider.VOBIZ, account.auth_id, e164)
    if auth_id != account.auth_id or number is None:
        return JSONResponse({"error": "Number not found"}, status_code=404)
    if request.method == "DELETE":
        state.numbers.update(number, app_id=None, set_app=True)
        return {"message": "Application detached"}
    app_id = str((await request.json()).get("application_id") or "")
    if state.numbers.application(Provider.VOBIZ, account.auth_id, app_id) is None:
        return JSONResponse({"error": "Application not found"}, status_code=404)
    state.numbers.update(number, app_id=app_id, set_app=True)
    return {"message": "Application attached", "application_id": app_id}


# Keep this route last: Vobiz answers 401, not 404, to a path it does not know, e.g. a wrongly
# cased one such as /Auth/me (carriers.md §1.1).
@router.api_route("/{unknown_path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unknown_path(unknown_path: str) -> JSONResponse:
    return unauthorized()
