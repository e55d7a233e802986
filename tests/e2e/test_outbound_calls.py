"""Whole calls through every carrier: the Partner API starts a call, the dialer reaches the
carrier simulator over real HTTP, the simulator answers and opens the media WebSocket, hears the
agent's intro, hangs up, and the carrier's callbacks close the call."""

from __future__ import annotations

import asyncio

import pytest

from callwright.sim import EndReason, Scenario
from tests.e2e.helpers import (
    hang_up_once_the_agent_spoke_after,
    heard_speech_secs,
    make_tenant,
    new_number,
    start_call,
    wait_for_status,
)

pytestmark = pytest.mark.e2e

MEDIA_CARRIERS = ["vobiz", "plivo", "twilio", "exotel"]


async def _one_call(api, carrier_sim, tenant, provider):
    number = new_number()
    # The callee stays on the line until the intro is over: a fixed hang-up (it was 6 s after the
    # answer) cut the intro short on a loaded machine, where it began seconds late.
    carrier_sim.set_scenario(number, Scenario.answer())
    call_id = await start_call(api, tenant, provider, number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier=provider, timeout=15)
    await hang_up_once_the_agent_spoke_after(carrier_sim, sim_call, lambda: 0.0)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await wait_for_status(api, tenant, call_id)
    return call, sim_call


async def test_every_carrier_speaks_the_intro_and_ends_completed(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, MEDIA_CARRIERS)
    results = await asyncio.gather(
        *(_one_call(api, carrier_sim, tenant, provider) for provider in MEDIA_CARRIERS)
    )
    for provider, (call, sim_call) in zip(MEDIA_CARRIERS, results, strict=True):
        where = f"{provider}: {call}"
        assert call["status"] == "completed", where
        assert call["disposition"] == "completed", where
        assert sim_call.end_reason == EndReason.CALLEE_HUNG_UP, where
        assert call["started_at"] and call["answered_at"] and call["ended_at"], where
        assert call["started_at"] <= call["answered_at"] <= call["ended_at"], where
        # The callee hangs up QUIET_SECS after the intro (about 3 s of speech) ended.
        assert 4 <= call["duration_seconds"] <= 60, where
        assert call["hangup_cause"], where
        assert call["provider_call_id"] in {sim_call.call_id, *sim_call.aliases}, where
        # "Hello Asha, this is a quick test call from Callwright." is about 2.5–3.5 s of speech.
        spoken = heard_speech_secs(sim_call)
        assert 1.0 <= spoken <= 6.0, f"{provider}: heard {spoken:.2f} s of agent speech"
        assert sim_call.first_agent_audio_at is not None
