"""Campaigns end to end: the real platform (scheduler, admission, dialer, media) and the carrier
simulator playing each number's outcomes, attempt after attempt, with fake speech engines and
calls a fraction of a second long.

A campaign of 150 contacts in six outcome groups runs to completion: every contact's attempts
are exactly its group's outcomes up to its budget, each retry waits at least its rule's spacing,
the simulator placed exactly one call per attempt, and the campaign never had more calls up than
its limit. Pause, resume and cancel act on a running campaign. Both databases.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from callwright.sim import CarrierSimulator, Scenario
from tests.e2e.helpers import ADMIN, FAKE_ENGINE_FIELDS, Tenant, make_tenant

pytestmark = pytest.mark.e2e

FAKE = FAKE_ENGINE_FIELDS | {"intro_message": "Hi."}
_blocks = itertools.count(200)

ANSWER = Scenario.caller_hangs_up_after(0.3, ring_secs=0.05)
BUSY = Scenario.busy(ring_secs=0.05)
NO_ANSWER = Scenario.no_answer(after_secs=0.1)
FAILED = Scenario.failed("Network out of order")
# Each group: what the number does on successive dials, and the attempt outcomes the campaign
# must record (a budget of three; failed is not retried).
GROUPS: list[tuple[list[Scenario], list[str], str]] = [
    ([ANSWER], ["answered"], "completed"),
    ([BUSY, ANSWER], ["busy", "answered"], "completed"),
    ([NO_ANSWER, BUSY, ANSWER], ["no_answer", "busy", "answered"], "completed"),
    ([BUSY, BUSY, BUSY, ANSWER], ["busy", "busy", "busy"], "failed"),
    ([NO_ANSWER, NO_ANSWER, NO_ANSWER, ANSWER], ["no_answer", "no_answer", "no_answer"], "failed"),
    ([FAILED, ANSWER], ["failed"], "failed"),
]
RETRY = {
    "max_attempts": 3,
    "busy": {"spacing_secs": [1, 2]},
    "no_answer": {"spacing_secs": 1},
    "failed": {"redial": False},
}
SPACING = {"busy": [1, 2], "no_answer": [1]}


@pytest.fixture(scope="module")
def platform_settings() -> dict[str, object]:
    return {"fake_engines": True}


def block_of_numbers(count: int) -> list[str]:
    """US numbers no other test dials (no calling-hours rule applies to them by default)."""
    block = next(_blocks)
    return [f"+1212{block:03d}{i:04d}" for i in range(count)]


async def _tenant(api: httpx.AsyncClient, sim: CarrierSimulator) -> Tenant:
    tenant = await make_tenant(api, sim, ["twilio"], **FAKE)
    response = await api.patch(f"/admin/v1/partners/{tenant.name}/connections/twilio", json={"cps": 50}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return tenant


async def _campaign(api, tenant: Tenant, phones: list[str], **fields: Any) -> str:
    body = {"name": "E2E", "agent_id": tenant.agent_id, "provider": "twilio"} | fields
    created = await api.post("/api/v2/campaigns", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    cid = created.json()["data"]["campaign_id"]
    contacts = [{"phone": p, "metadata": {"row": i}} for i, p in enumerate(phones)]
    added = await api.post(f"/api/v2/campaigns/{cid}/contacts", json={"contacts": contacts}, headers=tenant.headers)
    assert added.json()["data"]["added"] == len(phones), added.text
    return cid


_PROGRESS = ("status", "pending_count", "calling_count", "completed_count", "failed_count", "skipped_count")


async def _wait(api, tenant: Tenant, cid: str, done: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
    """The campaign once ``done``; a hang is ``timeout`` seconds with no change in its counts (a
    busy machine may take longer in all, but a campaign that moves is not stuck)."""
    progress: tuple[Any, ...] = ()
    deadline = time.monotonic() + timeout
    while True:
        data = (await api.get(f"/api/v2/campaigns/{cid}", headers=tenant.headers)).json()["data"]
        if done(data):
            return data
        if (now := tuple(data.get(key) for key in _PROGRESS)) != progress:
            progress, deadline = now, time.monotonic() + timeout
        if time.monotonic() > deadline:
            raise AssertionError(f"campaign {cid} made no progress for {timeout} s: {data}")
        await asyncio.sleep(0.25)


async def _contacts(api, tenant: Tenant, cid: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = (
            await api.get(f"/api/v2/campaigns/{cid}/contacts?limit=500&offset={offset}", headers=tenant.headers)
        ).json()
        found.update({c["phone"]: c for c in page["data"]})
        offset += len(page["data"])
        if offset >= page["pagination"]["total"]:
            return found


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_campaign_of_150_contacts_with_mixed_outcomes(api, carrier_sim):
    tenant = await _tenant(api, carrier_sim)
    phones = block_of_numbers(150)
    group_of = {phone: GROUPS[i % len(GROUPS)] for i, phone in enumerate(phones)}
    for phone, (sequence, _, _) in group_of.items():
        carrier_sim.set_sequence(phone, sequence)
    suppressed = phones[-1]
    response = await api.post("/api/v2/suppressions", json={"phone": suppressed, "reason": "asked"}, headers=tenant.headers)
    assert response.status_code == 201
    cid = await _campaign(api, tenant, phones, concurrency_limit=10, retry=RETRY)

    began = time.monotonic()
    assert (await api.post(f"/api/v2/campaigns/{cid}/start", headers=tenant.headers)).status_code == 200
    final = await _wait(api, tenant, cid, lambda d: d["status"] == "completed", timeout=60)
    elapsed = time.monotonic() - began

    contacts = await _contacts(api, tenant, cid)
    expected_completed = sum(1 for p in phones if p != suppressed and group_of[p][2] == "completed")
    assert (final["total_contacts"], final["completed_count"], final["skipped_count"]) == (150, expected_completed, 1)
    assert final["failed_count"] == 149 - expected_completed
    assert (contacts[suppressed]["state"], contacts[suppressed]["result_reason"]) == ("skipped", "number_suppressed")
    assert contacts[suppressed]["attempt_history"] == [] and carrier_sim.dials(suppressed) == 0

    intervals = []
    for phone in phones:
        if phone == suppressed:
            continue
        contact = contacts[phone]
        _, outcomes, state = group_of[phone]
        history = contact["attempt_history"]
        assert [a["outcome"] for a in history] == outcomes, (phone, history)
        assert contact["state"] == state and contact["attempts"] == len(outcomes) <= RETRY["max_attempts"]
        assert [a["number"] for a in history] == list(range(1, len(outcomes) + 1))
        # One call placed per attempt: none lost, none repeated.
        assert carrier_sim.dials(phone) == len(history), phone
        for retry, (before, after) in enumerate(itertools.pairwise(history), start=1):
            rule = SPACING[before["outcome"]]
            wait = (_at(after["started_at"]) - _at(before["ended_at"])).total_seconds()
            assert wait >= rule[min(retry, len(rule)) - 1] - 0.001, (phone, history)
        intervals += [(_at(a["started_at"]), _at(a["ended_at"])) for a in history]
    # Never more than the campaign's limit up at once (admission to end).
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    assert max(itertools.accumulate(step for _, step in points)) <= 10
    dials = sum(len(c["attempt_history"]) for c in contacts.values())
    print(f"\n150 contacts, {dials} dials, {final['completed_count']} reached: {elapsed:.1f} s")


async def test_pause_resume_and_cancel(api, carrier_sim):
    tenant = await _tenant(api, carrier_sim)
    phones = block_of_numbers(12)
    slow = Scenario.caller_hangs_up_after(1.0, ring_secs=0.05)
    for phone in phones:
        carrier_sim.set_scenario(phone, slow)
    cid = await _campaign(api, tenant, phones, concurrency_limit=2)
    await api.post(f"/api/v2/campaigns/{cid}/start", headers=tenant.headers)
    await _wait(api, tenant, cid, lambda d: d["completed_count"] >= 2, timeout=60)

    paused = (await api.post(f"/api/v2/campaigns/{cid}/pause", headers=tenant.headers)).json()["data"]
    assert paused["status"] == "paused"
    dialled_at_pause = sum(carrier_sim.dials(p) for p in phones)
    await asyncio.sleep(2.5)  # calls under way finish; nothing new is dialled
    assert sum(carrier_sim.dials(p) for p in phones) == dialled_at_pause
    data = (await api.get(f"/api/v2/campaigns/{cid}", headers=tenant.headers)).json()["data"]
    assert data["calling_count"] == 0 and data["pending_count"] == 12 - data["completed_count"]

    await api.post(f"/api/v2/campaigns/{cid}/resume", headers=tenant.headers)
    await _wait(api, tenant, cid, lambda d: d["completed_count"] >= data["completed_count"] + 2, timeout=60)
    canceled = (await api.post(f"/api/v2/campaigns/{cid}/cancel", headers=tenant.headers)).json()["data"]
    assert canceled["status"] == "canceled"
    final = await _wait(api, tenant, cid, lambda d: d["calling_count"] == 0, timeout=30)
    assert final["completed_count"] + final["skipped_count"] == 12
    assert final["skipped_count"] >= 1
    contacts = await _contacts(api, tenant, cid)
    for phone in phones:
        contact = contacts[phone]
        assert carrier_sim.dials(phone) == sum(1 for a in contact["attempt_history"] if a["outcome"] != "not_dialed")
        if contact["state"] == "skipped":
            assert contact["result_reason"] == "campaign_canceled"
