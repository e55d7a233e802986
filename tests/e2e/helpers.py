"""Driving a whole call: a partner set up through the real APIs, then a call and its far end."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from callwright.sim import CarrierSimulator, Scenario, Utterance
from tests.conftest import TEST_ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
TERMINAL = {"completed", "failed", "no_answer", "busy", "canceled"}
_numbers = itertools.count(10)
_names = itertools.count(1)

# Each carrier account the simulator accepts, and the PUT body that configures it.
ACCOUNTS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "vobiz": (
        {"auth_id": "MA_E2EVOBIZ", "auth_token": "vobiz-e2e-token"},
        {"auth_id": "MA_E2EVOBIZ", "auth_token": "vobiz-e2e-token", "from_number": "+918011223344"},
    ),
    "plivo": (
        {"auth_id": "MAE2EPLIVO0000000001", "auth_token": "plivo-e2e-token"},
        {"auth_id": "MAE2EPLIVO0000000001", "auth_token": "plivo-e2e-token", "from_number": "+14155550100"},
    ),
    "twilio": (
        {"account_sid": "AC" + "e2e0" * 8, "auth_token": "twilio-e2e-token"},
        {"account_sid": "AC" + "e2e0" * 8, "auth_token": "twilio-e2e-token", "from_number": "+14155550101"},
    ),
    "exotel": (
        {"account_sid": "e2eexotel", "api_key": "exo-key", "api_token": "exo-token", "exophones": ["+918047112345"]},
        {
            "account_sid": "e2eexotel",
            "api_key": "exo-key",
            "api_token": "exo-token",
            "subdomain": "api.in.exotel.com",
            "caller_id": "+918047112345",
        },
    ),
    "mcube": ({"jwt_token": "mcube-e2e-jwt"}, {"jwt_token": "mcube-e2e-jwt", "exe_number": "9876500001"}),
}

INTRO = "Hello {{name}}, this is a quick test call from Callwright."


# An agent on the fake engines (the platform started with ``fake_engines``): instant, no model.
FAKE_ENGINE_FIELDS = {"stt": {"provider": "fake"}, "llm": {"provider": "fake"}, "voice_id": "fake-tone"}


def new_number() -> str:
    """A fresh valid Indian mobile number per call, so each call has its own scenario."""
    return f"+9198{next(_numbers):08d}"


@dataclass
class Tenant:
    name: str
    headers: dict[str, str]
    agent_id: str


async def make_tenant(
    api: httpx.AsyncClient, sim: CarrierSimulator, providers: list[str], **agent_fields: Any
) -> Tenant:
    name = f"e2e-{next(_names)}-{time.monotonic_ns() % 100000}"
    created = await api.post(
        "/admin/v1/partners",
        # The tests poll their calls: no per-key request limits.
        json={
            "name": name,
            "allowed_telephony_providers": providers,
            "concurrency_limit": 20,
            "requests_per_minute": 0,
            "calls_per_minute": 0,
        },
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {created.json()['data']['api_key']}"}
    for provider in providers:
        account, body = ACCOUNTS[provider]
        sim.add_account(provider, **account)
        configured = await api.put(f"/api/v2/config/telephony/{provider}", json=body, headers=headers)
        assert configured.status_code == 200, configured.text
    agent = await api.post(
        "/api/v2/agent",
        json={"agent_name": "E2E agent", "intro_message": INTRO, "variables": ["name"]} | agent_fields,
        headers=headers,
    )
    assert agent.status_code == 201, agent.text
    return Tenant(name, headers, agent.json()["data"]["id"])


async def start_call(api: httpx.AsyncClient, tenant: Tenant, provider: str, to: str, **extra: Any) -> str:
    response = await api.post(
        "/api/v2/calls/start",
        json={"agent_id": tenant.agent_id, "to_number": to, "provider": provider, "variables": {"name": "Asha"}},
        headers=tenant.headers | extra.get("headers", {}),
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["call_id"]


async def wait_for_status(
    api: httpx.AsyncClient, tenant: Tenant, call_id: str, statuses: set[str] = TERMINAL, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        call = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
        if call["status"] in statuses:
            return call
        if time.monotonic() > deadline:
            raise AssertionError(f"call {call_id} still {call['status']} after {timeout} s: {call}")
        await asyncio.sleep(0.1)


# How long the agent must be quiet before the simulated caller takes its line (the intro, a reply)
# as over. The agent's audio leaves paced at real time, so a loop stall on a loaded box is a pause
# inside a line: over 1 s was seen inside a reply (run M), and a caller who waited 1 s spoke over
# an intro (run N). The agent's silence rule is 15 s away.
QUIET_SECS = 2.5


def heard_speech_secs(sim_call, *, after: float = 0.0, until: float | None = None) -> float:  # type: ignore[no-untyped-def]
    """Seconds of non-silent agent audio the simulated caller heard from ``after`` (call clock)
    on, and before ``until`` if given: 20 ms frames above −40 dBFS."""
    total = 0.0
    for chunk in sim_call.playout.heard():
        if chunk.starts_at < after or (until is not None and chunk.starts_at >= until):
            continue
        pcm = chunk.pcm.astype(np.float64)
        frames = pcm[: len(pcm) // 160 * 160].reshape(-1, 160)
        total += float((np.sqrt((frames**2).mean(axis=1)) > 327.0).sum()) * 0.02
    return total


def after_the_intro(*lines: str | Utterance, **fields: Any) -> Scenario:
    """A caller who lets the agent's intro finish: its lines start half a second after the agent
    has gone quiet for ``QUIET_SECS``, however late the intro came, and it stays on the line until
    the test hangs it up (``hang_up_after_the_reply``). A fixed leading silence races a late intro
    on a loaded machine: the caller talks over it and the intro is marked interrupted."""
    return Scenario.answer(*lines, **({"waits_for_agent_secs": QUIET_SECS, "leading_silence_secs": 0.5} | fields))


async def hang_up_after_the_reply(sim, sim_call, *, quiet_secs: float = QUIET_SECS, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Hang the simulated caller up once the agent has answered the caller's last speech: audible
    agent audio after that speech ended, then ``quiet_secs`` with none. A fixed hang-up time races
    the reply on a loaded machine (the call ends before the agent has spoken); this waits for it."""

    def last_speech_end() -> float | None:
        spoken = len(sim_call.caller_speech())
        if spoken and len(sim_call.caller_speech_sent_at) >= spoken:
            return float(sim_call.caller_speech_sent_at[spoken - 1])
        return None

    await hang_up_once_the_agent_spoke_after(sim, sim_call, last_speech_end, quiet_secs=quiet_secs, timeout=timeout)


