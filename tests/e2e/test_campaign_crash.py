"""``kill -9`` of a real ``callwright serve`` process in the middle of a campaign, then a restart
on the same store: no attempt is lost and none is made twice.

At the kill some calls are live (media up), some are admitted and queued for the dialer, most
contacts still wait. After the restart the campaign runs to completion and, for every contact:
its attempts are numbered 1, 2, … without a gap or a repeat; the carrier placed at most one call
per attempt, and only attempts whose dial was in flight at the kill (``dialing`` in the store:
several can be, as dials are paced but not serialised) went without their call; every contact
ends reached, but for at most one per such dial. Runs on a SQLite file and, when reachable,
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from callwright.domain.dialing import DialState
from callwright.sim import CarrierSimulator, Scenario
from callwright.store.db import create_engine, session_factory
from callwright.store.models import Call
from tests.e2e.helpers import ADMIN, FAKE_ENGINE_FIELDS, make_tenant
from tests.e2e.server_process import ServerProcess, serve_env, server_client

pytestmark = pytest.mark.e2e

CONTACTS = 30
FAKE = FAKE_ENGINE_FIELDS | {"intro_message": "Hi."}


@pytest.fixture
def sim() -> Iterator[CarrierSimulator]:
    simulator = CarrierSimulator(callback_timeout_secs=15.0)  # a dead port refuses at once; a busy server is slow
    with simulator.running():
        yield simulator


@pytest.fixture
async def server(database_url: str, sim: CarrierSimulator, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    env = serve_env(
        database_url,
        sim,
        tmp_path,
        FAKE_ENGINES="1",
        CARRIER_TIMEOUT_SECS="15",  # generous: the simulator shares a loaded box
        RECONCILE_INTERVAL_SECS="0.5",
        RECONCILE_AFTER_SECS="3",
    )
    async with ServerProcess.serving(env, tmp_path / "serve.log") as process:
        yield process


async def _campaign(api: httpx.AsyncClient, tenant, phones: list[str]) -> str:
    created = await api.post(
        "/api/v2/campaigns",
        json={"name": "Crash", "agent_id": tenant.agent_id, "provider": "vobiz", "concurrency_limit": 5},
        headers=tenant.headers,
    )
    cid = created.json()["data"]["campaign_id"]
    contacts = [{"phone": phone} for phone in phones]
    await api.post(f"/api/v2/campaigns/{cid}/contacts", json={"contacts": contacts}, headers=tenant.headers)
    return cid


async def _dials_in_flight(database_url: str) -> int:
    """Calls whose dial request had left (or was about to) and had no answer yet: read from the
    store while the server is down."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return int(await session.scalar(select(func.count()).where(Call.dial_state == DialState.DIALING)) or 0)
    finally:
        await engine.dispose()


async def _status(api, tenant, cid) -> dict:
    return (await api.get(f"/api/v2/campaigns/{cid}", headers=tenant.headers)).json()["data"]


async def _unfinished(api, tenant, cid, data) -> str:
    """What an unfinished campaign still waits on: its counters, the contacts not final and their calls."""
    lines = [str({k: v for k, v in data.items() if k == "status" or k.endswith("_count")})]
    contacts = (await api.get(f"/api/v2/campaigns/{cid}/contacts?limit=500", headers=tenant.headers)).json()["data"]
    for contact in contacts:
        if contact["state"] in ("completed", "failed", "skipped"):
            continue
        lines.append(str(contact))
        for attempt in contact["attempt_history"]:
            if attempt.get("call_id"):
                lines.append((await api.get(f"/api/v2/calls/{attempt['call_id']}", headers=tenant.headers)).text)
    return "\n".join(lines)


async def test_kill_9_mid_campaign_loses_and_repeats_no_attempt(
    server: ServerProcess, sim: CarrierSimulator, database_url: str
):
    phones = [f"+1312555{i:04d}" for i in range(CONTACTS)]
    for phone in phones:
        sim.set_scenario(phone, Scenario.caller_hangs_up_after(1.5, ring_secs=0.1))
    async with server_client(server.base_url) as api:
        tenant = await make_tenant(api, sim, ["vobiz"], **FAKE)
        paced = await api.patch(f"/admin/v1/partners/{tenant.name}/connections/vobiz", json={"cps": 20}, headers=ADMIN)
        assert paced.status_code == 200, paced.text
        cid = await _campaign(api, tenant, phones)
        await api.post(f"/api/v2/campaigns/{cid}/start", headers=tenant.headers)
        deadline = time.monotonic() + 60
        while True:  # some reached, some being called
            data = await _status(api, tenant, cid)
            if data["completed_count"] >= 6 and data["calling_count"] >= 3:
                break
            assert time.monotonic() < deadline, data
            await asyncio.sleep(0.1)
    server.kill_9()
    in_flight = await _dials_in_flight(database_url)
    await asyncio.sleep(2.0)  # the live calls' callbacks find nobody
    await server.start()

    async with server_client(server.base_url) as api:
        deadline = time.monotonic() + 120
        while (data := await _status(api, tenant, cid))["status"] != "completed":
            if time.monotonic() > deadline:
                raise AssertionError(await _unfinished(api, tenant, cid, data))
            await asyncio.sleep(0.5)
        contacts = (await api.get(f"/api/v2/campaigns/{cid}/contacts?limit=500", headers=tenant.headers)).json()["data"]

    assert data["total_contacts"] == CONTACTS
    without_call = 0
    for contact in contacts:
        phone, history = contact["phone"], contact["attempt_history"]
        assert [a["number"] for a in history] == list(range(1, len(history) + 1)), history
        placed = sim.calls(to=phone)
        assert len(placed) <= len(history), (phone, history)
        without_call += len(history) - len(placed)
        assert contact["state"] in ("completed", "failed"), contact
        assert len(history) <= 3
    assert without_call <= in_flight  # only dials in flight at the kill may never have reached the carrier
    reached = sum(1 for c in contacts if c["state"] == "completed")
    assert reached >= CONTACTS - in_flight, (in_flight, [c for c in contacts if c["state"] != "completed"])
    media_paths = re.findall(r"/media/vobiz/[^/\s\"]+/[^\s?\"]+", server.log_path.read_text())
    assert media_paths and all(path.endswith("/****") for path in media_paths)  # access log: no token
    attempts = sum(len(c["attempt_history"]) for c in contacts)
    print(f"\n{CONTACTS} contacts through a kill -9 ({in_flight} dials in flight): {reached} reached, {attempts} attempts")
