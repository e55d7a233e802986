"""``callwright demo``: one whole call, offline, start to finish.

It starts the carrier simulator and the platform (both in this process, on free local ports, with
a throw-away SQLite store), creates a partner through the admin API, configures Vobiz against the
simulator, creates an agent with a scripted brain, and calls a simulated caller who speaks two
sentences. The transcript is printed live, as the call's media session hears and answers, with
each reply's latency; at the end, the stored call record's turns with their latency breakdown, and
the path of a stereo WAV of the whole call (caller left, agent right) as the simulator heard it.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from callwright.settings import Settings

DEMO_NUMBER = "+919812345678"
VOBIZ_ACCOUNT = {"auth_id": "MA_DEMO0001", "auth_token": "demo-vobiz-token"}
AGENT = {
    "agent_name": "Demo receptionist",
    "intro_message": "Hello {{name}}, this is the Callwright demo line. How can I help you today?",
    "prompt": "You book appointments for the Acme clinic.",
    "variables": ["name"],
    "script": {
        "replies": [
            {"text": "Of course. I can book you in for nine tomorrow morning. Does that work?"},
            {"text": "Great, you are booked for nine tomorrow. Goodbye!", "end_call": True},
        ],
        "fallback": "Sorry, could you say that again?",
    },
}
CALLER_LINES = (
    "Hi, I would like to book an appointment for tomorrow morning.",
    "Yes, nine in the morning works for me.",
)


def _free_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def _platform(settings: Settings, sock: socket.socket) -> Iterator[Any]:
    import uvicorn

    from callwright.api.app import create_app

    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300  # only a hang guard: a loaded box starts slowly
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the platform did not start")
        time.sleep(0.05)
    try:
        yield app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def run_demo(out_dir: Path, *, echo: Any = print) -> Path:
    """Run the demo call; returns the WAV's path."""
    from callwright.sim import CarrierSimulator, Scenario

    out_dir.mkdir(parents=True, exist_ok=True)
    sim = CarrierSimulator()
    with sim.running():
        sim.add_account("vobiz", **VOBIZ_ACCOUNT)
        sim.set_scenario(
            DEMO_NUMBER,
            # The caller lets the agent finish: each line comes once the agent has been quiet
            # for 1.5 s (fixed times talked over a reply that came late on a busy machine).
            Scenario.answer(
                *CALLER_LINES, waits_for_agent_secs=1.5, takes_turns=True, leading_silence_secs=0.3, gap_secs=0.3
            ),
        )
        sock = _free_port()
        port = sock.getsockname()[1]
        admin_token = secrets.token_urlsafe(32)
        settings = Settings(
            var_dir=out_dir / "var",
            secret_key=secrets.token_urlsafe(48),
            admin_token=admin_token,
            public_url=f"http://127.0.0.1:{port}",
            vobiz_api_url=sim.api_urls()["vobiz"],
        )
        from callwright.store.db import create_engine
        from callwright.store.migrate import upgrade

        async def _migrate() -> None:
            engine = create_engine(settings.resolved_database_url)
            await upgrade(engine)
            await engine.dispose()

        asyncio.run(_migrate())
        echo(f"simulator: {sim.base_url}   platform: http://127.0.0.1:{port}")
        with _platform(settings, sock) as app:
            return asyncio.run(_call(app, f"http://127.0.0.1:{port}", admin_token, sim, out_dir, echo))


async def _call(app: Any, base_url: str, admin_token: str, sim: Any, out_dir: Path, echo: Any) -> Path:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as api:
        admin = {"Authorization": f"Bearer {admin_token}"}
        created = await api.post(
            "/admin/v1/partners",
            # The demo polls its call: no per-key request limits for it.
            json={
                "name": "demo",
                "allowed_telephony_providers": ["vobiz"],
                "requests_per_minute": 0,
                "calls_per_minute": 0,
            },
            headers=admin,
        )
        _ok(created, "create the demo partner")
        partner = {"Authorization": f"Bearer {created.json()['data']['api_key']}"}
        configured = await api.put(
            "/api/v2/config/telephony/vobiz",
            json=VOBIZ_ACCOUNT | {"from_number": "+918011223344"},
            headers=partner,
        )
        _ok(configured, "configure Vobiz")
        echo(f"vobiz: {configured.json()['data']['message']}")
        agent = await api.post("/api/v2/agent", json=AGENT, headers=partner)
        _ok(agent, "create the agent")
        started = await api.post(
            "/api/v2/calls/start",
            json={
                "agent_id": agent.json()["data"]["id"],
                "to_number": DEMO_NUMBER,
                "provider": "vobiz",
                "variables": {"name": "Asha"},
            },
            headers=partner,
        )
        _ok(started, "start the call")
        call_id = started.json()["data"]["call_id"]
        echo(f"call {call_id} → {DEMO_NUMBER}\n")
        await _follow_live(app, call_id, echo)
        call = await _stored_call(api, partner, call_id)

    echo(f"\ncall {call['status']} ({call['end_reason']}), {call['duration_seconds']} s")
    for turn in call["transcript"]:
        if turn.get("breakdown"):
            parts = ", ".join(f"{k} {v}" for k, v in turn["breakdown"].items())
            echo(f"  reply latency {turn['latency_ms']} ms  ({parts} ms after the caller stopped)")
    if call.get("latency"):
        lat = call["latency"]
        echo(f"latency: min {lat['min_ms']} ms, avg {lat['avg_ms']} ms, max {lat['max_ms']} ms")
    sim_call = sim.calls(to=DEMO_NUMBER)[-1]
    await sim.wait_for_call_end(sim_call.call_id, timeout=10)
    wav = sim_call.save_wav(out_dir / "demo-call.wav", both_sides=True)
    echo(f"recording (caller left, agent right): {wav}")
    return wav


async def _follow_live(app: Any, call_id: str, echo: Any) -> None:
    """Print each transcript turn as the live media session records it, and the turns it added
    between the last look and its end (the closing line comes just before the hang-up)."""
    platform = app.state.platform
    printed = 0
    seen = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        media = platform.media_sessions.get(call_id) or seen
        if media is not None:
            turns = media.conversation.turns
            for turn in turns[printed:]:
                who = "agent " if turn.role == "bot" else "caller"
                latency = f"   [{turn.latency_ms} ms]" if turn.latency_ms is not None else ""
                echo(f"{who}: {turn.content}{latency}")
            printed = len(turns)
            if media is seen and call_id not in platform.media_sessions:
                break  # the session has ended, and everything it said is printed
            seen = media
        await asyncio.sleep(0.1)


async def _stored_call(api: httpx.AsyncClient, headers: dict[str, str], call_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        call = (await api.get(f"/api/v2/calls/{call_id}", headers=headers)).json()["data"]
        if call["processing_complete"] or time.monotonic() > deadline:
            return call
        await asyncio.sleep(0.2)


def _ok(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise RuntimeError(f"could not {what}: {response.status_code} {response.text}")


def default_out_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="callwright-demo-"))
