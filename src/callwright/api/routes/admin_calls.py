"""The operator's calls across partners (``/admin/v1/calls``): the list, one call, its event trail,
its webhook deliveries (and redelivery), its recording URL. Each per-call read is answered by the
same partner-scoped service as the partner's own request, for the partner that owns the call."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from callwright.api.deps import AdminDep, PlatformDep, SessionDep
from callwright.api.envelope import error_responses, ok
from callwright.api.path_ids import CallId, DeliveryId
from callwright.api.routes.call_trail import EVENT_EXAMPLE
from callwright.api.routes.calls import CALL_EXAMPLE, DETAIL_EXAMPLE, CallFilterDep
from callwright.api.routes.webhooks import DELIVERY_EXAMPLE
from callwright.api.schemas.calls import call_detail, call_public
from callwright.services import call_events, operator_calls, recordings
from callwright.services import calls as call_service
from callwright.services import webhooks as webhook_service
from callwright.services.recordings import shown_recording_url

router = APIRouter(tags=["admin: calls"], dependencies=[AdminDep])


def _example(data: Any, status: int = 200) -> dict[int | str, Any]:
    return {status: {"content": {"application/json": {"example": {"success": True, "data": data}}}}}


_PAGE = {"limit": 10, "offset": 0, "total": 1}
_LISTED = {"calls": [CALL_EXAMPLE | {"partner": "acme-corp"}]} | _PAGE
_URL = {"call_id": CALL_EXAMPLE["call_id"], "recording_url": "https://callwright.example.com/recordings/….wav?expires=…&sig=…", "expires_at": "2026-12-01T10:00:00Z"}


@router.get(
    "/calls",
    summary="Every partner's calls",
    description="Newest first, each call as `GET /api/v2/calls` shows it plus `partner` (its name); "
    "filters as there, and `partner`.",
    responses=_example(_LISTED) | error_responses(400, 401),
)
async def list_calls(
    session: SessionDep,
    platform: PlatformDep,
    narrow: CallFilterDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    status: Annotated[str | None, Query(max_length=32)] = None,
    partner: Annotated[str | None, Query(max_length=64, description="Only this partner's calls (its name).")] = None,
) -> dict[str, Any]:
    rows, total = await operator_calls.list_all_calls(
        session=session, limit=limit, offset=offset, status=status, partner_name=partner, narrow=narrow
    )
    page = {"limit": limit, "offset": offset, "total": total}
    calls = [
        call_public(call, recording_url=shown_recording_url(platform=platform, call=call)) | {"partner": name}
        for call, name in rows
    ]
    return {"success": True, "data": {"calls": calls} | page, "pagination": page}


@router.get(
    "/calls/{call_id}",
    summary="One call of any partner",
    responses=_example(DETAIL_EXAMPLE | {"partner": "acme-corp"}) | error_responses(401, 404),
)
async def get_call(session: SessionDep, platform: PlatformDep, call_id: CallId) -> dict[str, Any]:
    owner = await operator_calls.call_owner(session=session, call_id=call_id)
    call = await call_service.get_call(session=session, partner=owner, call_id=call_id)
    shown = call_detail(call, recording_url=shown_recording_url(platform=platform, call=call))
    return ok(shown | {"partner": owner.name})


@router.get(
    "/calls/{call_id}/events",
    summary="A call's event trail",
    responses=_example([EVENT_EXAMPLE]) | error_responses(401, 404),
)
async def list_call_events(session: SessionDep, call_id: CallId) -> dict[str, Any]:
    owner = await operator_calls.call_owner(session=session, call_id=call_id)
    return ok(await call_events.list_call_events(session=session, partner=owner, call_id=call_id))


@router.get(
    "/calls/{call_id}/webhook-deliveries",
    summary="The webhook deliveries of a call's events",
    responses=_example([DELIVERY_EXAMPLE]) | error_responses(401, 404),
)
async def list_call_deliveries(session: SessionDep, call_id: CallId) -> dict[str, Any]:
    owner = await operator_calls.call_owner(session=session, call_id=call_id)
    return ok(await webhook_service.list_call_deliveries(session=session, partner=owner, call_id=call_id))


@router.get(
    "/calls/{call_id}/recording-url",
    summary="A fresh signed URL to a call's recording",
    responses=_example(_URL) | error_responses(401, 404),
)
async def get_recording_url(session: SessionDep, platform: PlatformDep, call_id: CallId) -> dict[str, Any]:
    owner = await operator_calls.call_owner(session=session, call_id=call_id)
    return ok(await recordings.recording_url(session=session, partner=owner, platform=platform, call_id=call_id))


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Deliver a partner's webhook event again",
    responses=_example(DELIVERY_EXAMPLE | {"status": "pending", "attempt_count": 0, "attempts": []}, 202)
    | error_responses(401, 404),
)
async def redeliver(session: SessionDep, delivery_id: DeliveryId) -> dict[str, Any]:
    owner = await operator_calls.delivery_owner(session=session, delivery_id=delivery_id)
    return ok(await webhook_service.redeliver(session=session, partner=owner, delivery_id=delivery_id))
