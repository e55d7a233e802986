"""MCube as the simulator plays it, at the real host's paths (``https://api.mcube.com``).

MCube documents no credential check (carriers.md §5). Click-to-call is
``POST /Restmcube-api/outbound-calls`` with the account JWT in the JSON body's
``HTTP_AUTHORIZATION`` field (some clients send it as an ``Authorization`` header instead); the
hang-up is ``POST /hangup-api/call-release`` on the same host's root (``config.mcube.com`` in
production), served by ``release_router`` at the simulator's root.

Every response body here is a guess: MCube's are not in the stored docs beyond ``status:false``
for a failed release and the click-to-call error sentence.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from callwright.domain.providers import Provider
from callwright.sim.auth import secrets_match
from callwright.sim.dialing import SwitchboardDep, live_far_end, request_fields, start_call
from callwright.sim.farend.mcube import MCubeDial, MCubeFarEnd
from callwright.sim.state import MCubeAccount, SimState

router = APIRouter()
release_router = APIRouter()

REFUSED = "Invalid Request or Executive is not opted for Outbound Calls or agent is in oncall"


def account_for(state: SimState, token: str) -> MCubeAccount | None:
    account = state.account(Provider.MCUBE, token)
    if isinstance(account, MCubeAccount) and secrets_match(token, account.jwt_token):
        return account
    return None


def bearer(request: Request) -> str:
    value = request.headers.get("Authorization", "")
    return value.removeprefix("Bearer ").strip()


@router.post("/Restmcube-api/outbound-calls")
async def click_to_call(request: Request, board: SwitchboardDep) -> JSONResponse:
    fields = await request_fields(request)
    token = str(fields.get("HTTP_AUTHORIZATION") or bearer(request))
    account = account_for(board.state, token)
    if account is None:
        return JSONResponse({"status": "failed", "msg": "Invalid Token"}, status_code=401)
    try:
        dial = MCubeDial.model_validate(fields)
    except ValidationError:
        return JSONResponse({"status": "failed", "msg": REFUSED}, status_code=400)
    call_id = uuid.uuid4().hex
    visible = {key: value for key, value in fields.items() if key != "HTTP_AUTHORIZATION"}
    start_call(
        board=board,
        carrier="mcube",
        call_id=call_id,
        account=account,
        to=dial.custnumber,
        from_=dial.exenumber,
        dial=visible,
        far_end=lambda **kw: MCubeFarEnd(dial=dial, **kw),
    )
    body: dict[str, Any] = {"status": "success", "msg": "Call initiated", "callid": call_id}
    if account.answer_shape == "success":
        body = {"success": True, "status": "initiated", "message": "Call initiated", "callId": call_id}
    if dial.refid is not None:
        body["refid"] = dial.refid
    return JSONResponse(body)


def release_account(state: SimState, token: str) -> MCubeAccount | None:
    """The account whose call-release token this is: its Business Token where it has one (then
    the JWT is refused), else its JWT."""
    for account in state.accounts(Provider.MCUBE):
        if not isinstance(account, MCubeAccount):
            continue
        expected = account.business_token or account.jwt_token
        if secrets_match(token, expected):
            return account
    return None


@release_router.post("/hangup-api/call-release")
async def call_release(request: Request, board: SwitchboardDep) -> JSONResponse:
    fields = await request_fields(request)
    account = release_account(board.state, str(fields.get("token", "")))
    played = live_far_end(board, str(fields.get("callid", "")), account) if account else None
    if not isinstance(played, MCubeFarEnd) or played.ending.is_set():
        return JSONResponse({"status": False, "msg": "Call not found or already released"})
    played.hang_up_by_api()
    return JSONResponse({"status": True, "msg": "Call released"})
