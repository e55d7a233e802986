"""The circuit breaker and caller-ID rotation against the real store (both databases), with the
scheduler run pass by pass and calls ended through the call state machine as carrier callbacks
would end them. The simulator plays them end to end in tests/e2e/test_campaign_guards.py."""

from __future__ import annotations

import itertools
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callwright.domain.calls import CallStatus
from callwright.domain.clock import ManualClock
from callwright.services.campaign_scheduler import CampaignScheduler
from callwright.store.models import Call, WebhookEvent
from tests.api.campaign_support import (
    act,
    add_contacts,
    contacts_by_phone,
    create_campaign,
    end_active_calls,
    next_weekday_at,
    ready_partner,
    us_numbers,
)
from tests.conftest import error_of

NY = ZoneInfo("America/New_York")
FAILING = {"failure_rate": 0.5, "window": 4}


@pytest.fixture
async def agent(client, platform, partner) -> str:
    return await ready_partner(client, platform, partner)


async def _running(client, partner, agent, phones, **fields) -> str:
    cid = (await create_campaign(client, partner, agent, **fields))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": p} for p in phones])
    assert (await act(client, partner, cid, "start")).status_code == 200
    return cid


async def _campaign(client, partner, cid):
    return (await client.get(f"/api/v2/campaigns/{cid}", headers=partner.headers)).json()["data"]


async def _paused_events(platform) -> list[dict]:
    async with platform.sessions() as session:
        return list(await session.scalars(select(WebhookEvent.data).where(WebhookEvent.type == "campaign.paused")))


async def test_failures_at_the_carrier_pause_the_campaign_once_saying_why(client, platform, partner, agent):
    phones = us_numbers("212", 12)
    retry = {"max_attempts": 1}
    cid = await _running(client, partner, agent, phones, concurrency_limit=2, retry=retry, circuit_breaker=FAILING)
    clock = ManualClock(next_weekday_at(NY, 12))
    scheduler = CampaignScheduler(platform, clock=clock)
    # Two answered, then every call fails at the carrier.
    assert await scheduler.run_once() == 2
    await end_active_calls(platform, cid, lambda _: CallStatus.COMPLETED, clock.now())
    assert await scheduler.run_once() == 2
    await end_active_calls(platform, cid, lambda _: CallStatus.FAILED, clock.now())
    # 2 of the last 4 failed: 50 % reached, the pass pauses instead of dialling.
    assert await scheduler.run_once() == 0
    data = await _campaign(client, partner, cid)
    assert data["status"] == "paused"
    assert data["pause_reason"].startswith("circuit breaker: 2 of the last 4 dials failed at the carrier")
    assert await scheduler.run_once() == 0  # a second pass changes nothing
    events = await _paused_events(platform)
    assert [e["reason"] for e in events] == [data["pause_reason"]]

    # Resume clears the reason and starts a fresh window: the old failures are not counted again.
    resumed = (await act(client, partner, cid, "resume")).json()["data"]
    assert (resumed["status"], resumed["pause_reason"]) == ("running", None)
    assert await scheduler.run_once() == 2
    await end_active_calls(platform, cid, lambda _: CallStatus.FAILED, clock.now())
    assert await scheduler.run_once() == 2  # two dials since the resume: the window is not full
    await end_active_calls(platform, cid, lambda _: CallStatus.BUSY, clock.now())
    assert await scheduler.run_once() == 0
    assert (await _campaign(client, partner, cid))["status"] == "paused"
    assert len(await _paused_events(platform)) == 2


async def test_busy_and_no_answer_never_trip_it(client, platform, partner, agent):
    phones = us_numbers("415", 8)
    cid = await _running(
        client, partner, agent, phones, concurrency_limit=4, retry={"max_attempts": 1}, circuit_breaker=FAILING
    )
    clock = ManualClock(next_weekday_at(NY, 12))
    scheduler = CampaignScheduler(platform, clock=clock)
    for status in (CallStatus.BUSY, CallStatus.NO_ANSWER):
        assert await scheduler.run_once() == 4
        await end_active_calls(platform, cid, lambda _, s=status: s, clock.now())
    await scheduler.run_once()
    assert (await _campaign(client, partner, cid))["status"] == "completed"


