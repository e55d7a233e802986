"""Campaigns: create, list, get, update, delete, and the lifecycle (start, pause, resume, cancel).

Vocobase documents ``POST /campaigns`` and ``POST /campaigns/{id}/contacts``; the rest follows
their style: ``{"success": true, "data": …}``, the campaign's own fields, one action per path.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.api.deps import CurrentPartner, SessionDep
from callwright.api.envelope import Responses, error_responses, ok, ok_list
from callwright.api.schemas.campaigns import (
    CampaignCreate,
    CampaignUpdate,
    campaign_public,
    create_fields,
    update_changes,
)
from callwright.domain.campaigns import CampaignAction, CampaignStatus
from callwright.services import campaign_lifecycle
from callwright.services import campaigns as campaign_service
from callwright.store.models import Campaign

router = APIRouter(tags=["campaigns"])

CampaignId = Annotated[str, Path(description="The campaign's id (a UUID).")]

EXAMPLE = {
    "campaign_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "name": "Black Friday outreach",
    "description": "Outbound to VIP customers",
    "agent_id": "a1234567-abcd-1234-abcd-123456789012",
    "agent_name": "Sales follow-up",
    "provider": "twilio",
    "concurrency_limit": 3,
    "status": "running",
    "total_contacts": 1500,
    "completed_count": 410,
    "failed_count": 35,
    "skipped_count": 4,
    "started_at": "2026-11-28T04:30:00.000000Z",
    "paused_at": None,
    "completed_at": None,
    "created_at": "2026-11-27T11:02:13.000000Z",
    "pending_count": 1048,
    "calling_count": 3,
    "canceled_at": None,
    "pause_reason": None,
    "schedule": {
        "start_at": "2026-11-28T04:30:00.000000Z",
        "end_at": None,
        "timezone": "Asia/Kolkata",
        "calling_windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "10:00", "end": "19:00"}],
        "blackout_dates": ["2026-12-25"],
    },
    "retry": {
        "max_attempts": 3,
        "busy": {"redial": True, "spacing_secs": [600, 3600]},
        "no_answer": {"redial": True, "spacing_secs": [1800]},
        "voicemail": {"redial": False, "spacing_secs": [3600]},
        "failed": {"redial": True, "spacing_secs": [900]},
        "carrier_refused": {"redial": False, "spacing_secs": [3600]},
    },
    "circuit_breaker": {"failure_rate": 0.5, "window": 20},
    "caller_ids": ["+918011223344", "+918011223355"],
    "updated_at": "2026-11-28T09:12:40.000000Z",
}


def _one(example: dict[str, Any]) -> Responses:
    return {200: {"content": {"application/json": {"example": {"success": True, "data": example}}}}}


_CREATED: Responses = {201: _one(EXAMPLE | {"status": "draft"})[200]}
_LIST: Responses = {
    200: {
        "content": {
            "application/json": {
                "example": {"success": True, "data": [EXAMPLE], "pagination": {"limit": 10, "offset": 0, "total": 1}}
            }
        }
    }
}


async def _view(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    counts = await campaign_service.contact_counts(session, [campaign.id])
    names = await campaign_service.agent_names(session, campaign.partner_id, [campaign.agent_id])
    return campaign_public(campaign, agent_name=names.get(campaign.agent_id), counts=counts[campaign.id])


@router.post(
    "/campaigns",
    status_code=201,
    summary="Create a campaign",
    description="Created in status `draft`. Checks, in order: the agent exists (404 "
    "`agent_not_found`), the provider is allowed (403 `provider_not_allowed`) and configured (400 "
    "`provider_not_configured`), `concurrency_limit` (1–10, default 1) is within the account's "
    "own limit (400). Any of the five carriers may be named. `schedule` (start and end, weekly "
    "calling windows in each recipient's local time, blackout dates) and `retry` (one attempt "
    "budget per contact, a rule per outcome) are optional; see the docs' Campaigns page.",
    response_model=None,
    responses=_CREATED | error_responses(400, 401, 403, 404),
)
async def create_campaign(partner: CurrentPartner, session: SessionDep, body: CampaignCreate) -> dict[str, Any]:
    campaign = await campaign_service.create_campaign(session=session, partner=partner, fields=create_fields(body))
    return ok(await _view(session, campaign))


@router.get(
    "/campaigns",
    summary="List campaigns",
    description="Newest first, with their counters. Filter by `status`.",
    response_model=None,
    responses=_LIST | error_responses(401),
)
async def list_campaigns(
    partner: CurrentPartner,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    status: CampaignStatus | None = None,
) -> dict[str, Any]:
    campaigns, total = await campaign_service.list_campaigns(
        session=session, partner=partner, limit=limit, offset=offset, status=status
    )
    counts = await campaign_service.contact_counts(session, [c.id for c in campaigns])
    names = await campaign_service.agent_names(session, partner.id, [c.agent_id for c in campaigns])
    data = [campaign_public(c, agent_name=names.get(c.agent_id), counts=counts[c.id]) for c in campaigns]
    return ok_list(data, limit=limit, offset=offset, total=total)


@router.get(
    "/campaigns/{campaign_id}",
    summary="Get a campaign",
    description="The campaign with its live counters. Another account's id answers 404.",
    response_model=None,
    responses=_one(EXAMPLE) | error_responses(401, 404),
)
async def get_campaign(partner: CurrentPartner, session: SessionDep, campaign_id: CampaignId) -> dict[str, Any]:
    campaign = await campaign_service.get_campaign(session=session, partner=partner, campaign_id=campaign_id)
    return ok(await _view(session, campaign))


@router.patch(
    "/campaigns/{campaign_id}",
    summary="Update a campaign",
    description="Only while `draft` or `paused` (409 `campaign_not_editable` otherwise). Fields left "
    "out keep their value; `schedule` and `retry` are replaced as a whole (`null`: the defaults).",
    response_model=None,
    responses=_one(EXAMPLE) | error_responses(400, 401, 403, 404, 409),
)
async def update_campaign(
    partner: CurrentPartner, session: SessionDep, campaign_id: CampaignId, body: CampaignUpdate
) -> dict[str, Any]:
    campaign = await campaign_service.update_campaign(
        session=session, partner=partner, campaign_id=campaign_id, changes=update_changes(body)
    )
    return ok(await _view(session, campaign))


@router.delete(
    "/campaigns/{campaign_id}",
    summary="Delete a draft campaign",
    description="Only a `draft` (never started) campaign can be deleted, with its contacts; "
    "cancel one that has started (409 `campaign_not_deletable`).",
    response_model=None,
    responses=_one({"campaign_id": EXAMPLE["campaign_id"], "deleted": True}) | error_responses(401, 404, 409),
)
async def delete_campaign(partner: CurrentPartner, session: SessionDep, campaign_id: CampaignId) -> dict[str, Any]:
    deleted = await campaign_service.delete_campaign(session=session, partner=partner, campaign_id=campaign_id)
    return ok({"campaign_id": deleted, "deleted": True})


_ACTIONS = {
    CampaignAction.START: (
        "Start a campaign",
        "A `draft` campaign with at least one contact (409 `campaign_has_no_contacts`) starts "
        "`running`, or `scheduled` until its `schedule.start_at`. Starting it again changes nothing.",
    ),
    CampaignAction.PAUSE: (
        "Pause a campaign",
        "No call of the campaign is dialled once this answers: calls admitted but not yet handed "
        "to the carrier are withdrawn (their contacts wait again, no attempt used); calls already "
        "ringing or talking go on. Pausing a paused campaign changes nothing.",
    ),
    CampaignAction.RESUME: (
        "Resume a paused campaign",
        "A `paused` campaign runs again (or waits, `scheduled`, for its `start_at`).",
    ),
    CampaignAction.CANCEL: (
        "Cancel a campaign",
        "For good: contacts not yet called are `skipped` (`campaign_canceled`), calls not yet "
        "dialled are withdrawn, calls under way finish (no retries follow).",
    ),
}


def _lifecycle_route(action: CampaignAction) -> None:
    summary, description = _ACTIONS[action]

    async def change(partner: CurrentPartner, session: SessionDep, campaign_id: CampaignId) -> dict[str, Any]:
        campaign = await campaign_lifecycle.change_status(
            session=session, partner=partner, campaign_id=campaign_id, action=action
        )
        return ok(await _view(session, campaign))

    change.__name__ = f"{action.value}_campaign"
    router.post(
        f"/campaigns/{{campaign_id}}/{action.value}",
        summary=summary,
        description=description + " 409 `campaign_status_conflict` when the campaign's status does "
        "not allow it.",
        response_model=None,
        responses=_one(EXAMPLE) | error_responses(401, 404, 409),
    )(change)


for _action in CampaignAction:
    _lifecycle_route(_action)