def transfer_leg_over(sim_call) -> Callable[[], float | None]:  # type: ignore[no-untyped-def]
    """When the call's last transfer leg (``<Dial>``) ended, on the call's clock (None: not yet)."""
    return lambda: sim_call.dials[-1].ended_at if sim_call.dials else None


async def hang_up_once_the_agent_spoke_after(  # type: ignore[no-untyped-def]
    sim, sim_call, since: Callable[[], float | None], *, quiet_secs: float = QUIET_SECS, timeout: float = 60.0
) -> None:
    """Hang the simulated caller up once ``since()`` gives a moment (call clock) and the agent has
    been heard after it, then quiet for ``quiet_secs``: none of its audio arriving and none left to
    play. An event in the call, not a fixed time. ``quiet_secs`` 0: at its first audible frame."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not sim_call.ended.is_set():
        moment = since()
        if moment is not None:
            audible = [at for at, loud in sim_call.agent_audio_arrivals if loud and at > moment]
            # agent_heard_until: when the last audible audio to arrive ends playing (never before
            # it arrived).
            if audible and (quiet_secs == 0 or sim_call.now() >= (sim_call.agent_heard_until or 0.0) + quiet_secs):
                sim.caller_hangs_up(sim_call.call_id)
                return
        await asyncio.sleep(0.05)
    what = "the call ended" if sim_call.ended.is_set() else f"{timeout} s passed"
    raise AssertionError(f"{what} before the agent was heard after {since()}: {sim_call.summary()}")


async def finished_call(api: httpx.AsyncClient, tenant: Tenant, call_id: str) -> dict[str, Any]:
    """The call once terminal and its media outcome stored (``processing_complete``): the
    carrier's hang-up callback can make it terminal a moment before the media session has
    written the transcript."""
    call = await wait_for_status(api, tenant, call_id)
    deadline = time.monotonic() + 60.0  # only a hang guard: a loaded box closes media late
    while not call["processing_complete"]:
        assert time.monotonic() < deadline, f"the call's media outcome was never stored: {call}"
        await asyncio.sleep(0.1)
        call = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
    return call
