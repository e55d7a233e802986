"""The partner's DND check URL (NCPR scrubbing on the partner's side): asked before every dial,
single call (403 ``number_dnd_denied``) or campaign contact (skipped, ``dnd``). Registered
before ``/suppressions/{id}`` so that ``dnd-check`` is never read as an entry's id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import Responses, error_responses, ok
from callwright.api.schemas.suppression import DndCheckBody
from callwright.domain.dnd import CACHE_TTL_SECS
from callwright.services import dnd_checks
from callwright.services.webhook_targets import policy_for
from callwright.services.webhooks import SECRET_NOTICE

router = APIRouter(tags=["suppression"])

_CHECK = {
    "url": "https://scrub.example.com/dnd",
    "timeout_ms": 1500,
    "on_error": "deny",
    "created_at": "2026-12-06T06:00:00.000000Z",
    "updated_at": "2026-12-06T06:00:00.000000Z",
}
_ONE: Responses = {200: {"content": {"application/json": {"example": {"success": True, "data": _CHECK}}}}}
_SET: Responses = {
    201: {
        "content": {
            "application/json": {
                "example": {"success": True, "data": _CHECK | {"secret": "whsec_…", "message": SECRET_NOTICE}}
            }
        }
    }
}
_DELETED: Responses = {200: {"content": {"application/json": {"example": {"success": True, "data": {"deleted": True}}}}}}


@router.get(
    "/suppressions/dnd-check",
    summary="Show the DND check",
    description="404 `dnd_check_not_found` when none is set.",
    response_model=None,
    responses=_ONE | error_responses(401, 404),
)
async def get_dnd_check(partner: CurrentPartner, session: SessionDep) -> dict[str, Any]:
    return ok(dnd_checks.check_view(await dnd_checks.get_check(session=session, partner=partner)))


@router.put(
    "/suppressions/dnd-check",
    status_code=201,
    summary="Set the DND check",
    description="Before every dial, single call or campaign contact, Callwright POSTs "
    '`{"phone": "+91…"}` to `url` (signed like a webhook: `X-Webhook-Timestamp`, '
    '`X-Webhook-Signature`) and expects a 2xx with `{"allow": true|false}` within `timeout_ms` '
    "(100–5000, default 1500). A timeout, another status or another body follows `on_error`: "
    f"`deny` (default) or `allow`. A number's answer is reused for {CACHE_TTL_SECS} s. The first "
    "PUT answers 201 with the signing `secret`, shown once; a later PUT replaces the URL and "
    "settings (200) and keeps the secret. The URL follows the webhook URL rules (https to a "
    "public address in production).",
    response_model=None,
    responses=_SET | error_responses(400, 401),
)
async def set_dnd_check(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, body: DndCheckBody, response: Response
) -> dict[str, Any]:
    check, secret = await dnd_checks.set_check(
        session=session,
        partner=partner,
        url=body.url,
        timeout_ms=body.timeout_ms,
        on_error=body.on_error,
        policy=policy_for(platform.settings),
        secretbox=platform.secretbox,
    )
    if secret is None:
        response.status_code = 200
        return ok(dnd_checks.check_view(check))
    return ok(dnd_checks.check_view(check) | {"secret": secret, "message": SECRET_NOTICE})


@router.delete(
    "/suppressions/dnd-check",
    summary="Remove the DND check",
    description="Dials are no longer checked against it; its secret is gone.",
    response_model=None,
    responses=_DELETED | error_responses(401, 404),
)
async def delete_dnd_check(partner: CurrentPartner, session: SessionDep) -> dict[str, Any]:
    await dnd_checks.delete_check(session=session, partner=partner)
    return ok({"deleted": True})
