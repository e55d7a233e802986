"""The campaign scheduler against the real store, with an injectable clock and no carrier: calls
are ended by hand through the call state machine, as carrier callbacks would end them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from callwright.domain.calls import CallStatus
from callwright.domain.clock import ManualClock
from callwright.services import call_admission, credits
from callwright.services.campaign_scheduler import CampaignScheduler
from callwright.store.models import Call, CampaignAttempt, WebhookEvent, utcnow
from tests.api.campaign_support import (
    act,
    add_contacts,
    attempts_by_phone,
    contacts_by_phone,
    create_campaign,
    end_active_calls,
    next_weekday_at,
    ready_partner,
    us_numbers,
)
from tests.conftest import make_partner

NY, LA = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")


@pytest.fixture
async def agent(client, platform, partner) -> str:
    return await ready_partner(client, platform, partner)


async def _running(client, partner, agent, phones, **fields) -> str:
    cid = (await create_campaign(client, partner, agent, **fields))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": p} for p in phones])
    assert (await act(client, partner, cid, "start")).status_code == 200
    return cid


async def test_dials_within_the_campaigns_concurrency_and_records_each_attempt(client, platform, partner, agent):
    phones = us_numbers("212", 5)
    cid = await _running(client, partner, agent, phones, concurrency_limit=2)
    clock = ManualClock(next_weekday_at(NY, 12))
    scheduler = CampaignScheduler(platform, clock=clock)
    assert await scheduler.run_once() == 2
    assert await scheduler.run_once() == 0  # both slots held
    attempts = await attempts_by_phone(platform, cid)
    assert sorted(attempts) == phones[:2]  # in the order given
    async with platform.sessions() as session:
        calls = list(await session.scalars(select(Call).where(Call.campaign_id == cid)))
    assert {c.to_number for c in calls} == set(phones[:2])
    assert all((c.dial_state, c.status, c.from_number) == ("queued", "pending", "+918011223344") for c in calls)
    contacts = await contacts_by_phone(platform, cid)
    for phone in phones[:2]:
        assert (contacts[phone].state, contacts[phone].attempt_seq, contacts[phone].attempts) == ("calling", 1, 0)
        assert contacts[phone].current_call_id == attempts[phone][0].call_id

    await end_active_calls(platform, cid, lambda _: CallStatus.COMPLETED, clock.now())
    contacts = await contacts_by_phone(platform, cid)
    assert [contacts[p].state for p in phones[:2]] == ["completed", "completed"]
    assert contacts[phones[0]].last_outcome == "answered" and contacts[phones[0]].attempts == 1
    assert await scheduler.run_once() == 2
    await end_active_calls(platform, cid, lambda _: CallStatus.COMPLETED, clock.now())
    assert await scheduler.run_once() == 1
    await end_active_calls(platform, cid, lambda _: CallStatus.COMPLETED, clock.now())
    assert await scheduler.run_once() == 0
    data = (await client.get(f"/api/v2/campaigns/{cid}", headers=partner.headers)).json()["data"]
    assert (data["status"], data["completed_count"], data["total_contacts"]) == ("completed", 5, 5)
    async with platform.sessions() as session:
        types = list(await session.scalars(select(WebhookEvent.type).where(WebhookEvent.call_id.is_(None))))
    assert types.count("campaign.started") == 1 and types.count("campaign.completed") == 1


async def test_retries_follow_the_rules_and_the_budget(client, platform, partner, agent):
    phones = us_numbers("212", 3)
    retry = {"max_attempts": 3, "busy": {"spacing_secs": [60, 600]}, "no_answer": {"spacing_secs": 120}}
    cid = await _running(client, partner, agent, phones, concurrency_limit=5, retry=retry)
    start = next_weekday_at(NY, 12)
    clock = ManualClock(start)
    scheduler = CampaignScheduler(platform, clock=clock)
    script = {phones[0]: [CallStatus.BUSY, CallStatus.BUSY, CallStatus.BUSY], phones[1]: [CallStatus.NO_ANSWER, CallStatus.COMPLETED]}
    script[phones[2]] = [CallStatus.FAILED]  # failed: default rule redials after 900 s

    def outcome(phone):
        return script[phone].pop(0) if len(script[phone]) > 1 else script[phone][0]

    assert await scheduler.run_once() == 3
    await end_active_calls(platform, cid, outcome, clock.now())
    contacts = await contacts_by_phone(platform, cid)
    assert contacts[phones[0]].next_attempt_at == start + timedelta(seconds=60)
    assert contacts[phones[1]].next_attempt_at == start + timedelta(seconds=120)
    assert contacts[phones[2]].next_attempt_at == start + timedelta(seconds=900)
    assert await scheduler.run_once() == 0  # nothing is due yet
    clock.advance(timedelta(seconds=59))
    assert await scheduler.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert await scheduler.run_once() == 1  # the busy one, exactly at its time
    await end_active_calls(platform, cid, outcome, clock.now())
    assert (await contacts_by_phone(platform, cid))[phones[0]].next_attempt_at == clock.now() + timedelta(seconds=600)
    clock.advance(timedelta(seconds=60))
    assert await scheduler.run_once() == 1  # the no-answer one
    await end_active_calls(platform, cid, outcome, clock.now())
    clock.advance(timedelta(seconds=540))
    assert await scheduler.run_once() == 1  # the busy one, third and last
    await end_active_calls(platform, cid, outcome, clock.now())
    clock.advance(timedelta(seconds=300))
    assert await scheduler.run_once() == 1  # the failed one
    await end_active_calls(platform, cid, lambda _: CallStatus.FAILED, clock.now())
    contacts = await contacts_by_phone(platform, cid)
    assert (contacts[phones[0]].state, contacts[phones[0]].attempts, contacts[phones[0]].result_reason) == (
        "failed", 3, "attempts_exhausted (busy)"
    )
    assert (contacts[phones[1]].state, contacts[phones[1]].attempts) == ("completed", 2)
    assert (contacts[phones[2]].state, contacts[phones[2]].attempts) == ("pending", 2)
    attempts = await attempts_by_phone(platform, cid)
    assert [a.outcome for a in attempts[phones[0]]] == ["busy", "busy", "busy"]
    assert [a.outcome for a in attempts[phones[1]]] == ["no_answer", "answered"]
    clock.advance(timedelta(days=1))
    for _ in range(3):
        await scheduler.run_once()
        await end_active_calls(platform, cid, lambda _: CallStatus.FAILED, clock.now())
    assert [a.number for a in (await attempts_by_phone(platform, cid))[phones[2]]] == [1, 2, 3]  # never a fourth


async def test_the_partners_share_for_single_calls_is_kept(client, platform):
    handle = await make_partner(platform, "shared", concurrency_limit=5)
    agent = await ready_partner(client, platform, handle)
    first = await _running(client, handle, agent, us_numbers("212", 5), concurrency_limit=3)
    second = await _running(client, handle, agent, us_numbers("415", 5), concurrency_limit=3)
    scheduler = CampaignScheduler(platform, clock=ManualClock(next_weekday_at(NY, 15)))
    assert platform.settings.campaign_reserved_share == 0.2
    assert await scheduler.run_once() == 4  # 5 less a fifth: 3 for the first, 1 for the second
    assert await scheduler.run_once() == 0
    async with platform.sessions() as session:
        per = dict((await session.execute(select(Call.campaign_id, func.count()).group_by(Call.campaign_id))).all())
    assert per == {first: 3, second: 1}
    response = await client.post(
        "/api/v2/calls/start", json={"agent_id": agent, "to_number": "+14155550999", "provider": "vobiz"}, headers=handle.headers
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        "/api/v2/calls/start", json={"agent_id": agent, "to_number": "+14155550998", "provider": "vobiz"}, headers=handle.headers
    )
    assert response.status_code == 429  # the partner's own limit, as ever


async def test_two_schedulers_at_once_never_make_an_attempt_twice(client, platform, partner, agent):
    phones = us_numbers("212", 8)  # the partner's limit is 10: 8 for its campaigns
    cid = await _running(client, partner, agent, phones, concurrency_limit=8)
    clock = ManualClock(next_weekday_at(NY, 12))
    a, b = CampaignScheduler(platform, clock=clock), CampaignScheduler(platform, clock=clock)
    admitted = await asyncio.gather(a.run_once(), b.run_once(), a.run_once(), b.run_once())
    assert sum(admitted) == 8
    attempts = await attempts_by_phone(platform, cid)
    assert sorted(attempts) == phones and all(len(v) == 1 for v in attempts.values())
    async with platform.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Call).where(Call.campaign_id == cid)) == 8


async def test_a_failed_admission_stores_neither_the_call_nor_the_attempt(client, platform, partner, agent, monkeypatch):
    phones = us_numbers("212", 1)
    cid = await _running(client, partner, agent, phones)
    original = call_admission.record_event

    def crash(*args, **kwargs):  # the transaction dies after the attempt row was written
        raise RuntimeError("store went away")

    monkeypatch.setattr(call_admission, "record_event", crash)
    scheduler = CampaignScheduler(platform, clock=ManualClock(next_weekday_at(NY, 12)))
    assert await scheduler.run_once() == 0
    async with platform.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CampaignAttempt)) == 0
        assert await session.scalar(select(func.count()).select_from(Call).where(Call.campaign_id == cid)) == 0
    contact = (await contacts_by_phone(platform, cid))[phones[0]]
    assert (contact.state, contact.attempt_seq) == ("pending", 0)
    monkeypatch.setattr(call_admission, "record_event", original)
    assert await scheduler.run_once() == 1
    assert [a.number for a in (await attempts_by_phone(platform, cid))[phones[0]]] == [1]


async def test_nothing_is_admitted_once_a_pause_is_committed(client, platform, partner, agent):
    cid = await _running(client, partner, agent, us_numbers("212", 3), concurrency_limit=3)
    await act(client, partner, cid, "pause")
    scheduler = CampaignScheduler(platform, clock=ManualClock(next_weekday_at(NY, 12)))
    assert await scheduler.run_once() == 0
    await act(client, partner, cid, "resume")
    assert await scheduler.run_once() == 3


async def test_a_campaign_whose_agent_is_deleted_pauses_saying_why(client, platform, partner, agent):
    cid = await _running(client, partner, agent, us_numbers("212", 2))
    assert (await client.delete(f"/api/v2/agent/{agent}", headers=partner.headers)).status_code == 200
    assert await CampaignScheduler(platform, clock=ManualClock(next_weekday_at(NY, 12))).run_once() == 0
    data = (await client.get(f"/api/v2/campaigns/{cid}", headers=partner.headers)).json()["data"]
    assert data["status"] == "paused"
    assert data["pause_reason"] == "its agent was deleted; set another agent_id and resume"
    async with platform.sessions() as session:
        paused = await session.scalar(select(WebhookEvent.data).where(WebhookEvent.type == "campaign.paused"))
    assert paused["reason"] == data["pause_reason"]


async def test_a_scheduled_campaign_starts_at_its_time(client, platform, partner, agent):
    begin = next_weekday_at(NY, 10)
    cid = await _running(client, partner, agent, us_numbers("212", 1), schedule={"start_at": begin.isoformat()})
    clock = ManualClock(begin - timedelta(minutes=1))
    scheduler = CampaignScheduler(platform, clock=clock)
    assert await scheduler.run_once() == 0
    assert (await client.get(f"/api/v2/campaigns/{cid}", headers=partner.headers)).json()["data"]["status"] == "scheduled"
    clock.advance(timedelta(minutes=1))
    assert await scheduler.run_once() == 1
    data = (await client.get(f"/api/v2/campaigns/{cid}", headers=partner.headers)).json()["data"]
    assert data["status"] == "running" and data["started_at"] is not None


async def test_a_simulated_day_in_two_time_zones(client, platform, partner, agent):
    """09:00–17:00 weekdays, recipients in New York and Los Angeles, the clock stepping through a
    Tuesday in half hours: each side is first dialled at its own 09:00, nobody outside the window;
    a retry that would fall after 17:00 waits for the next morning."""
    ny_phones, la_phones = us_numbers("212", 3), us_numbers("415", 3)
    schedule = {"calling_windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]}
    retry = {"max_attempts": 2, "busy": {"spacing_secs": 7200}}
    cid = await _running(client, partner, agent, ny_phones + la_phones, concurrency_limit=10, schedule=schedule, retry=retry)
    clock = ManualClock(next_weekday_at(NY, 6))  # 06:00 in New York, 03:00 in Los Angeles
    scheduler = CampaignScheduler(platform, clock=clock)
    dialled: dict[str, list[datetime]] = {}
    busy_late = ny_phones[0]
    outcomes = {busy_late: CallStatus.BUSY}
    while clock.now() < next_weekday_at(NY, 23):
        before = {p: len(v) for p, v in (await attempts_by_phone(platform, cid)).items()}
        await scheduler.run_once()
        for phone, attempts in (await attempts_by_phone(platform, cid)).items():
            if len(attempts) > before.get(phone, 0):
                dialled.setdefault(phone, []).append(clock.now())
        # Calls last until the next step; the late-busy number is busy on its first call only.
        ended = await end_active_calls(platform, cid, lambda p: outcomes.pop(p, None) or CallStatus.COMPLETED, clock.now())
        assert all(status for status in ended.values())
        clock.advance(timedelta(minutes=30))
    for phone in ny_phones:
        assert dialled[phone][0] == next_weekday_at(NY, 9)
    for phone in la_phones:
        assert dialled[phone][0] == next_weekday_at(LA, 9)
    for times in dialled.values():
        for moment in times:
            assert 9 <= moment.astimezone(NY).hour < 17 or 9 <= moment.astimezone(LA).hour < 17
    # The busy call at 09:00 New York is retried two hours later, inside the window.
    assert dialled[busy_late] == [next_weekday_at(NY, 9), next_weekday_at(NY, 11)]
    data = (await client.get(f"/api/v2/campaigns/{cid}", headers=partner.headers)).json()["data"]
    assert (data["status"], data["completed_count"]) == ("completed", 6)


async def test_a_retry_past_the_window_waits_for_the_next_opening(client, platform, partner, agent):
    phone = us_numbers("212", 1)
    schedule = {"calling_windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]}
    cid = await _running(client, partner, agent, phone, schedule=schedule, retry={"busy": {"spacing_secs": 3600}})
    clock = ManualClock(next_weekday_at(NY, 16) + timedelta(minutes=30))
    scheduler = CampaignScheduler(platform, clock=clock)
    assert await scheduler.run_once() == 1
    await end_active_calls(platform, cid, lambda _: CallStatus.BUSY, clock.now())
    clock.advance(timedelta(hours=1))  # 17:30: the retry is due, the window closed
    assert await scheduler.run_once() == 0
    contact = (await contacts_by_phone(platform, cid))[phone[0]]
    assert contact.next_attempt_at == next_weekday_at(NY, 9, weekday=2)
    clock.set(next_weekday_at(NY, 9, weekday=2))
    assert await scheduler.run_once() == 1


async def test_a_contact_past_the_campaigns_end_is_skipped(client, platform, partner, agent):
    end = next_weekday_at(NY, 12)
    phone = us_numbers("212", 1)
    cid = await _running(client, partner, agent, phone, schedule={"end_at": end.isoformat()})
    assert await CampaignScheduler(platform, clock=ManualClock(end)).run_once() == 0
    contact = (await contacts_by_phone(platform, cid))[phone[0]]
    assert (contact.state, contact.result_reason) == ("skipped", "outside_schedule")


async def test_a_call_whose_media_died_with_its_process_is_settled(client, platform, partner, agent):
    phone = us_numbers("212", 1)
    cid = await _running(client, partner, agent, phone)
    clock = ManualClock(next_weekday_at(NY, 12))
    scheduler = CampaignScheduler(platform, clock=clock)
    assert await scheduler.run_once() == 1
    async with platform.sessions() as session:  # answered, media up, then the carrier hung up
        call = await session.scalar(select(Call).where(Call.campaign_id == cid))
        call.media_started_at = clock.now()
        await session.commit()
    await end_active_calls(platform, cid, lambda _: CallStatus.COMPLETED, clock.now())
    contact = (await contacts_by_phone(platform, cid))[phone[0]]
    assert contact.state == "calling"  # its session has not completed: the media never said so
    assert await scheduler.recover_stragglers() == 0  # not yet: the media may still be up
    async with platform.sessions() as session:
        await session.execute(update(Call).where(Call.campaign_id == cid).values(updated_at=utcnow() - timedelta(hours=1)))
        await session.commit()
    assert await scheduler.recover_stragglers() == 1
    contact = (await contacts_by_phone(platform, cid))[phone[0]]
    assert (contact.state, contact.last_outcome) == ("completed", "answered")
    async with platform.sessions() as session:
        data = await session.scalar(select(WebhookEvent.data).where(WebhookEvent.type == "session.completed"))
    assert data["campaign_id"] == cid and data["contact"]["phone"] == phone[0]


async def test_the_running_scheduler_wakes_when_a_campaign_starts(client, platform, partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": p} for p in us_numbers("212", 1)])
    scheduler = CampaignScheduler(platform, clock=ManualClock(next_weekday_at(NY, 12)), poll_interval_secs=3600)
    scheduler.start()
    try:
        await asyncio.sleep(0.2)  # its first pass found nothing; now it waits an hour for a wake-up
        await act(client, partner, cid, "start")
        for _ in range(200):
            if await attempts_by_phone(platform, cid):
                break
            await asyncio.sleep(0.05)
        assert len(await attempts_by_phone(platform, cid)) == 1
    finally:
        await scheduler.stop()


async def test_a_campaign_without_credit_for_one_bucket_pauses_saying_so(client, platform, partner, agent):
    cid = await _running(client, partner, agent, us_numbers("212", 1))
    async with platform.sessions() as session:
        await credits.set_partner_rate(session=session, partner_name=partner.name, rate_paise=400)
    assert await CampaignScheduler(platform, clock=ManualClock(next_weekday_at(NY, 12))).run_once() == 0
    data = (await client.get(f"/api/v2/campaigns/{cid}", headers=partner.headers)).json()["data"]
    assert data["status"] == "paused" and data["pause_reason"].startswith("insufficient credits: the balance is ₹0")
