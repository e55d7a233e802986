"""The Call resource of Plivo (§2.3, §2.8) and Vobiz (§1.3, §1.8), which share it.

``POST /Account/{id}/Call/`` fires the call; ``DELETE /Account/{id}/Call/{call_uuid}/`` hangs it up
(204, or 404 once it is gone); Plivo's ``DELETE …/Request/{request_uuid}/`` cancels one not yet
answered. ``GET …/Call/{call_uuid}/?status=live`` finds a call in progress, ``?status=queued`` one
not yet answered (ringing included), each 404 otherwise (docs.vobiz.ai/call/retrieve-queued-call,
Plivo's "Retrieve a live call" / "Retrieve a queued call"). Without ``status`` Plivo answers a
finished call's record, which has no ``call_status`` (plivo-python's callGetResponse.json); Vobiz
keeps finished calls only in its CDR (``sim.vobiz``) and answers 404 here.
"""

# No ``from __future__ import annotations``: the routes' annotations name a local (account_dep),
# which FastAPI could not resolve from a string.
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from callwright.sim.auth import Refusal
from callwright.sim.dialing import (
    SwitchboardDep,
    first_problem,
    live_far_end,
    recorded_call,
    request_fields,
    start_call,
)
from callwright.sim.farend.plivo import PlivoDial, PlivoFarEnd
from callwright.sim.state import SimAccount
from callwright.sim.switchboard import Switchboard


def api_error(status: int, error: Any) -> JSONResponse:
    return JSONResponse({"api_id": str(uuid.uuid4()), "error": error}, status_code=status)


def add_call_routes(
    router: APIRouter,
    *,
    prefix: str,
    account_dep: Any,
    far_end: type[PlivoFarEnd],
    fired_message: str,
    call_uuid_is_request_uuid: bool,
    unauthorized: Callable[[], Response],
    finished_calls_here: bool = True,
) -> None:
    """Serve the Call resource under ``{prefix}/Account/{auth_id}/`` with ``far_end`` playing.

    ``account_dep`` authenticates; the account in the path must be the one authenticated, or the
    carrier answers ``unauthorized()``.
    """

    def path_account(auth_id: str, account: account_dep) -> SimAccount:
        if auth_id != account.account_id:
            raise Refusal(unauthorized())
        return account

    Owner = Annotated[SimAccount, Depends(path_account)]

    @router.post(prefix + "/Account/{auth_id}/Call/", status_code=201)
    async def make_call(request: Request, account: Owner, board: SwitchboardDep) -> Response:
        fields = await request_fields(request)
        try:
            dial = PlivoDial.model_validate(fields)
        except ValidationError as exc:
            return api_error(400, first_problem(exc))
        request_uuid = str(uuid.uuid4())
        call_uuid = request_uuid if call_uuid_is_request_uuid else str(uuid.uuid4())
        start_call(
            board=board,
            carrier=far_end.carrier,
            call_id=request_uuid,
            account=account,
            to=dial.to,
            from_=dial.from_,
            dial=fields,
            far_end=lambda **kw: far_end(
                dial=dial, request_uuid=request_uuid, call_uuid=call_uuid, **kw
            ),
            aliases=() if call_uuid == request_uuid else (call_uuid,),
        )
        body = {"api_id": str(uuid.uuid4()), "message": fired_message, "request_uuid": request_uuid}
        return JSONResponse(body, status_code=201)

    @router.delete(prefix + "/Account/{auth_id}/Call/{call_uuid}/")
    async def hang_up(call_uuid: str, account: Owner, board: SwitchboardDep) -> Response:
        played = _live(board, call_uuid, account)
        # A call is hung up by its CallUUID; a request_uuid is no call's id (on Vobiz they match).
        if played is None or played.call_uuid != call_uuid:
            return api_error(404, "not found")
        played.hang_up_by_api()
        return Response(status_code=204)

    @router.post(prefix + "/Account/{auth_id}/Call/{call_uuid}/", status_code=202)
    async def transfer(call_uuid: str, request: Request, account: Owner, board: SwitchboardDep) -> Response:
        """Transfer a live call (Plivo's "Transfer a call"; Vobiz mirrors it): ``legs`` aleg (the
        default), bleg or both; ``aleg_url`` (+ ``aleg_method``) is required for the A leg.
        202 ``{"message": "call transferred"}``; 404 for a call not in progress."""
        fields = await request_fields(request)
        played = _live(board, call_uuid, account)
        if played is None or played.call_uuid != call_uuid or played.call.answered_at is None:
            return api_error(404, "not found")
        legs = str(fields.get("legs") or "aleg")
        if legs != "aleg":
            played.call.notes.append(f"transfer legs={legs!r} is not simulated (no B leg)")
            return api_error(400, "bleg transfer needs a bridged call")
        url = str(fields.get("aleg_url") or "")
        if not url:
            return api_error(400, "aleg_url is required when legs is aleg")
        played.transfer(url, str(fields.get("aleg_method") or "POST").upper())
        return JSONResponse({"api_id": str(uuid.uuid4()), "message": "call transferred"}, status_code=202)

    @router.post(prefix + "/Account/{auth_id}/Call/{call_uuid}/DTMF/", status_code=202)
    async def send_digits(call_uuid: str, request: Request, account: Owner, board: SwitchboardDep) -> Response:
        """Send digits on a live call (Plivo's "Send digits": ``digits`` required, ``leg`` aleg
        or bleg); 202 ``{"message": "digits sent"}``."""
        fields = await request_fields(request)
        played = _live(board, call_uuid, account)
        if played is None or played.call_uuid != call_uuid or played.call.answered_at is None:
            return api_error(404, "not found")
        digits = str(fields.get("digits") or "")
        if not digits or any(ch not in "0123456789*#wW" for ch in digits):
            return api_error(400, "digits must be 0-9, *, #, w or W")
        played.call.dtmf_sent.append(digits)
        return JSONResponse({"api_id": str(uuid.uuid4()), "message": "digits sent"}, status_code=202)

    @router.get(prefix + "/Account/{auth_id}/Call/{call_uuid}/")
    async def call_details(
        call_uuid: str, request: Request, account: Owner, board: SwitchboardDep
    ) -> Response:
        call = recorded_call(board, call_uuid, account)
        played = call.far_end if call is not None else None
        if not isinstance(played, PlivoFarEnd):
            return api_error(404, "not found")
        status = request.query_params.get("status")
        ended = played.call.ended.is_set() or played.ending.is_set()
        answered = played.call.answered_at is not None
        # A call not yet answered is still a request: Plivo finds it by its request_uuid too.
        known = call_uuid in (played.call_uuid, played.request_uuid)
        if status == "live" and not ended and answered and played.call_uuid == call_uuid:
            return JSONResponse(live_record(played))
        if status == "queued" and not ended and not answered and known:
            return JSONResponse(queued_record(played))
        if status is None and played.call.ended.is_set() and finished_calls_here:
            if played.call_uuid == call_uuid:
                return JSONResponse(call_record(played))
        return api_error(404, "not found")

    if call_uuid_is_request_uuid:
        return

    @router.delete(prefix + "/Account/{auth_id}/Request/{request_uuid}/")
    async def cancel(request_uuid: str, account: Owner, board: SwitchboardDep) -> Response:
        played = _live(board, request_uuid, account)
        answered = played is not None and played.call.answered_at is not None
        if played is None or played.request_uuid != request_uuid or answered:
            return api_error(404, "not found")
        played.hang_up_by_api()
        return Response(status_code=204)


