"""SIGTERM drains a real ``callwright serve`` process: ``/readyz`` answers 503 at once, a new
media socket is refused (HTTP 503 on its upgrade), a live call runs on until it ends and only
then does the process exit; a call that outlives ``CALLWRIGHT_DRAIN_GRACE_SECS`` is ended with
"platform shutting down" and the carrier's leg is hung up."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from callwright.balancer import LoadBoard, SlotState
from callwright.domain.end_reasons import EndReason
from callwright.sim import CarrierSimulator, Scenario
from callwright.store.db import create_engine, session_factory
from callwright.store.models import Call
from tests.e2e.helpers import make_tenant, new_number, start_call, wait_for_status
from tests.e2e.server_process import ServerProcess, serve_env, server_client
from tests.redis_support import REDIS_URL, require_redis

pytestmark = pytest.mark.e2e


@pytest.fixture
def sim() -> Iterator[CarrierSimulator]:
    simulator = CarrierSimulator()
    with simulator.running():
        yield simulator


async def _served(
    database_url: str, sim: CarrierSimulator, tmp_path: Path, grace_secs: str, **more: str
) -> AsyncIterator[ServerProcess]:
    env = serve_env(database_url, sim, tmp_path, DRAIN_GRACE_SECS=grace_secs, LOG_FORMAT="json", **more)
    async with ServerProcess.serving(env, tmp_path / "serve.log") as process:
        yield process


@pytest.fixture
async def patient_server(database_url: str, sim: CarrierSimulator, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    async for process in _served(database_url, sim, tmp_path, "300"):
        yield process


@pytest.fixture
async def hasty_server(database_url: str, sim: CarrierSimulator, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    async for process in _served(database_url, sim, tmp_path, "1"):
        yield process


@pytest.fixture
async def two_workers(database_url: str, sim: CarrierSimulator, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    require_redis()
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    async for process in _served(
        database_url, sim, tmp_path, "300", WORKERS="2", REDIS_URL=REDIS_URL, REDIS_NAMESPACE=namespace
    ):
        yield process


async def _live_call(api: httpx.AsyncClient, sim: CarrierSimulator) -> tuple[Any, str, Any]:
    tenant = await make_tenant(api, sim, ["vobiz"])
    number = new_number()
    sim.set_scenario(number, Scenario.answer())  # the caller never hangs up by itself
    call_id = await start_call(api, tenant, "vobiz", number)
    await wait_for_status(api, tenant, call_id, {"in_progress"}, timeout=30)
    sim_call = await sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    deadline = time.monotonic() + 30
    while sim_call.first_agent_audio_at is None:
        assert time.monotonic() < deadline, "the agent never spoke"
        await asyncio.sleep(0.1)
    return tenant, call_id, sim_call


async def _until_not_ready(api: httpx.AsyncClient) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            ready = await api.get("/readyz", timeout=5)
        except httpx.TimeoutException:  # a worker starved of CPU on a busy machine: ask again
            assert time.monotonic() < deadline, "/readyz never answered after SIGTERM"
            continue
        if ready.status_code == 503:
            return ready
        assert ready.status_code == 200, ready.text
        assert time.monotonic() < deadline, "/readyz never answered 503 after SIGTERM"
        await asyncio.sleep(0.05)


async def _stored_call(database_url: str, call_id: str) -> Call:
    """The call as the store has it (the server that served it is gone)."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            call = await session.get(Call, call_id)
    finally:
        await engine.dispose()
    assert call is not None
    return call


async def test_sigterm_lets_a_live_call_finish_then_exits(
    patient_server: ServerProcess, sim: CarrierSimulator, database_url: str
):
    server = patient_server
    assert server.process is not None
    async with server_client(server.base_url) as api:
        assert (await api.get("/readyz")).status_code == 200
        tenant, call_id, sim_call = await _live_call(api, sim)

        os.kill(server.process.pid, signal.SIGTERM)
        not_ready = await _until_not_ready(api)
        assert not_ready.json()["error"]["reason"] == "draining"
        assert (await api.get("/healthz")).status_code == 200  # alive, only not ready

        # A new media socket is refused before its upgrade, for a proxy to retry elsewhere.
        ws_url = server.base_url.replace("http", "ws") + f"/media/vobiz/{uuid.uuid4()}/token"
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            async with websockets.connect(ws_url, open_timeout=10):
                pass
        assert refused.value.response.status_code == 503

        # The live call is still up, and so is the process carrying it.
        call = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
        assert call["status"] == "in_progress"
        assert server.process.poll() is None

        assert sim.caller_hangs_up(sim_call.call_id)
    await asyncio.to_thread(server.process.wait, 60)  # exits once the call is over
    finished = await _stored_call(database_url, call_id)
    assert finished.status == "completed"
    assert finished.media_ended_at is not None
    assert finished.end_reason != EndReason.PLATFORM_SHUTTING_DOWN.words

    # CALLWRIGHT_LOG_FORMAT=json: every line an object, the call's own lines carry its id, and
    # the media token in the socket's URL is redacted as in text logs.
    # (stdout, the dev key's box, shares the file: log lines are those of stderr.)
    text = server.log_path.read_text().splitlines()
    assert not [line for line in text if line.startswith(("INFO:", "WARNING:", "ERROR:"))]
    lines = [json.loads(line) for line in text if line.startswith("{")]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    dialed = [line for line in lines if line["message"].startswith(f"dialed call {call_id}")]
    assert dialed and all(line.get("call_id") == call_id for line in dialed)
    media = [line for line in lines if f"/media/vobiz/{call_id}/" in line["message"]]
    assert media and all(f"/media/vobiz/{call_id}/****" in line["message"] for line in media)
    assert any(line["logger"] == "callwright.drain" for line in lines)
    assert not [line for line in lines if line["level"] in ("error", "critical")]


