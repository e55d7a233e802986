"""A campaign's circuit breaker against the store: its latest settled dials, read before each
dispatch of the campaign (``campaign_scheduler``).

One indexed read (``ix_campaign_attempts_campaign_ended``, at most ``window`` rows) per pass of a
campaign that has free slots; none for a campaign without a breaker. The pause itself is
``campaign_lifecycle.pause_for``: under the partner's lock, only while the campaign is still
``running``, so it happens, and ``campaign.paused`` is written, once however many schedulers or
passes see the same failures. The window holds the dials made since the campaign last started
or resumed (attempts created after its last pause), so a resume starts a fresh count.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.campaign_guards import DIALS, breaker_from_json
from callwright.domain.campaign_retries import AttemptOutcome
from callwright.store.models import Campaign, CampaignAttempt

_DIALS = [outcome.value for outcome in DIALS]


async def trip_reason(session: AsyncSession, campaign: Campaign) -> str | None:
    """Why ``campaign`` must pause now, or None."""
    breaker = breaker_from_json(campaign.circuit_breaker)
    if breaker is None:
        return None
    query = select(CampaignAttempt.outcome).where(
        CampaignAttempt.campaign_id == campaign.id, CampaignAttempt.outcome.in_(_DIALS)
    )
    if campaign.paused_at is not None:
        query = query.where(CampaignAttempt.created_at > campaign.paused_at)
    rows = await session.scalars(query.order_by(CampaignAttempt.ended_at.desc()).limit(breaker.window))
    return breaker.trip_reason([AttemptOutcome(outcome) for outcome in rows if outcome is not None])
