"""A campaign's webhook events, written in the transaction of the change they report:
``campaign.started`` (it begins, or begins again, to dial), ``campaign.paused`` (by the partner
or by the platform, with the reason) and ``campaign.completed`` (no contact is left to call)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.webhooks import EventType
from callwright.services.webhook_outbox import iso_utc
from callwright.store.models import Campaign, WebhookEvent, new_id, utcnow


def started(session: AsyncSession, campaign: Campaign, *, resumed: bool) -> None:
    _add(session, campaign, EventType.CAMPAIGN_STARTED, {"resumed": resumed})


def paused(session: AsyncSession, campaign: Campaign, *, reason: str) -> None:
    _add(session, campaign, EventType.CAMPAIGN_PAUSED, {"reason": reason})


def completed(session: AsyncSession, campaign: Campaign, *, counts: dict[str, int]) -> None:
    _add(
        session,
        campaign,
        EventType.CAMPAIGN_COMPLETED,
        {
            "total_contacts": sum(counts.values()),
            "completed_count": counts.get("completed", 0),
            "failed_count": counts.get("failed", 0),
            "skipped_count": counts.get("skipped", 0),
        },
    )


def campaign_summary(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "agent_id": campaign.agent_id,
        "provider": campaign.provider,
        "status": campaign.status,
        "started_at": iso_utc(campaign.started_at),
        "paused_at": iso_utc(campaign.paused_at),
        "completed_at": iso_utc(campaign.completed_at),
    }


def _add(session: AsyncSession, campaign: Campaign, type_: EventType, extra: dict[str, Any]) -> None:
    session.add(
        WebhookEvent(
            id=new_id(),
            partner_id=campaign.partner_id,
            type=type_.value,
            call_id=None,
            data=campaign_summary(campaign) | extra,
            created_at=utcnow(),
        )
    )