def _live(board: Switchboard, call_id: str, account: SimAccount) -> PlivoFarEnd | None:
    played = live_far_end(board, call_id, account)
    return played if isinstance(played, PlivoFarEnd) and not played.ending.is_set() else None


def call_record(played: PlivoFarEnd) -> dict[str, Any]:
    """``GET /Call/{uuid}/`` of an ended call: Plivo's Call object, the fields of plivo-python's
    callGetResponse.json plus the hang-up cause fields of the Call object page. No call_status:
    a finished record tells its end only by ``end_time`` and the hang-up cause."""
    call, call_uuid = played.call, played.call_uuid
    return {
        "api_id": str(uuid.uuid4()),
        "answer_time": played.time_text(call.answered_at) or None,
        "bill_duration": played.duration_secs(),
        "billed_duration": played.duration_secs(),
        "call_direction": "outbound",
        "call_duration": played.duration_secs(),
        "call_uuid": played.call_uuid,
        "end_time": played.time_text(call.ended_at) or None,
        "from_number": played.dial.from_,
        "hangup_cause_code": played.hangup_code,
        "hangup_cause_name": call.hangup_cause,
        "hangup_source": call.hangup_source,
        "initiation_time": played.time_text(0.0),
        "parent_call_uuid": None,
        "request_uuid": played.request_uuid,
        "resource_uri": f"{played.resource_prefix}/Account/{call.account_id}/Call/{call_uuid}/",
        "to_number": played.dial.to,
        "total_amount": "0.00000",
        "total_rate": "0.00000",
    }


def queued_record(played: PlivoFarEnd) -> dict[str, Any]:
    """``GET /Call/{uuid}/?status=queued`` of a call not yet answered: ``call_status`` is always
    "queued" (docs.vobiz.ai/call/retrieve-queued-call's example)."""
    return {
        "api_id": str(uuid.uuid4()),
        "call_status": "queued",
        "call_uuid": played.call_uuid,
        "request_uuid": played.request_uuid,
        "caller_name": played.dial.from_,
        "direction": "outbound",
        "from": played.dial.from_,
        "to": played.dial.to,
    }


def live_record(played: PlivoFarEnd) -> dict[str, Any]:
    """``GET /Call/{uuid}/?status=live`` of a call in progress (plivo-python's
    liveCallGetResponse.json)."""
    return {
        "api_id": str(uuid.uuid4()),
        "direction": "outbound",
        "from": played.dial.from_,
        "call_status": played.call.status,
        "to": played.dial.to,
        "caller_name": played.dial.from_,
        "call_uuid": played.call_uuid,
        "request_uuid": played.request_uuid,
        "session_start": played.time_text(played.call.answered_at) or None,
    }
