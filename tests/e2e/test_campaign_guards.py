"""Campaign guards end to end: the real platform and the carrier simulator.

Numbers the simulator plays as failed calls, and dials it refuses, trip the campaign's circuit breaker (it pauses,
saying why, and ``campaign.paused`` reaches the partner's receiver with that reason); a
campaign's calls leave with its caller IDs in turn, as the carrier received them. Both databases.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from callwright.sim import Scenario
from tests.e2e.test_campaigns import ANSWER, FAILED, _campaign, _contacts, _tenant, _wait, block_of_numbers
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform_settings() -> dict[str, object]:
    return {"fake_engines": True}


@pytest.fixture
async def receiver():
    receiver = await WebhookReceiver().start()
    yield receiver
    await receiver.stop()


async def test_failing_calls_trip_the_breaker_and_the_partner_hears_why(api, carrier_sim, receiver):
    tenant = await _tenant(api, carrier_sim)
    hook = await api.post(
        "/api/v2/config/webhooks",
        json={"label": "campaigns", "url": receiver.url("/c"), "events": ["campaign.paused"]},
        headers=tenant.headers,
    )
    assert hook.status_code == 201, hook.text
    receiver.secrets.append(hook.json()["data"]["secret"])
    phones = block_of_numbers(12)
    for phone in phones[:2]:
        carrier_sim.set_scenario(phone, ANSWER)
    for phone in phones[2:]:
        carrier_sim.set_scenario(phone, FAILED)
    breaker = {"failure_rate": 0.5, "window": 4}
    cid = await _campaign(
        api, tenant, phones, concurrency_limit=1, retry={"max_attempts": 1}, circuit_breaker=breaker
    )
    assert (await api.post(f"/api/v2/campaigns/{cid}/start", headers=tenant.headers)).status_code == 200
    paused = await _wait(api, tenant, cid, lambda d: d["status"] == "paused" and d["calling_count"] == 0, timeout=60)
    assert paused["pause_reason"].startswith("circuit breaker: ")
    dialled = sum(carrier_sim.dials(p) for p in phones)
    # Two answered, then failures until half of the last four had failed (one more may have been
    # admitted while the fourth was settling): most of the list was never dialled.
    assert 4 <= dialled <= 5 and paused["pending_count"] == 12 - dialled
    (event,) = await receiver.wait_for(1, path="/c", event="campaign.paused", timeout=30)
    assert event.json["data"]["reason"] == paused["pause_reason"]
    assert event.json["data"]["campaign_id"] == cid and event.signed_with is not None

    resumed = (await api.post(f"/api/v2/campaigns/{cid}/resume", headers=tenant.headers)).json()["data"]
    assert (resumed["status"], resumed["pause_reason"]) == ("running", None)
    again = await _wait(api, tenant, cid, lambda d: d["status"] == "paused" and d["calling_count"] == 0, timeout=60)
    assert again["pause_reason"].startswith("circuit breaker: ")
    assert 4 <= sum(carrier_sim.dials(p) for p in phones) - dialled <= 5  # a fresh window of four


async def test_calls_leave_with_the_campaigns_caller_ids_in_turn(api, carrier_sim):
    tenant = await _tenant(api, carrier_sim)
    caller_ids = ["+14155550100", "+14155550101", "+14155550102"]
    phones = block_of_numbers(6)
    for phone in phones:
        carrier_sim.set_scenario(phone, Scenario.caller_hangs_up_after(0.1, ring_secs=0.05))
    cid = await _campaign(api, tenant, phones, concurrency_limit=1, caller_ids=caller_ids)
    await api.post(f"/api/v2/campaigns/{cid}/start", headers=tenant.headers)
    await _wait(api, tenant, cid, lambda d: d["status"] == "completed", timeout=120)
    contacts = await _contacts(api, tenant, cid)
    received: list[str] = []
    for phone in phones:
        (attempt,) = contacts[phone]["attempt_history"]
        call: dict[str, Any] = (await api.get(f"/api/v2/calls/{attempt['call_id']}", headers=tenant.headers)).json()["data"]
        received.append(carrier_sim.call(call["provider_call_id"]).from_)  # what the carrier was sent
    assert all(a != b for a, b in itertools.pairwise(received))
    assert sorted(received) == sorted(caller_ids * 2)


async def test_dials_the_carrier_refuses_trip_the_breaker(api, carrier_sim):
    tenant = await _tenant(api, carrier_sim)
    phones = block_of_numbers(10)
    cid = await _campaign(
        api, tenant, phones, concurrency_limit=1, retry={"max_attempts": 1},
        circuit_breaker={"failure_rate": 1.0, "window": 3},
    )
    # The carrier answers every request with 400 (Twilio refuses a From not on the account so).
    carrier_sim.inject_fault("twilio", status=400, count=None)
    try:
        await api.post(f"/api/v2/campaigns/{cid}/start", headers=tenant.headers)
        paused = await _wait(api, tenant, cid, lambda d: d["status"] == "paused" and d["calling_count"] == 0, timeout=60)
    finally:
        carrier_sim.clear_faults()
    assert paused["pause_reason"].startswith("circuit breaker: 3 of the last 3 dials failed at the carrier")
    contacts = await _contacts(api, tenant, cid)
    outcomes = [a["outcome"] for c in contacts.values() for a in c["attempt_history"] if a["outcome"] != "not_dialed"]
    assert set(outcomes) == {"carrier_refused"} and 3 <= len(outcomes) <= 4
    assert sum(carrier_sim.dials(p) for p in phones) == 0  # none was placed
