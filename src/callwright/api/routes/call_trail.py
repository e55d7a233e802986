"""What happened around a call (Callwright additions the console reads): its event trail and
the webhook deliveries of its events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from callwright.api.deps import CurrentPartner, SessionDep
from callwright.api.envelope import error_responses, ok
from callwright.api.path_ids import CallId
from callwright.api.routes.webhooks import DELIVERY_EXAMPLE
from callwright.services import call_events
from callwright.services import calls as call_service
from callwright.services import webhooks as webhook_service

router = APIRouter(tags=["calls"])

EVENT_EXAMPLE = {
    "kind": "carrier_callback",
    "source": "carrier",
    "status_before": "RINGING",
    "status_after": "IN_PROGRESS",
    "payload": {"CallStatus": "in-progress"},
    "created_at": "2026-11-24T10:00:05.000000Z",
}


@router.get(
    "/calls/{call_id}/events",
    summary="A call's event trail",
    description="Oldest first: every state change of the call with its cause (`source`: api, "
    "dialer, carrier, media) and the carrier's payload, secrets removed. A Callwright addition.",
    responses={200: {"content": {"application/json": {"example": {"success": True, "data": [EVENT_EXAMPLE]}}}}}
    | error_responses(401, 404),
)
async def list_call_events(partner: CurrentPartner, session: SessionDep, call_id: CallId) -> dict[str, Any]:
    return ok(await call_events.list_call_events(session=session, partner=partner, call_id=call_id))


@router.get(
    "/calls/{call_id}/webhook-deliveries",
    summary="The webhook deliveries of a call's events",
    description="Newest first, each with its attempts, as an endpoint's delivery log shows them; "
    "redeliver one with `POST /webhook-deliveries/{id}/redeliver`. A Callwright addition.",
    responses={200: {"content": {"application/json": {"example": {"success": True, "data": [DELIVERY_EXAMPLE]}}}}}
    | error_responses(401, 404),
)
async def list_call_deliveries(partner: CurrentPartner, session: SessionDep, call_id: CallId) -> dict[str, Any]:
    call = await call_service.get_call(session=session, partner=partner, call_id=call_id)
    return ok(await webhook_service.list_call_deliveries(session=session, partner=partner, call_id=call.id))
