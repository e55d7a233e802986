"""The simulator's own API under ``/_sim``: accounts, faults, the request log, the scenario each
destination plays, and the record (and recording) of every call placed through it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from callwright.domain.providers import Provider
from callwright.sim.auth import SimStateDep
from callwright.sim.caller import caller_track
from callwright.sim.calls import SimCall
from callwright.sim.dialing import SwitchboardDep
from callwright.sim.inbound import NotRouted, place_inbound_call
from callwright.sim.outcome_mix import OutcomeMix
from callwright.sim.scenarios import Scenario, ScenarioBook
from callwright.sim.state import AnySimAccount, Fault, SimState
from callwright.sim.timing import call_timing

router = APIRouter()


class FaultRequest(Fault):
    provider: Provider


class InboundRequest(BaseModel):
    """A caller rings one of an account's numbers."""

    model_config = ConfigDict(populate_by_name=True)

    provider: Provider
    account_id: str = Field(min_length=1)
    to: str = Field(min_length=1)
    from_: str = Field(alias="from", min_length=1)


class ExotelFlowRequest(BaseModel):
    """The Voicebot applet URL of an ExoPhone's flow, as a partner sets it in Exotel's dashboard."""

    account_sid: str = Field(min_length=1)
    exophone: str = Field(min_length=1)
    applet_url: str | None = None


@router.post("/accounts", status_code=201)
async def add_account(account: AnySimAccount, state: SimStateDep) -> dict[str, Any]:
    state.add_account(account)
    return account.public_view()


@router.post("/inbound", status_code=201)
async def ring_a_number(body: InboundRequest, board: SwitchboardDep) -> dict[str, Any]:
    """Place a call to one of the account's numbers; the carrier runs what the number routes to."""
    try:
        call = place_inbound_call(board, body.provider, body.account_id, to=body.to, from_=body.from_)
    except NotRouted as exc:
        raise HTTPException(409, str(exc)) from None
    return {"call_id": call.call_id, "carrier": call.carrier, "to": call.to, "from": call.from_}


@router.put("/exotel/flows")
async def set_exotel_flow(body: ExotelFlowRequest, state: SimStateDep) -> dict[str, Any]:
    state.numbers.set_flow(body.account_sid, body.exophone, body.applet_url)
    return body.model_dump()


@router.post("/faults", status_code=201)
async def inject_fault(body: FaultRequest, state: SimStateDep) -> dict[str, Any]:
    fault = Fault.model_validate(body.model_dump(exclude={"provider"}))
    state.inject_fault(body.provider, fault)
    return body.model_dump()


@router.delete("/faults", status_code=204)
async def clear_faults(state: SimStateDep) -> Response:
    state.clear_faults()
    return Response(status_code=204)


@router.get("/requests")
async def list_requests(
    state: SimStateDep, carrier: Provider | None = None
) -> list[dict[str, Any]]:
    return [asdict(record) for record in state.requests(carrier)]


@router.delete("/requests", status_code=204)
async def clear_requests(state: SimStateDep) -> Response:
    state.clear_requests()
    return Response(status_code=204)


# --- scenarios: what the far end does, per destination number -----------------------------------


@router.get("/scenarios")
async def list_scenarios(state: SimStateDep) -> dict[str, Any]:
    mix = state.scenarios.mix()
    return {
        "default": state.scenarios.default().model_dump(mode="json"),
        "by_number": {n: s.model_dump(mode="json") for n, s in state.scenarios.all().items()},
        "mix": mix.model_dump(mode="json") if mix is not None else None,
    }


@router.put("/scenarios/{number}")
async def set_scenario(number: str, scenario: Scenario, state: SimStateDep) -> dict[str, Any]:
    """``number`` (any format; digits are compared) or ``default`` for every other number."""
    if scenario.answers:
        # Render the caller's speech now (off the loop) rather than when a call rings.
        await asyncio.to_thread(caller_track, scenario)
    state.scenarios.set(None if number == "default" else number, scenario)
    return scenario.model_dump(mode="json")


