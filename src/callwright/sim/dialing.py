"""Shared by the carriers' call routes: reading a dial request, and starting its far end.

The REST request returns as soon as the call is recorded; the far end plays out in its own task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import ValidationError

from callwright.sim.calls import SimCall
from callwright.sim.farend.base import FarEnd
from callwright.sim.state import SimAccount, SimState
from callwright.sim.switchboard import Switchboard


def switchboard(request: Request) -> Switchboard:
    board: Switchboard = request.app.state.switchboard
    return board


SwitchboardDep = Annotated[Switchboard, Depends(switchboard)]


async def request_fields(request: Request) -> dict[str, Any]:
    """The request's JSON object or form fields (a repeated form field becomes a list)."""
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            body = await request.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    form = await request.form()
    fields: dict[str, Any] = {}
    for key in form.keys():
        values = [str(value) for value in form.getlist(key)]
        fields[key] = values if len(values) > 1 else values[0]
    return fields


def first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_input=False)[0]
    field = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{field}: {error['msg']}"


def start_call(
    *,
    board: Switchboard,
    carrier: str,
    call_id: str,
    account: SimAccount,
    to: str,
    from_: str,
    dial: dict[str, Any],
    far_end: Callable[..., FarEnd],
    aliases: tuple[str, ...] = (),
) -> FarEnd:
    """Record the call, pick its scenario by destination, and start playing its far end."""
    state: SimState = board.state
    call = SimCall(
        carrier=carrier,
        call_id=call_id,
        account_id=account.account_id,
        to=to,
        from_=from_,
        dial=dial,
        scenario=state.scenarios.for_number(to),
    )
    state.calls.add(call)
    for alias in aliases:
        state.calls.alias(call, alias)
    played = far_end(call=call, account=account, switchboard=board)
    call.far_end = played
    board.start(played)
    return played


def live_far_end(board: Switchboard, call_id: str, account: SimAccount) -> FarEnd | None:
    """The live far end of the account's call ``call_id`` (by any of its ids)."""
    far_end = board.live(call_id)
    if far_end is None or far_end.call.account_id != account.account_id:
        return None
    return far_end


def recorded_call(board: Switchboard, call_id: str, account: SimAccount) -> SimCall | None:
    call = board.state.calls.get(call_id)
    return call if call is not None and call.account_id == account.account_id else None
