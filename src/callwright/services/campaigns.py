"""Campaign use cases for a partner: create, list, get, update (draft or paused), delete (draft),
and the contact counters every view of a campaign shows."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.domain.campaigns import CampaignStatus
from callwright.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from callwright.domain.providers import Provider, parse_provider
from callwright.services import agents as agent_service
from callwright.services import telephony
from callwright.services.calls import ProviderNotConfigured
from callwright.store.models import Agent, Campaign, CampaignContact, Partner, utcnow

# Fields a partner may change, and the checks each needs.
_EDITABLE = (
    "name",
    "description",
    "agent_id",
    "provider",
    "concurrency_limit",
    "schedule",
    "retry",
    "circuit_breaker",
    "caller_ids",
)


def canonical_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


async def create_campaign(*, session: AsyncSession, partner: Partner, fields: Mapping[str, Any]) -> Campaign:
    """A ``draft`` campaign. Checks, in order: the agent (404), the provider allowed (403) and
    configured (400), the concurrency within the partner's own limit (400)."""
    agent_id, provider = await session.run_sync(_checked_agent_and_provider, partner, fields["agent_id"], fields["provider"])
    _check_concurrency(partner, fields["concurrency_limit"])
    campaign = Campaign(
        partner_id=partner.id,
        name=fields["name"],
        description=fields.get("description"),
        agent_id=agent_id,
        provider=provider.value,
        concurrency_limit=fields["concurrency_limit"],
        status=CampaignStatus.DRAFT.value,
        schedule=fields.get("schedule") or {},
        retry=fields.get("retry") or {},
        circuit_breaker=fields.get("circuit_breaker"),
        caller_ids=list(fields.get("caller_ids") or []),
    )
    session.add(campaign)
    await session.commit()
    return campaign


def _checked_agent_and_provider(session: Session, partner: Partner, agent_id: str, name: str) -> tuple[str, Provider]:
    agent = agent_service.partner_agent(session, partner.id, agent_id)
    provider = parse_provider(name)
    if provider is None:
        raise ValidationFailed("provider", "provider must be one of " + ", ".join(p.value for p in Provider))
    if provider.value not in partner.allowed_providers:
        raise Forbidden(
            f"{provider.display_name} is not enabled for this account; ask your account manager",
            code="provider_not_allowed",
        )
    if telephony.default_connection(session, partner.id, provider) is None:
        raise ProviderNotConfigured(f"{provider.display_name} not configured")
    return agent.id, provider


def _check_concurrency(partner: Partner, limit: int) -> None:
    if limit > partner.concurrency_limit:
        raise ValidationFailed(
            "concurrency_limit",
            f"concurrency_limit must not exceed this account's own limit of {partner.concurrency_limit}",
        )


async def get_campaign(*, session: AsyncSession, partner: Partner, campaign_id: str) -> Campaign:
    canonical = canonical_id(campaign_id)
    campaign = None
    if canonical is not None:
        campaign = await session.scalar(
            select(Campaign).where(Campaign.id == canonical, Campaign.partner_id == partner.id)
        )
    if campaign is None:
        raise NotFound(f"no campaign with id {campaign_id[:64]!r}", code="campaign_not_found")
    return campaign


async def list_campaigns(
    *, session: AsyncSession, partner: Partner, limit: int, offset: int, status: CampaignStatus | None
) -> tuple[list[Campaign], int]:
    query = select(Campaign).where(Campaign.partner_id == partner.id)
    if status is not None:
        query = query.where(Campaign.status == status.value)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(limit).offset(offset))
    return list(rows), total


async def update_campaign(
    *, session: AsyncSession, partner: Partner, campaign_id: str, changes: Mapping[str, Any]
) -> Campaign:
    campaign = await get_campaign(session=session, partner=partner, campaign_id=campaign_id)
    if not CampaignStatus(campaign.status).is_editable:
        raise Conflict(
            f"a {campaign.status} campaign cannot be changed; pause it first",
            code="campaign_not_editable",
            details={"status": campaign.status},
        )
    changes = {key: value for key, value in changes.items() if key in _EDITABLE}
    if "agent_id" in changes or "provider" in changes:
        agent_id, provider = await session.run_sync(
            _checked_agent_and_provider,
            partner,
            changes.get("agent_id", campaign.agent_id),
            changes.get("provider", campaign.provider),
        )
        changes["agent_id"], changes["provider"] = agent_id, provider.value
    if "concurrency_limit" in changes:
        _check_concurrency(partner, changes["concurrency_limit"])
    for key, value in changes.items():
        setattr(campaign, key, value)
    if "agent_id" in changes:
        campaign.pause_reason = None  # a paused-for-its-agent campaign got a new one
    campaign.updated_at = utcnow()
    await session.commit()
    return campaign


async def delete_campaign(*, session: AsyncSession, partner: Partner, campaign_id: str) -> str:
    campaign = await get_campaign(session=session, partner=partner, campaign_id=campaign_id)
    if campaign.status != CampaignStatus.DRAFT.value:
        raise Conflict(
            f"only a draft campaign can be deleted; this one is {campaign.status} (cancel it instead)",
            code="campaign_not_deletable",
            details={"status": campaign.status},
        )
    deleted = campaign.id
    await session.delete(campaign)
    await session.commit()
    return deleted


async def contact_counts(session: AsyncSession, campaign_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Contacts per state, per campaign: ``{campaign_id: {"pending": n, …}}``."""
    ids = list(campaign_ids)
    counts: dict[str, dict[str, int]] = {campaign_id: {} for campaign_id in ids}
    if not ids:
        return counts
    rows = await session.execute(
        select(CampaignContact.campaign_id, CampaignContact.state, func.count())
        .where(CampaignContact.campaign_id.in_(ids))
        .group_by(CampaignContact.campaign_id, CampaignContact.state)
    )
    for campaign_id, state, count in rows:
        counts[campaign_id][state] = count
    return counts


async def agent_names(session: AsyncSession, partner_id: str, agent_ids: Iterable[str]) -> dict[str, str]:
    ids = set(agent_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Agent.id, Agent.agent_name).where(Agent.partner_id == partner_id, Agent.id.in_(ids))
    )
    return {agent_id: name for agent_id, name in rows}


# --- the operator's view: any partner's campaigns -------------------------------------------


async def find_campaign(*, session: AsyncSession, campaign_id: str) -> tuple[Campaign, Partner]:
    """Any partner's campaign, with its partner (operator tools)."""
    canonical = canonical_id(campaign_id)
    row = None
    if canonical is not None:
        row = (
            await session.execute(
                select(Campaign, Partner).join(Partner, Partner.id == Campaign.partner_id).where(Campaign.id == canonical)
            )
        ).first()
    if row is None:
        raise NotFound(f"no campaign with id {campaign_id[:64]!r}", code="campaign_not_found")
    return row[0], row[1]


async def operator_campaigns(
    *, session: AsyncSession, partner_name: str | None, status: CampaignStatus | None, limit: int = 100
) -> list[tuple[Campaign, Partner]]:
    query = select(Campaign, Partner).join(Partner, Partner.id == Campaign.partner_id)
    if partner_name is not None:
        query = query.where(Partner.name == partner_name)
    if status is not None:
        query = query.where(Campaign.status == status.value)
    rows = await session.execute(query.order_by(Campaign.created_at.desc()).limit(limit))
    return [(campaign, partner) for campaign, partner in rows]