@router.put("/scenarios/{number}/sequence")
async def set_sequence(number: str, scenarios: list[Scenario], state: SimStateDep) -> list[dict[str, Any]]:
    """Successive calls to ``number`` play ``scenarios`` in turn; the last one repeats."""
    if not scenarios:
        raise HTTPException(400, "a sequence needs at least one scenario")
    for scenario in scenarios:
        if scenario.answers:
            await asyncio.to_thread(caller_track, scenario)
    state.scenarios.set_sequence(number, scenarios)
    return [scenario.model_dump(mode="json") for scenario in scenarios]


@router.put("/mix")
async def set_mix(mix: OutcomeMix, state: SimStateDep) -> dict[str, Any]:
    """Numbers without a scenario of their own pick one from the mix on each dial."""
    for choice in mix.choices:
        if choice.scenario.answers:
            await asyncio.to_thread(caller_track, choice.scenario)
    state.scenarios.set_mix(mix)
    return mix.model_dump(mode="json")


@router.delete("/mix", status_code=204)
async def clear_mix(state: SimStateDep) -> Response:
    state.scenarios.set_mix(None)
    return Response(status_code=204)


@router.get("/dials/{number}")
async def dial_count(number: str, state: SimStateDep) -> dict[str, Any]:
    return {"number": number, "dials": state.scenarios.dials(number)}


@router.delete("/scenarios", status_code=204)
async def clear_scenarios(state: SimStateDep) -> Response:
    state.scenarios.clear()
    return Response(status_code=204)


# --- calls: what happened on each call the simulator placed ---------------------------------------


def _call_or_404(state: SimState, call_id: str) -> SimCall:
    call = state.calls.get(call_id)
    if call is None:
        raise HTTPException(404, f"no simulated call {call_id}")
    return call


@router.get("/calls")
async def list_calls(
    state: SimStateDep, carrier: Provider | None = None, to: str | None = None
) -> list[dict[str, Any]]:
    wanted = ScenarioBook.key(to) if to else None
    return [
        {
            "carrier": call.carrier,
            "call_id": call.call_id,
            "to": call.to,
            "status": call.status,
            "ended": call.ended.is_set(),
            "end_reason": call.end_reason,
        }
        for call in state.calls.all()
        if (carrier is None or call.carrier == carrier)
        and (wanted is None or ScenarioBook.key(call.to) == wanted)
    ]


@router.get("/timings")
async def list_timings(state: SimStateDep, ended_only: bool = True) -> list[dict[str, Any]]:
    """Each call's media timing as the carrier saw it (see ``sim.timing``), for benchmarks."""
    calls = [call for call in state.calls.all() if call.ended.is_set() or not ended_only]
    return await asyncio.to_thread(lambda: [call_timing(call) for call in calls])


@router.delete("/calls", status_code=204)
async def clear_calls(state: SimStateDep) -> Response:
    state.calls.clear()
    return Response(status_code=204)


@router.get("/calls/{call_id}")
async def call_details(
    call_id: str, state: SimStateDep, wait_for_end_secs: float = Query(0.0, ge=0.0, le=600.0)
) -> dict[str, Any]:
    """The call's record; with ``wait_for_end_secs``, once it has ended (or that time is up)."""
    call = _call_or_404(state, call_id)
    deadline = time.monotonic() + wait_for_end_secs
    while not call.ended.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    return call.summary()


@router.get("/calls/{call_id}/recording.wav")
async def call_recording(call_id: str, state: SimStateDep, both_sides: bool = True) -> Response:
    """Stereo WAV (caller left, agent right) or the agent alone, 8 kHz 16-bit."""
    call = _call_or_404(state, call_id)
    wav = await asyncio.to_thread(call.wav, both_sides=both_sides)
    return Response(wav, media_type="audio/wav")


@router.post("/calls/{call_id}/hangup", status_code=202)
async def callee_hangs_up(
    call_id: str, state: SimStateDep, board: SwitchboardDep
) -> dict[str, Any]:
    """The answering party hangs up now (or the call is abandoned, if it is still ringing)."""
    call = _call_or_404(state, call_id)
    far_end = board.live(call.call_id)
    if far_end is None:
        raise HTTPException(409, f"simulated call {call_id} has already ended")
    far_end.caller_hangs_up()
    return {"call_id": call.call_id}