async def test_a_campaign_without_a_breaker_goes_on(client, platform, partner, agent):
    phones = us_numbers("646", 6)
    cid = await _running(
        client, partner, agent, phones, concurrency_limit=3, retry={"max_attempts": 1}, circuit_breaker=None
    )
    assert (await _campaign(client, partner, cid))["circuit_breaker"] is None
    clock = ManualClock(next_weekday_at(NY, 12))
    scheduler = CampaignScheduler(platform, clock=clock)
    for _ in range(2):
        assert await scheduler.run_once() == 3
        await end_active_calls(platform, cid, lambda _: CallStatus.FAILED, clock.now())
    await scheduler.run_once()
    data = await _campaign(client, partner, cid)
    assert (data["status"], data["failed_count"]) == ("completed", 6)


async def test_the_breaker_setting_is_validated_and_defaults(client, partner, agent):
    created = await create_campaign(client, partner, agent)
    assert created["circuit_breaker"] == {"failure_rate": 0.5, "window": 20}
    assert created["caller_ids"] == []
    for bad, field in (({"failure_rate": 0}, "failure_rate"), ({"window": 1}, "window"), ({"x": 1}, "x")):
        body = {"name": "B", "agent_id": agent, "provider": "vobiz", "circuit_breaker": bad}
        response = await client.post("/api/v2/campaigns", json=body, headers=partner.headers)
        assert response.status_code == 400, response.text
        assert field in error_of(response)["message"]
    cid = created["campaign_id"]
    patched = await client.patch(
        f"/api/v2/campaigns/{cid}", json={"circuit_breaker": {"window": 50}}, headers=partner.headers
    )
    assert patched.json()["data"]["circuit_breaker"] == {"failure_rate": 0.5, "window": 50}
    patched = await client.patch(f"/api/v2/campaigns/{cid}", json={"circuit_breaker": None}, headers=partner.headers)
    assert patched.json()["data"]["circuit_breaker"] is None


async def test_caller_ids_rotate_over_consecutive_dials(client, platform, partner, agent):
    ids = ["+14155550100", "+14155550101", "+14155550102"]
    phones = us_numbers("212", 6)
    cid = await _running(client, partner, agent, phones, concurrency_limit=6, caller_ids=ids)
    scheduler = CampaignScheduler(platform, clock=ManualClock(next_weekday_at(NY, 12)))
    assert await scheduler.run_once() == 6
    async with platform.sessions() as session:
        calls = {c.to_number: c.from_number for c in await session.scalars(select(Call).where(Call.campaign_id == cid))}
    used = [calls[p] for p in phones]
    assert all(a != b for a, b in itertools.pairwise(used))
    assert sorted(used) == sorted(ids * 2)


async def test_caller_ids_must_be_e164_and_distinct(client, partner, agent):
    for bad in (["12345"], ["+14155550100", "+14155550100"]):
        body = {"name": "C", "agent_id": agent, "provider": "vobiz", "caller_ids": bad}
        response = await client.post("/api/v2/campaigns", json=body, headers=partner.headers)
        assert response.status_code == 400, response.text
        assert "caller_ids" in error_of(response)["message"]


async def test_a_call_that_ends_wakes_the_scheduler_before_its_media_has_ended(client, platform, partner, agent):
    """The slot is free once the call is over at the carrier; its outcome waits for the media to
    end (session.completed). The scheduler is woken at the first, not only at the second."""
    phones = us_numbers("212", 2)
    cid = await _running(client, partner, agent, phones)
    clock = ManualClock(next_weekday_at(NY, 12))
    scheduler = CampaignScheduler(platform, clock=clock)
    assert await scheduler.run_once() == 1
    async with platform.sessions() as session:
        call = await session.scalar(select(Call).where(Call.campaign_id == cid))
        call.media_started_at = clock.now()  # its media is up, and stays up
        await session.commit()
    platform.campaign_wakeup.clear()
    await end_active_calls(platform, cid, lambda _: CallStatus.COMPLETED, clock.now())
    assert platform.campaign_wakeup.is_set()
    assert (await contacts_by_phone(platform, cid))[phones[0]].state == "calling"  # outcome not yet in
    assert await scheduler.run_once() == 1  # the freed slot is used at once
