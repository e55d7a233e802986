"""The simulator's own API under ``/_sim``: add accounts, inject faults, read the request log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Response

from callwright.domain.providers import Provider
from callwright.sim.auth import SimStateDep
from callwright.sim.state import AnySimAccount, Fault

router = APIRouter()


class FaultRequest(Fault):
    provider: Provider


@router.post("/accounts", status_code=201)
async def add_account(account: AnySimAccount, state: SimStateDep) -> dict[str, Any]:
    state.add_account(account)
    return account.public_view()


@router.post("/faults", status_code=201)
async def inject_fault(body: FaultRequest, state: SimStateDep) -> dict[str, Any]:
    fault = Fault(status=body.status, delay_secs=body.delay_secs, count=body.count)
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
