"""``kill -9`` of a real ``callwright serve`` process mid-call, then a restart on the same store.

At the moment of the kill one call is live with its media stream on the server, one dial request
is in flight (the carrier has placed the call; its answer to us never arrives), two more calls wait
in the dialer's queue, and the partner's webhook receiver is down. After the restart:

- every call was dialled exactly once (the simulator counts the calls placed to each number): the
  queued calls are dialled, the one in flight is never dialled again;
- the call that was live ends terminal with "media stream lost" — the carrier's hang-up callback
  found nobody, and the reconciler asked the carrier (``Carrier.fetch_call_state``);
- every webhook event written reaches the receiver once it is back, each under one stable event id
  (a delivery cut off by the kill may arrive twice, with the same id: at-least-once).

Runs against a SQLite file and, when reachable, PostgreSQL. The simulator runs in this process.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from callwright.domain.reconcile import MEDIA_LOST, NEVER_CONFIRMED
from callwright.domain.webhooks import EventType
from callwright.sim import CarrierSimulator, Scenario
from callwright.store.db import create_engine, session_factory
from callwright.store.models import Call, CallEventRow, WebhookEvent
from tests.e2e.helpers import (
    ADMIN,
    make_tenant,
    new_number,
    start_call,
    wait_for_status,
)
from tests.e2e.server_process import ServerProcess, serve_env, server_client
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

@pytest.fixture
def sim() -> Iterator[CarrierSimulator]:
    """A simulator of its own: the kill leaves callbacks failing against a closed port."""
    simulator = CarrierSimulator(callback_timeout_secs=15.0)  # a dead port refuses at once; a busy server is slow
    with simulator.running():
        yield simulator


@pytest.fixture
async def server(database_url: str, sim: CarrierSimulator, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    env = serve_env(
        database_url,
        sim,
        tmp_path,
        CARRIER_TIMEOUT_SECS="15",  # generous: a loaded box answers slowly (the faults hold 20 s)
        RECONCILE_INTERVAL_SECS="0.5",
        RECONCILE_AFTER_SECS="3",
        WEBHOOK_RETRY_BASE_SECS="0.5",
        WEBHOOK_RETRY_MAX_DELAY_SECS="2",
    )
    async with ServerProcess.serving(env, tmp_path / "serve.log") as process:
        yield process


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = await WebhookReceiver().start()
    yield receiver
    await receiver.stop()


async def _calls(url: str, ids: list[str]) -> dict[str, Call]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return {c.id: c for c in await session.scalars(select(Call).where(Call.id.in_(ids)))}
    finally:
        await engine.dispose()


async def _until(condition, timeout: float = 30.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"{what} not met in {timeout} s"
        await asyncio.sleep(0.1)


async def test_kill_9_mid_call_loses_and_repeats_no_dial_and_no_event(
    server: ServerProcess, sim: CarrierSimulator, receiver: WebhookReceiver, database_url: str
):
    async with server_client(server.base_url) as api:
        tenant = await make_tenant(api, sim, ["vobiz", "plivo"])
        hook = await api.post(
            "/api/v2/config/webhooks",
            json={"label": "crash", "url": receiver.url("/crash"), "events": [e.value for e in EventType]},
            headers=tenant.headers,
        )
        assert hook.status_code == 201, hook.text
        receiver.secrets.append(hook.json()["data"]["secret"])
        # Plivo dials leave 100 s apart: while one is in flight, the next calls stay queued (20 s
        # apart was too little on a loaded box: the next was claimed before the kill).
        paced = await api.patch(
            f"/admin/v1/partners/{tenant.name}/connections/plivo", json={"cps": 0.01}, headers=ADMIN
        )
        assert paced.status_code == 200, paced.text

        # 1. A call live on the server: answered, its media stream running, the agent speaking.
        live_number = new_number()
        sim.set_scenario(live_number, Scenario.answer())
        live = await start_call(api, tenant, "vobiz", live_number)
        await wait_for_status(api, tenant, live, {"in_progress"}, timeout=30)
        live_sim = sim.calls(to=live_number)[-1]
        async def agent_spoke() -> bool:
            return live_sim.first_agent_audio_at is not None

        await _until(agent_spoke, what="the agent's first audio")

        # 2. A dial in flight: Plivo places the call at once but holds its answer past the kill.
        sim.inject_fault("plivo", delay_secs=20, act_first=True)
        in_flight_number = new_number()
        sim.set_scenario(in_flight_number, Scenario.caller_hangs_up_after(2.0, ring_secs=6.0))
        in_flight = await start_call(api, tenant, "plivo", in_flight_number)
        # 3. Two calls queued behind it.
        queued_numbers = [new_number(), new_number()]
        for number in queued_numbers:
            sim.set_scenario(number, Scenario.caller_hangs_up_after(1.0))
        queued = [await start_call(api, tenant, "plivo", number) for number in queued_numbers]

        async def in_flight_is_out() -> bool:
            rows = await _calls(database_url, [in_flight])
            return rows[in_flight].dial_state == "dialing" and bool(sim.calls(to=in_flight_number))

        await _until(in_flight_is_out, what="the dial in flight")
        before = await _calls(database_url, [live, in_flight, *queued])
        assert [before[c].dial_state for c in queued] == ["queued", "queued"]
        assert before[live].status == "in_progress" and before[live].media_ended_at is None

    # 4. The partner's receiver goes down, then the server is killed mid-call.
    await receiver.go_down()
    server.kill_9()
    await asyncio.to_thread(live_sim.ended.wait, 20)  # the carrier saw its stream cut
    # While it is down, the operator raises Plivo's pacing so the queued calls leave together.
    raised = subprocess.run(
        [sys.executable, "-m", "callwright", "connections", "set", tenant.name, "plivo", "--cps", "5"],
        env=server.env, capture_output=True, text=True, timeout=300,  # a hang guard: a loaded box starts Python slowly
    )
    assert raised.returncode == 0, raised.stderr
    await server.start()
    await receiver.come_back()

    all_calls = [live, in_flight, *queued]
    async with server_client(server.base_url) as api:
        finals = {c: await wait_for_status(api, tenant, c, timeout=60) for c in all_calls}

    # No dial lost, none repeated: each number was called exactly once.
    for number in [live_number, in_flight_number, *queued_numbers]:
        assert len(sim.calls(to=number)) == 1, number

    assert finals[live]["status"] == "completed"
    assert finals[live]["end_reason"] == MEDIA_LOST
    for call_id in queued:
        assert (finals[call_id]["status"], finals[call_id]["disposition"]) == ("completed", "completed")
    # The call in flight is settled either by the carrier's callbacks (they reached the restarted
    # server) or, if they all came while it was down, by the reconciler — never by a second dial.
    settled = finals[in_flight]
    assert settled["status"] in ("completed", "failed") and settled["end_reason"]
    if settled["status"] == "failed":
        assert settled["end_reason"] == NEVER_CONFIRMED

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            sources = set(
                await session.scalars(select(CallEventRow.source).where(CallEventRow.call_id == live))
            )
            written = {
                (e.id, e.type, e.call_id)
                for e in await session.scalars(select(WebhookEvent).where(WebhookEvent.call_id.in_(all_calls)))
            }
    finally:
        await engine.dispose()
    assert "reconciler" in sources

    # Webhooks: every event written is received once the receiver is back, under its one id.
    await receiver.wait_for(len(all_calls), event="session.completed", timeout=60)

    async def all_received() -> bool:
        return {r.event_id for r in receiver.of(path="/crash")} >= {event_id for event_id, _, _ in written}

    await _until(all_received, timeout=60, what="every written webhook event received")
    by_id: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for request in receiver.of(path="/crash"):
        body = request.json
        by_id[request.event_id].add((request.event_type, body["data"]["call"]["call_id"]))
    assert set(by_id) == {event_id for event_id, _, _ in written}  # none lost, none invented
    assert all(len(seen) == 1 for seen in by_id.values())  # a repeated id is the same event
    per_call_type = defaultdict(list)
    for event_id, type_, call_id in written:
        per_call_type[(call_id, type_)].append(event_id)
    assert all(len(ids) == 1 for ids in per_call_type.values()), per_call_type  # none duplicated
    for call_id in all_calls:
        assert (call_id, "call.ended") in per_call_type and (call_id, "session.completed") in per_call_type


async def test_a_crash_while_mcube_dials_leaves_the_call_open_until_mcube_reports(
    sim: CarrierSimulator, database_url: str, tmp_path: Path
):
    """MCube has no status API and no media leg: after a crash mid-dial, silence says nothing
    about the call, which MCube may well have connected. It stays unconfirmed (its time bound
    stated on it) until MCube's webhook comes, and is never dialled again."""
    env = serve_env(
        database_url,
        sim,
        tmp_path,
        MCUBE_API_URL=sim.api_urls()["mcube"],
        CARRIER_TIMEOUT_SECS="10",
        RECONCILE_INTERVAL_SECS="0.5",
        RECONCILE_AFTER_SECS="3",
    )
    number = new_number()
    async with ServerProcess.serving(env, tmp_path / "serve.log") as server:
        async with server_client(server.base_url) as api:
            tenant = await make_tenant(api, sim, ["mcube"])
            # MCube places the call at once but holds its answer to the dial past the kill; the
            # customer answers while the platform is down, so that webhook is lost too.
            sim.inject_fault("mcube", delay_secs=30, act_first=True)
            # Connected past the dial's lease (10 s carrier timeout + 10 s) and the reconciler's
            # 3 s bound: long enough to be closed as never placed if silence were taken as proof.
            # The customer hangs up (below) at least 35 s after the dial and only once the server
            # is back: a restart slower than the call (a loaded box) would lose MCube's one
            # webhook, which the platform cannot ask for again. 300 s is only a backstop.
            sim.set_scenario(number, Scenario.caller_hangs_up_after(300.0, ring_secs=3.0))
            dialled_at = time.monotonic()
            call_id = await start_call(api, tenant, "mcube", number)

            async def in_flight() -> bool:
                rows = await _calls(database_url, [call_id])
                return rows[call_id].dial_state == "dialing" and bool(_mcube_calls(sim, number))

            await _until(in_flight, what="the MCube dial in flight")
        server.kill_9()
        await server.start()
        [sim_call] = _mcube_calls(sim, number)
        async with server_client(server.base_url) as api:

            async def unconfirmed_and_stated() -> bool:
                row = (await _calls(database_url, [call_id]))[call_id]
                return row.dial_state == "unconfirmed" and bool(row.end_reason)

            await _until(unconfirmed_and_stated, what="the lost dial marked unconfirmed")
            waiting = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
            assert waiting["status"] == "pending"
            assert "settled by the time bound at" in waiting["end_reason"]
            await asyncio.sleep(max(0.0, dialled_at + 35.0 - time.monotonic()))
            assert sim.caller_hangs_up(sim_call.call_id), "the customer's call was no longer up"
            assert await asyncio.to_thread(sim_call.ended.wait, 60), "the simulated call never ended"
            final = await wait_for_status(api, tenant, call_id, timeout=60)
    assert len(_mcube_calls(sim, number)) == 1  # dialled once
    assert (final["status"], final["disposition"]) == ("completed", "completed")
    assert "disconnected by Customer" in final["end_reason"] and "outcome unknown" not in final["end_reason"]


def _mcube_calls(sim: CarrierSimulator, number: str) -> list:  # type: ignore[type-arg]
    """MCube dials the 10-digit national number."""
    return [call for call in sim.calls(carrier="mcube") if call.to[-10:] == number[-10:]]
