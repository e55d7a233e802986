"""Starting, pausing, resuming and canceling a campaign.

A status change takes the partner's admission lock (``call_admission.lock_partner``) before it
reads the campaign, so it never interleaves with the admission of one of the campaign's calls:
the scheduler's admission reads the campaign's status under that same lock. Pausing (or
canceling) also withdraws the campaign's calls that are admitted but not yet handed to the
carrier (``dial_state`` queued or claimed), under each call's row lock, which the dialer takes
before it marks a call ``dialing``. So once a pause is committed no call of the campaign is
dialled: one already dialling was dialled before it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.calls import cancel
from callwright.domain.campaign_retries import AttemptOutcome
from callwright.domain.campaign_windows import schedule_from_json
from callwright.domain.campaigns import CampaignAction, CampaignStatus, ContactState, next_status
from callwright.domain.dialing import DialState, dial_move
from callwright.domain.end_reasons import EndReason
from callwright.domain.errors import Conflict
from callwright.services import campaign_events
from callwright.services.call_admission import lock_partner
from callwright.services.call_state import lock_call, set_state, state_of
from callwright.services.campaign_outcomes import record_outcome, wake_after_commit
from callwright.services.campaigns import get_campaign
from callwright.store.db import is_deadlock
from callwright.store.models import Call, Campaign, CampaignAttempt, CampaignContact, Partner, utcnow

log = logging.getLogger("callwright.campaigns")

_NOT_YET_DIALLED = (DialState.QUEUED, DialState.CLAIMED)
_WITHDRAWN_BY = {CampaignStatus.PAUSED: EndReason.CAMPAIGN_PAUSED, CampaignStatus.CANCELED: EndReason.CAMPAIGN_CANCELED}


# How many times a status change runs when PostgreSQL breaks a deadlock by aborting it.
DEADLOCK_ATTEMPTS = 3


async def change_status(
    *,
    session: AsyncSession,
    partner: Partner,
    campaign_id: str,
    action: CampaignAction,
    by: str = "the partner",
) -> Campaign:
    """Apply ``action`` (409 when the campaign's status does not allow it; repeating it changes
    nothing). ``by``: who asked, as ``campaign.paused`` tells it.

    Pausing and canceling lock the partner, then each call not yet dialled, while the dialer and
    call callbacks lock a call first: when PostgreSQL breaks such a deadlock by aborting this
    transaction, nothing of it was kept, and the change is run again from the start."""
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return await _change_status(session=session, partner=partner, campaign_id=campaign_id, action=action, by=by)
        except DBAPIError as exc:
            await session.rollback()
            if attempt == DEADLOCK_ATTEMPTS or not is_deadlock(exc):
                raise
            log.warning("campaign %s: %s aborted by a deadlock; running it again", campaign_id, action.value)
    raise AssertionError("unreachable")


async def _change_status(
    *,
    session: AsyncSession,
    partner: Partner,
    campaign_id: str,
    action: CampaignAction,
    by: str,
) -> Campaign:
    found = await get_campaign(session=session, partner=partner, campaign_id=campaign_id)
    await lock_partner(session, partner.id)
    campaign = await session.scalar(
        select(Campaign).where(Campaign.id == found.id).execution_options(populate_existing=True)
    )
    assert campaign is not None
    now = utcnow()
    start_at = schedule_from_json(campaign.schedule or {}).start_at
    status = CampaignStatus(campaign.status)
    new = next_status(status, action, starts_later=start_at is not None and start_at > now)
    if new is None:
        await session.commit()
        return campaign
    if action is CampaignAction.START:
        await _require_contacts(session, campaign)
    campaign.status = new.value
    campaign.updated_at = now
    if new is CampaignStatus.RUNNING:
        campaign.pause_reason = None
        enter_running(session, campaign, now=now, resumed=status is CampaignStatus.PAUSED)
    elif new is CampaignStatus.SCHEDULED:
        campaign.pause_reason = None
    elif new is CampaignStatus.PAUSED:
        campaign.paused_at = now
        await withdraw_undialled_calls(session, campaign, now=now)
        campaign_events.paused(session, campaign, reason=f"paused by {by}")
    elif new is CampaignStatus.CANCELED:
        campaign.canceled_at = now
        await withdraw_undialled_calls(session, campaign, now=now)
        await session.execute(
            update(CampaignContact)
            .where(CampaignContact.campaign_id == campaign.id, CampaignContact.state == ContactState.PENDING.value)
            .values(
                state=ContactState.SKIPPED.value, result_reason="campaign_canceled", finished_at=now, updated_at=now
            )
        )
    wake_after_commit(session)
    await session.commit()
    return campaign


def enter_running(session: AsyncSession, campaign: Campaign, *, now: datetime, resumed: bool) -> None:
    """The campaign begins (or begins again) to dial: its start time and ``campaign.started``."""
    campaign.started_at = campaign.started_at or now
    campaign_events.started(session, campaign, resumed=resumed)


async def _require_contacts(session: AsyncSession, campaign: Campaign) -> None:
    count = await session.scalar(select(func.count()).where(CampaignContact.campaign_id == campaign.id))
    if not count:
        raise Conflict("add contacts before starting this campaign", code="campaign_has_no_contacts")


async def withdraw_undialled_calls(session: AsyncSession, campaign: Campaign, *, now: datetime) -> int:
    """Cancel the campaign's calls not yet handed to the carrier; their attempts are settled as
    ``not_dialed`` (no budget used) and their contacts wait again. Returns how many."""
    ids = list(
        await session.scalars(
            select(Call.id)
            .where(Call.campaign_id == campaign.id, Call.dial_state.in_(_NOT_YET_DIALLED))
            .order_by(Call.id)
        )
    )
    withdrawn = 0
    for call_id in ids:
        call = await lock_call(session, call_id)
        if call is None or call.dial_state not in _NOT_YET_DIALLED:
            continue  # the dialer took it meanwhile: it is being dialled
        attempt = await session.scalar(select(CampaignAttempt).where(CampaignAttempt.call_id == call.id))
        contact = await session.get(CampaignContact, call.campaign_contact_id) if call.campaign_contact_id else None
        if attempt is not None and contact is not None and attempt.outcome is None:
            record_outcome(campaign, contact, attempt, AttemptOutcome.NOT_DIALED, at=now)
        call.dial_state = dial_move(call.dial_state, DialState.CANCELED)
        reason = _WITHDRAWN_BY.get(CampaignStatus(campaign.status), EndReason.CAMPAIGN_PAUSED)
        new = cancel(state_of(call), at=now, reason=reason.words)
        if new is not None:
            set_state(session, call, new, kind="canceled", source="campaign")
        withdrawn += 1
    return withdrawn


async def pause_for(session: AsyncSession, campaign_id: str, reason: str) -> bool:
    """The platform pauses a running campaign it cannot go on with (its agent deleted, its carrier
    no longer configured…), saying why. False if it was no longer running."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        return False
    await lock_partner(session, campaign.partner_id)
    await session.refresh(campaign)
    if campaign.status != CampaignStatus.RUNNING.value:
        await session.commit()
        return False
    now = utcnow()
    campaign.status = CampaignStatus.PAUSED.value
    campaign.paused_at = now
    campaign.pause_reason = reason
    campaign.updated_at = now
    await withdraw_undialled_calls(session, campaign, now=now)
    campaign_events.paused(session, campaign, reason=reason)
    await session.commit()
    return True