async def test_a_call_outliving_the_grace_period_ends_with_the_reason(
    hasty_server: ServerProcess, sim: CarrierSimulator, database_url: str
):
    server = hasty_server
    assert server.process is not None
    async with server_client(server.base_url) as api:
        _, call_id, sim_call = await _live_call(api, sim)
        os.kill(server.process.pid, signal.SIGTERM)
        await _until_not_ready(api)
    try:
        await asyncio.to_thread(server.process.wait, 60)
    except subprocess.TimeoutExpired:
        pytest.fail("callwright serve did not exit after the grace period")
    await asyncio.to_thread(sim_call.ended.wait, 20)
    assert sim_call.ended.is_set()

    call = await _stored_call(database_url, call_id)  # stored before the exit
    assert call.end_reason == EndReason.PLATFORM_SHUTTING_DOWN.words
    assert call.media_ended_at is not None


async def _board_shows(board: LoadBoard, check: Any, what: str) -> None:
    deadline = time.monotonic() + 60  # only a hang fails: the workers may be starved of CPU
    while not check():
        assert time.monotonic() < deadline, f"the board never showed {what}: {board.slots_read()}"
        await asyncio.sleep(0.05)


@pytest.mark.xdist_group("serve-workers")
async def test_every_worker_of_a_balanced_serve_drains(two_workers: ServerProcess, sim: CarrierSimulator):
    server = two_workers
    assert server.process is not None
    # The server answers once one worker is up; the other may still be loading its models.
    board = LoadBoard(Path(server.env["CALLWRIGHT_VAR_DIR"]) / "workers.board", 2)
    await _board_shows(board, lambda: board.weights() == [1, 1], "both workers up")
    async with server_client(server.base_url) as api:
        tenant, call_id, sim_call = await _live_call(api, sim)
        await _board_shows(board, lambda: sorted(c for c, _ in board.read()) == [0, 1], "the call")
        carrying = [calls for calls, _ in board.read()].index(1)
        os.kill(server.process.pid, signal.SIGTERM)  # the supervisor passes it to each worker
        # The worker without a call has drained at once, the other drains on: the node as a whole
        # still drains, so the idle worker stays, accepting connections, until the other is done.
        await _board_shows(
            board,
            lambda: board.states()[carrying] == SlotState.DRAINING
            and board.states()[1 - carrying] == SlotState.DRAINED,
            "one worker draining and the other drained",
        )
        assert board.node_draining()
        # Each new connection is steered afresh, to either worker: every one is answered, 503.
        for _ in range(6):
            async with server_client(server.base_url) as fresh:
                ready = await fresh.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert ready.json()["error"]["reason"] == "draining"
        call = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
        assert call["status"] == "in_progress"
        assert server.process.poll() is None
        assert sim.caller_hangs_up(sim_call.call_id)
    await asyncio.to_thread(server.process.wait, 60)
    await asyncio.to_thread(sim_call.ended.wait, 20)
    assert sim_call.ended.is_set()
    assert board.states() == [SlotState.CLOSED, SlotState.CLOSED]  # each closed before it went


@pytest.fixture
async def two_nodes(
    database_url: str, sim: CarrierSimulator, tmp_path: Path
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    """Two nodes on one store and one Redis, each its own port and public URL (no balancer)."""
    require_redis()
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    shared = {"DRAIN_GRACE_SECS": "300", "REDIS_URL": REDIS_URL, "REDIS_NAMESPACE": namespace}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env_a = serve_env(database_url, sim, tmp_path / "a", **shared)
    env_b = serve_env(database_url, sim, tmp_path / "b", **shared)
    env_b["CALLWRIGHT_VAR_DIR"] = env_a["CALLWRIGHT_VAR_DIR"]  # one dev secret file, one key
    async with ServerProcess.serving(env_a, tmp_path / "a.log") as node_a:
        async with ServerProcess.serving(env_b, tmp_path / "b.log") as node_b:
            yield node_a, node_b


@pytest.mark.xdist_group("serve-workers")
async def test_a_draining_node_hands_dialing_over_and_drops_no_call(
    two_nodes: tuple[ServerProcess, ServerProcess], sim: CarrierSimulator, database_url: str
):
    node_a, node_b = two_nodes
    assert node_a.process is not None
    async with server_client(node_a.base_url) as api_a:
        tenant, live_id, live_sim = await _live_call(api_a, sim)  # dialled by A: it started first
        os.kill(node_a.process.pid, signal.SIGTERM)
        await _until_not_ready(api_a)
        # A call started while A drains (through A's API, still served) is dialled by B, whose
        # election took the dialer over, and its media goes to B.
        number = new_number()
        sim.set_scenario(number, Scenario.caller_hangs_up_after(3.0))
        handed_over = await start_call(api_a, tenant, "vobiz", number)
    async with server_client(node_b.base_url) as api_b:
        finished = await wait_for_status(api_b, tenant, handed_over, timeout=60)
        assert finished["status"] == "completed", finished
        assert node_a.process.poll() is None  # A still carries its live call
        assert sim.caller_hangs_up(live_sim.call_id)
        await asyncio.to_thread(node_a.process.wait, 60)
        live = await wait_for_status(api_b, tenant, live_id, timeout=30)
    assert live["status"] == "completed"
    assert live["end_reason"] != EndReason.PLATFORM_SHUTTING_DOWN.words
    assert len(sim.calls(to=number)) == 1
