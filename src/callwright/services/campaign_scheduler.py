"""The campaign scheduler: turns due contacts of running campaigns into calls.

One instance runs per cluster (``campaign_election``; in one process without Redis it just runs).
It keeps nothing that matters in memory: contacts, attempts and calls are in the store, so after a
crash it goes on where the store says. Each pass, woken at once (a campaign started or resumed,
a campaign call ended, an attempt settled) or by polling as a backstop:

1. ``scheduled`` campaigns whose ``start_at`` has come start running.
2. For each running campaign, with free slots under its own concurrency limit: its circuit
   breaker is checked (too many of its latest dials failed at the carrier: it pauses, saying
   why), then its due contacts
   (pending, ``next_attempt_at`` reached, in the order given) are checked against the
   suppression list (skipped) and their calling windows (a closed window moves the contact to
   its next opening; none left: skipped ``outside_schedule``) and, when the partner set one, its
   DND check URL (denied: skipped ``dnd``); the rest become calls through
   ``campaign_dispatch`` (the admission of ``POST /calls/start``, within the partner's limit less
   the share kept for single and inbound calls).
3. Running campaigns with no contact left to call complete.

Outcomes come back in the transaction that ends each call (``campaign_outcomes``), which also
decides the contact's retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.calls import TERMINAL_STATUSES
from callwright.domain.campaign_windows import (
    RecipientZones,
    is_open,
    next_open,
    recipient_zones,
    schedule_from_json,
)
from callwright.domain.campaigns import CampaignStatus, ContactState, campaign_call_limit
from callwright.domain.clock import Clock, SystemClock
from callwright.domain.credits import check_can_start
from callwright.domain.dnd import ERROR_RETRY_SECS, DndConfig
from callwright.domain.errors import Forbidden, LimitExceeded
from callwright.domain.inbound import outbound_call_limit
from callwright.domain.providers import parse_provider
from callwright.platform import Platform
from callwright.services import (
    campaign_breaker,
    campaign_events,
    dnd_checks,
    phone_numbers,
    suppression,
    telephony,
)
from callwright.services.call_admission import AdmissionConflict, StartWithdrawn
from callwright.services.call_state import lock_call, record_event
from callwright.services.calls import call_rate_and_balance
from callwright.services.campaign_dispatch import CampaignParts, admit_attempt, campaign_active_calls
from callwright.services.campaign_lifecycle import enter_running, pause_for
from callwright.services.campaigns import contact_counts
from callwright.services.webhook_outbox import call_changed
from callwright.store.models import Agent, Call, Campaign, CampaignContact, DndCheck, Partner, utcnow

log = logging.getLogger("callwright.campaigns")

# Due contacts read per free slot: some may be outside their window or suppressed.
DUE_PER_SLOT = 4
DUE_MIN = 20
# A campaign call that ended but whose media never reported its end (the process carrying it
# died) is settled once nothing has touched it this long; live media is heartbeated far more often.
STRAGGLER_SECS = 600
STRAGGLER_SWEEP_SECS = 60


class CampaignScheduler:
    def __init__(self, platform: Platform, *, clock: Clock | None = None, poll_interval_secs: float | None = None) -> None:
        self.platform = platform
        self.clock = clock or SystemClock()
        self.poll_interval_secs = poll_interval_secs or platform.settings.campaign_poll_interval_secs
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="callwright-campaign-scheduler")

    async def stop(self) -> None:
        self._stopping.set()
        self.platform.campaign_wakeup.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        wakeup = self.platform.campaign_wakeup
        last_sweep = 0.0
        while not self._stopping.is_set():
            wakeup.clear()
            try:
                if time.monotonic() - last_sweep > STRAGGLER_SWEEP_SECS:
                    await self.recover_stragglers()
                    last_sweep = time.monotonic()
                await self.run_once()
            except Exception:  # the loop must survive a store hiccup; the next pass retries
                log.exception("campaign scheduler pass failed")
            try:
                await asyncio.wait_for(wakeup.wait(), timeout=self.poll_interval_secs)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """One pass; returns how many calls it admitted."""
        now = self.clock.now()
        await self._start_scheduled(now)
        admitted = 0
        async with self.platform.sessions() as session:
            running = list(
                await session.scalars(
                    select(Campaign.id).where(Campaign.status == CampaignStatus.RUNNING.value).order_by(Campaign.created_at)
                )
            )
        for campaign_id in running:
            try:
                admitted += await self._dispatch(campaign_id, now)
            except Exception:
                log.exception("campaign %s: dispatch failed", campaign_id)
        await self._complete_finished(now)
        if admitted:
            self.platform.control.wake_dialer()
        return admitted

    async def recover_stragglers(self) -> int:
        """Settle the campaign calls that ended but whose session never completed because the
        process carrying their media died: their media is marked gone, which writes their
        ``session.completed`` and so their attempt's outcome. Returns how many."""
        cutoff = utcnow() - timedelta(seconds=STRAGGLER_SECS)
        async with self.platform.sessions() as session:
            ids = list(
                await session.scalars(
                    select(Call.id)
                    .join(CampaignContact, CampaignContact.current_call_id == Call.id)
                    .where(
                        CampaignContact.state == ContactState.CALLING.value,
                        Call.status.in_([status.value for status in TERMINAL_STATUSES]),
                        Call.session_completed_at.is_(None),
                        Call.updated_at < cutoff,
                    )
                    .limit(100)
                )
            )
        for call_id in ids:
            async with self.platform.sessions() as session:
                call = await lock_call(session, call_id)
                if call is not None and call.session_completed_at is None:
                    call.media_ended_at = call.media_ended_at or utcnow()
                    record_event(session, call, kind="media_lost", source="campaign", before=call.status)
                    call_changed(session, call, status_before=call.status)
                await session.commit()
        return len(ids)

    async def _start_scheduled(self, now: datetime) -> None:
        async with self.platform.sessions() as session:
            for campaign in await session.scalars(
                select(Campaign).where(Campaign.status == CampaignStatus.SCHEDULED.value)
            ):
                start_at = schedule_from_json(campaign.schedule or {}).start_at
                if start_at is not None and start_at > now:
                    continue
                moved = await session.execute(
                    update(Campaign)
                    .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.SCHEDULED.value)
                    .values(status=CampaignStatus.RUNNING.value, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if moved.rowcount == 1:  # type: ignore[attr-defined]
                    campaign.status = CampaignStatus.RUNNING.value
                    enter_running(session, campaign, now=now, resumed=False)
            await session.commit()

    async def _dispatch(self, campaign_id: str, now: datetime) -> int:
        async with self.platform.sessions() as session:
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None or campaign.status != CampaignStatus.RUNNING.value:
                return 0
            parts = await self._parts(session, campaign)
            if parts is None:
                return 0
            free = campaign.concurrency_limit - await session.run_sync(campaign_active_calls, campaign.id)
            if free <= 0:
                return 0
            if (tripped := await campaign_breaker.trip_reason(session, campaign)) is not None:
                await session.rollback()
                if await pause_for(session, campaign_id, tripped):
                    log.warning("campaign %s paused: %s", campaign_id, tripped)
                return 0
            due = list(
                await session.scalars(
                    select(CampaignContact)
                    .where(
                        CampaignContact.campaign_id == campaign.id,
                        CampaignContact.state == ContactState.PENDING.value,
                        CampaignContact.next_attempt_at <= now,
                    )
                    .order_by(CampaignContact.next_attempt_at, CampaignContact.position)
                    .limit(max(DUE_MIN, free * DUE_PER_SLOT))
                )
            )
            if not due:
                return 0
            ready = await self._screen(session, campaign, due, now, free)
            dnd = dnd_checks.config_of(await session.get(DndCheck, campaign.partner_id), self.platform.secretbox)
            await session.commit()
        if dnd is not None and ready:
            ready = await self._dnd_screen(dnd, ready, now)
        admitted = 0
        outcomes = await asyncio.gather(
            *(admit_attempt(self.platform.admission, parts, contact) for contact in ready), return_exceptions=True
        )
        for contact, outcome in zip(ready, outcomes, strict=True):
            if isinstance(outcome, (StartWithdrawn, LimitExceeded, AdmissionConflict)):
                continue  # moved on meanwhile, or the partner's share is in use: a later pass
            if isinstance(outcome, BaseException):
                log.error("campaign %s: contact %s could not be called: %r", campaign_id, contact.id, outcome)
                continue
            admitted += 1
        return admitted

    async def _screen(
        self, session: AsyncSession, campaign: Campaign, due: list[CampaignContact], now: datetime, free: int
    ) -> list[CampaignContact]:
        """The due contacts that may be called now, at most ``free``; the others are skipped
        (suppressed, schedule over) or moved to their window's next opening."""
        schedule = schedule_from_json(campaign.schedule or {})
        blocked = await suppression.suppressed_numbers(session, campaign.partner_id, [c.phone for c in due])
        openings: dict[RecipientZones, datetime | None] = {}
        ready: list[CampaignContact] = []
        for contact in due:
            if contact.phone in blocked:
                await _finish(session, contact, ContactState.SKIPPED, "number_suppressed", now)
                continue
            zones = recipient_zones(contact.phone, override=contact.timezone, campaign_zone=schedule.timezone)
            if is_open(schedule, zones, now):
                if len(ready) < free:
                    ready.append(contact)
                continue
            if zones not in openings:
                openings[zones] = next_open(schedule, zones, now)
            opening = openings[zones]
            if opening is None:
                await _finish(session, contact, ContactState.SKIPPED, "outside_schedule", now)
            else:
                await session.execute(
                    update(CampaignContact)
                    .where(CampaignContact.id == contact.id, CampaignContact.state == ContactState.PENDING.value)
                    .values(next_attempt_at=opening)
                    .execution_options(synchronize_session=False)
                )
        return ready

    async def _dnd_screen(self, dnd: DndConfig, ready: list[CampaignContact], now: datetime) -> list[CampaignContact]:
        """The contacts the partner's DND check allows, asked all at once (each at most
        ``timeout_ms``; a number asked within ``CACHE_TTL_SECS`` is not asked again). A contact
        denied is skipped (``dnd``); one whose check failed under ``on_error: deny`` waits
        ``ERROR_RETRY_SECS`` and is asked again."""
        verdicts = await asyncio.gather(*(self.platform.dnd_gate.verdict(dnd, c.phone) for c in ready))
        allowed = [contact for contact, verdict in zip(ready, verdicts, strict=True) if verdict.allow]
        if len(allowed) == len(ready):
            return allowed
        async with self.platform.sessions() as session:
            for contact, verdict in zip(ready, verdicts, strict=True):
                if verdict.allow:
                    continue
                if verdict.error is None:
                    await _finish(session, contact, ContactState.SKIPPED, "dnd", now)
                    continue
                log.warning("campaign %s: DND check failed for a contact: %s", contact.campaign_id, verdict.error)
                await session.execute(
                    update(CampaignContact)
                    .where(CampaignContact.id == contact.id, CampaignContact.state == ContactState.PENDING.value)
                    .values(next_attempt_at=now + timedelta(seconds=ERROR_RETRY_SECS))
                    .execution_options(synchronize_session=False)
                )
            await session.commit()
        self.platform.campaign_wakeup.set()  # the slots the denied left free: the next pass fills them
        return allowed

    async def _parts(self, session: AsyncSession, campaign: Campaign) -> CampaignParts | None:
        """What the campaign's calls are made from; None (the campaign paused, saying why) when
        it can no longer be called from: its agent deleted, its carrier not allowed or not set up."""
        partner = await session.get(Partner, campaign.partner_id)
        agent = await session.scalar(
            select(Agent).where(Agent.id == campaign.agent_id, Agent.partner_id == campaign.partner_id)
        )
        provider = parse_provider(campaign.provider)
        problem = None
        connection = None
        if partner is None or partner.status != "active":
            return None  # a suspended partner's campaigns wait
        if agent is None:
            problem = "its agent was deleted; set another agent_id and resume"
        elif provider is None or provider.value not in partner.allowed_providers:
            problem = f"{campaign.provider} is no longer enabled for this account"
        else:
            connection = await telephony.get_connection(session=session, partner_id=partner.id, provider=provider)
            if connection is None:
                problem = f"{provider.display_name} is no longer configured"
        rate = None
        if problem is None and agent is not None:
            rate, balance = await session.run_sync(
                call_rate_and_balance, partner, agent, self.platform.settings.default_rate_paise
            )
            try:
                check_can_start(balance_paise=balance, rate=rate)
            except Forbidden as exc:
                problem = exc.message
        if problem is not None or agent is None or provider is None or connection is None or rate is None:
            campaign_id = campaign.id
            await session.rollback()
            if await pause_for(session, campaign_id, problem or "it cannot be dialled"):
                log.warning("campaign %s paused: %s", campaign_id, problem)
            return None
        from_number = await session.run_sync(phone_numbers.caller_id_for, connection, agent.id)
        return CampaignParts(
            campaign_id=campaign.id,
            partner_id=partner.id,
            concurrency_limit=campaign.concurrency_limit,
            agent=agent,
            provider=provider,
            connection=connection,
            partner_call_limit=min(
                campaign_call_limit(partner.concurrency_limit, self.platform.settings.campaign_reserved_share),
                outbound_call_limit(partner.concurrency_limit, self.platform.settings.inbound_reserved_share),
            ),
            rate=rate,
            caller_ids=tuple(campaign.caller_ids or ()),
            from_number=from_number,
        )

    async def _complete_finished(self, now: datetime) -> None:
        open_contacts = exists().where(
            and_(
                CampaignContact.campaign_id == Campaign.id,
                CampaignContact.state.in_([ContactState.PENDING.value, ContactState.CALLING.value]),
            )
        )
        async with self.platform.sessions() as session:
            done = list(
                await session.scalars(
                    select(Campaign).where(Campaign.status == CampaignStatus.RUNNING.value, ~open_contacts)
                )
            )
            if not done:
                return
            counts = await contact_counts(session, [c.id for c in done])
            for campaign in done:
                moved = await session.execute(
                    update(Campaign)
                    .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.RUNNING.value)
                    .values(status=CampaignStatus.COMPLETED.value, completed_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if moved.rowcount == 1:  # type: ignore[attr-defined]
                    campaign.status, campaign.completed_at = CampaignStatus.COMPLETED.value, now
                    campaign_events.completed(session, campaign, counts=counts[campaign.id])
                    log.info("campaign %s completed: %s", campaign.id, counts[campaign.id])
            await session.commit()


async def _finish(session: AsyncSession, contact: CampaignContact, state: ContactState, reason: str, now: datetime) -> None:
    await session.execute(
        update(CampaignContact)
        .where(CampaignContact.id == contact.id, CampaignContact.state == ContactState.PENDING.value)
        .values(state=state.value, result_reason=reason, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
