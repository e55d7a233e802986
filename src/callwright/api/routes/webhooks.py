"""Webhook endpoints (``/config/webhooks``), the legacy ``/config/webhook``, the delivery log and
redelivery."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import error_responses, ok, ok_list
from callwright.api.path_ids import DeliveryId, EndpointId
from callwright.api.schemas.webhooks import LegacyWebhookBody, WebhookCreateBody, WebhookUpdateBody
from callwright.services import webhooks as webhook_service
from callwright.services.webhook_targets import policy_for

router = APIRouter(tags=["webhooks"])

_ENDPOINT_ID = EndpointId
_ENDPOINT = {
    "id": "12345678-abcd-1234-abcd-123456789012",
    "label": "prod",
    "url": "https://your-server.example/webhooks/callwright",
    "enabled": True,
    "events": ["session.completed"],
    "last_delivery_at": None,
    "last_delivery_status": None,
    "created_at": "2026-11-25T10:30:00.000000Z",
    "updated_at": "2026-11-25T10:30:00.000000Z",
}
_WITH_SECRET = _ENDPOINT | {"secret": "whsec_…", "message": webhook_service.SECRET_NOTICE}
DELIVERY_EXAMPLE = {
    "id": "0f9e8d7c-6b5a-4c3d-2e1f-0a9b8c7d6e5f",
    "endpoint_id": _ENDPOINT["id"],
    "event_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    "event_type": "session.completed",
    "call_id": "0b7c6a9e-4f2d-4c1e-9a55-3f1f2f0a7c11",
    "status": "delivered",
    "attempt_count": 2,
    "next_attempt_at": None,
    "delivered_at": "2026-11-25T10:31:07.412000Z",
    "redelivery_of": None,
    "created_at": "2026-11-25T10:31:02.101000Z",
    "attempts": [
        {"number": 1, "started_at": "2026-11-25T10:31:02.130000Z", "finished_at": "2026-11-25T10:31:02.141000Z",
         "status_code": None, "latency_ms": 11, "error": "could not reach your-server.example:443 (ConnectError)"},
        {"number": 2, "started_at": "2026-11-25T10:31:07.390000Z", "finished_at": "2026-11-25T10:31:07.412000Z",
         "status_code": 200, "latency_ms": 22, "error": None},
    ],
}


def _example(data: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": {"success": True, "data": data}}}}}


def _with_secret(endpoint, secret: str) -> dict[str, Any]:
    return webhook_service.endpoint_view(endpoint) | {"secret": secret, "message": webhook_service.SECRET_NOTICE}


@router.post(
    "/config/webhooks",
    status_code=201,
    summary="Add a webhook endpoint",
    description="At most 5 endpoints per partner; labels are unique per partner (`default` is "
    "reserved for `PUT /config/webhook`). The signing `secret` is returned here once and never "
    "again. In production the URL must be https and must not point at a private, loopback or "
    "link-local address (checked on the resolved addresses, now and at every delivery). "
    "`enabled` (default true): only enabled endpoints receive events. `events` (default "
    "`[\"session.completed\"]`, the one event Vocobase sends): add `call.ringing`, "
    "`call.answered`, `call.ended` to receive those too.",
    responses={201: _example(_WITH_SECRET)[200]} | error_responses(401, 409),
)
async def create_webhook(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, body: WebhookCreateBody
) -> dict[str, Any]:
    endpoint, secret = await webhook_service.create_endpoint(
        session=session, partner=partner, label=body.label, url=body.url,
        secretbox=platform.secretbox, policy=policy_for(platform.settings),
        enabled=body.enabled, events=body.events,
    )
    return ok(_with_secret(endpoint, secret))


@router.patch(
    "/config/webhooks/{endpoint_id}",
    summary="Update a webhook endpoint",
    description="Change `url`, `label`, `enabled` or `events`; fields left out keep their value "
    "and the secret stays. A disabled endpoint gets no new events (deliveries already queued are "
    "still sent). The Vocobase docs have no update route; this one is Callwright's.",
    responses=_example(_ENDPOINT | {"enabled": False}) | error_responses(400, 401, 404, 409),
)
async def update_webhook(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    endpoint_id: _ENDPOINT_ID,
    body: WebhookUpdateBody,
) -> dict[str, Any]:
    endpoint = await webhook_service.update_endpoint(
        session=session, partner=partner, endpoint_id=endpoint_id,
        changes=webhook_service.EndpointChanges(
            url=body.url, label=body.label, enabled=body.enabled, events=body.events
        ),
        policy=policy_for(platform.settings),
    )
    return ok(webhook_service.endpoint_view(endpoint))


@router.get(
    "/config/webhooks",
    summary="List webhook endpoints",
    description="Secrets are never shown.",
    responses=_example([_ENDPOINT]) | error_responses(401),
)
async def list_webhooks(partner: CurrentPartner, session: SessionDep) -> dict[str, Any]:
    endpoints = await webhook_service.list_endpoints(session=session, partner=partner)
    return ok([webhook_service.endpoint_view(e) for e in endpoints])


@router.delete(
    "/config/webhooks/{endpoint_id}",
    summary="Delete a webhook endpoint",
    description="Its pending deliveries are dropped with it.",
    responses=_example({"id": _ENDPOINT["id"], "deleted": True}) | error_responses(401, 404),
)
async def delete_webhook(partner: CurrentPartner, session: SessionDep, endpoint_id: _ENDPOINT_ID) -> dict[str, Any]:
    await webhook_service.delete_endpoint(session=session, partner=partner, endpoint_id=endpoint_id)
    return ok({"id": endpoint_id, "deleted": True})


@router.post(
    "/config/webhooks/{endpoint_id}/rotate-secret",
    summary="Rotate an endpoint's signing secret",
    description="Returns the new secret once. Every request from now on, retries of earlier events "
    "included, is signed with it.",
    responses=_example(_WITH_SECRET) | error_responses(401, 404),
)
async def rotate_webhook_secret(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, endpoint_id: _ENDPOINT_ID
) -> dict[str, Any]:
    endpoint, secret = await webhook_service.rotate_secret(
        session=session, partner=partner, endpoint_id=endpoint_id, secretbox=platform.secretbox
    )
    return ok(_with_secret(endpoint, secret))


@router.get(
    "/config/webhooks/{endpoint_id}/deliveries",
    summary="An endpoint's delivery log",
    description="Newest first. Each delivery (one event to this endpoint) with its status "
    "(`pending`, `delivered`, `dead`) and every attempt: HTTP status, latency, error.",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "success": True,
                        "data": [DELIVERY_EXAMPLE],
                        "pagination": {"limit": 20, "offset": 0, "total": 1},
                    }
                }
            }
        }
    }
    | error_responses(401, 404),
)
async def list_webhook_deliveries(
    partner: CurrentPartner,
    session: SessionDep,
    endpoint_id: _ENDPOINT_ID,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    data, total = await webhook_service.list_deliveries(
        session=session, partner=partner, endpoint_id=endpoint_id, limit=limit, offset=offset
    )
    return ok_list(data, limit=limit, offset=offset, total=total)


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Deliver an event again",
    description="Queues a fresh delivery of that delivery's event to the same endpoint, with the "
    "same event id (`X-Webhook-Id`), signed with the endpoint's current secret.",
    responses={202: _example(DELIVERY_EXAMPLE | {"status": "pending", "attempt_count": 0, "attempts": []})[200]}
    | error_responses(401, 404),
)
async def redeliver(
    partner: CurrentPartner,
    session: SessionDep,
    delivery_id: DeliveryId,
) -> dict[str, Any]:
    return ok(await webhook_service.redeliver(session=session, partner=partner, delivery_id=delivery_id))


@router.put(
    "/config/webhook",
    summary="Set the webhook URL (legacy)",
    description="Vocobase's single-webhook route: creates or replaces the endpoint labelled "
    "`default` and returns a new `webhook_secret` (shown once; the old one stops working).",
    responses=_example(
        {
            "webhook_url": _ENDPOINT["url"],
            "webhook_secret": "whsec_…",
            "message": webhook_service.SECRET_NOTICE,
        }
    )
    | error_responses(401, 409),
)
async def put_legacy_webhook(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, body: LegacyWebhookBody
) -> dict[str, Any]:
    endpoint, secret = await webhook_service.set_default_url(
        session=session, partner=partner, url=body.target,
        secretbox=platform.secretbox, policy=policy_for(platform.settings),
    )
    return ok({"webhook_url": endpoint.url, "webhook_secret": secret, "message": webhook_service.SECRET_NOTICE})
