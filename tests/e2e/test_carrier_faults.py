"""Carrier faults during a call's life, through the simulator: REST 5xx, 429 and timeouts on the
dial and the hang-up, and a media socket that breaks or goes silent mid-call.

The platform here reconciles fast (every 0.5 s, calls silent for 2 s) and calls a media socket
silent for 2 s lost, so each case settles in seconds.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from callwright.domain.reconcile import NEVER_CONFIRMED
from callwright.sim import EndReason, Scenario
from callwright.store.db import create_engine, session_factory
from callwright.store.models import CallEventRow
from tests.e2e.helpers import make_tenant, new_number, start_call, wait_for_status

pytestmark = pytest.mark.e2e

CARRIER_TIMEOUT = 5.0  # this module's platform's carrier_timeout_secs: its faults outlast it


@pytest.fixture(scope="module")
def platform_settings() -> dict[str, object]:
    return {
        "reconcile_interval_secs": 0.5,
        "reconcile_after_secs": 2.0,
        "media_idle_timeout_secs": 2.0,
        "carrier_timeout_secs": CARRIER_TIMEOUT,
    }


@pytest.fixture(autouse=True)
def no_leftover_faults(carrier_sim) -> None:  # type: ignore[no-untyped-def]
    """The session's simulator is shared: start each case with no fault queued by another."""
    carrier_sim.clear_faults()


async def _trail(platform_server, call_id: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    engine = create_engine(platform_server.settings.resolved_database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(
                select(CallEventRow).where(CallEventRow.call_id == call_id).order_by(CallEventRow.created_at)
            )
            return [(row.kind, row.source) for row in rows]
    finally:
        await engine.dispose()


def _dials(sim, provider: str, suffix: str) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in sim.requests(provider) if r.method == "POST" and r.path.endswith(suffix))


async def _until(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


# --- the dial --------------------------------------------------------------------------------


async def test_a_throttled_dial_waits_the_carriers_retry_after_and_dials_once(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"])
    carrier_sim.clear_requests()
    carrier_sim.inject_fault("vobiz", status=429, count=2, retry_after_secs=1)
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(1.0))
    started = time.monotonic()
    call_id = await start_call(api, tenant, "vobiz", number)
    call = await wait_for_status(api, tenant, call_id, timeout=40)
    assert call["status"] == "completed"
    assert time.monotonic() - started >= 2.0  # two refusals, each followed by its Retry-After
    assert _dials(carrier_sim, "vobiz", "/Call/") == 3  # 429, 429, placed
    assert len(carrier_sim.calls(to=number)) == 1


async def test_a_dial_timeout_is_not_redialled_and_the_carriers_callbacks_carry_the_call(
    api, carrier_sim, platform_server
):
    tenant = await make_tenant(api, carrier_sim, ["twilio"])
    carrier_sim.clear_requests()
    # Twilio places the call at once but answers the request after our client gave up.
    carrier_sim.inject_fault("twilio", delay_secs=CARRIER_TIMEOUT + 1.5, act_first=True)
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(CARRIER_TIMEOUT + 3))
    call_id = await start_call(api, tenant, "twilio", number)
    call = await wait_for_status(api, tenant, call_id, timeout=40)
    assert (call["status"], call["disposition"]) == ("completed", "completed")
    assert call["provider_call_id"] == carrier_sim.calls(to=number)[-1].call_id
    assert _dials(carrier_sim, "twilio", "/Calls.json") == 1
    assert len(carrier_sim.calls(to=number)) == 1
    assert ("dial_unconfirmed", "dialer") in await _trail(platform_server, call_id)


async def test_a_dial_timeout_the_carrier_never_acted_on_is_closed_by_the_reconciler(
    api, carrier_sim, platform_server
):
    tenant = await make_tenant(api, carrier_sim, ["plivo"])
    carrier_sim.clear_requests()
    carrier_sim.inject_fault("plivo", delay_secs=CARRIER_TIMEOUT + 1.0, status=500)
    number = new_number()
    call_id = await start_call(api, tenant, "plivo", number)
    call = await wait_for_status(api, tenant, call_id, timeout=40)
    assert (call["status"], call["disposition"]) == ("failed", "failed")
    assert call["end_reason"] == NEVER_CONFIRMED
    assert _dials(carrier_sim, "plivo", "/Call/") == 1
    assert carrier_sim.calls(to=number) == []
    trail = await _trail(platform_server, call_id)
    assert ("dial_unconfirmed", "dialer") in trail and ("never_confirmed", "reconciler") in trail


# --- the hang-up -----------------------------------------------------------------------------


async def _live_call(api, sim, provider: str, scenario: Scenario | None = None):  # type: ignore[no-untyped-def]
    tenant = await make_tenant(api, sim, [provider])
    number = new_number()
    sim.set_scenario(number, scenario or Scenario.answer())
    call_id = await start_call(api, tenant, provider, number)
    return tenant, call_id, number


async def _media_live(sim, number: str) -> None:  # type: ignore[no-untyped-def]
    """Until the caller has heard the agent: the platform's media session for the call runs, so it
    can end the call by closing the stream. (``in_progress`` comes with the answer callback, which
    on a loaded box can be well before the media stream is up.)"""
    await _until(lambda: any(c.first_agent_audio_at is not None for c in sim.calls(to=number)), timeout=60)


async def test_a_hang_up_meeting_a_503_is_retried(api, carrier_sim):
    tenant, call_id, number = await _live_call(api, carrier_sim, "vobiz")
    await wait_for_status(api, tenant, call_id, {"in_progress"})
    carrier_sim.clear_requests()
    carrier_sim.inject_fault("vobiz", status=503, count=1)
    ended = await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)
    assert ended.status_code == 200, ended.text
    call = await wait_for_status(api, tenant, call_id)
    assert (call["status"], call["end_reason"]) == ("completed", "ended by partner request")
    deletes = [r.status for r in carrier_sim.requests("vobiz") if r.method == "DELETE"]
    assert deletes == [503, 204]
    assert carrier_sim.calls(to=number)[-1].end_reason == EndReason.API_HANGUP


async def test_a_failing_hang_up_ends_the_call_by_closing_its_media_stream(api, carrier_sim):
    tenant, call_id, number = await _live_call(api, carrier_sim, "plivo")
    await wait_for_status(api, tenant, call_id, {"in_progress"})
    await _media_live(carrier_sim, number)
    carrier_sim.inject_fault("plivo", status=500, count=2)
    ended = await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)
    assert ended.status_code == 200, ended.text
    call = await wait_for_status(api, tenant, call_id)
    assert (call["status"], call["end_reason"]) == ("completed", "ended by partner request")
    assert carrier_sim.calls(to=number)[-1].end_reason == EndReason.STREAM_CLOSED


async def test_a_failing_hang_up_without_media_here_is_a_502_naming_the_carrier(api, carrier_sim):
    # MCube's click-to-call has no media leg on our side: only its REST release can end it.
    tenant, call_id, number = await _live_call(api, carrier_sim, "mcube", Scenario.slow_answer(60))
    sim_call = await carrier_sim.wait_for_call(to=number[-10:])  # MCube dials national numbers
    await _until(lambda: sim_call.status is not None)
    carrier_sim.inject_fault("mcube", status=500, count=2)
    failed = await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)
    assert failed.status_code == 502
    error = failed.json()["error"]
    assert error["reason"] == "carrier_unavailable"
    assert "MCube" in error["message"] and "500" in error["message"]
    assert not sim_call.ended.is_set()  # still ringing at the carrier
    again = await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)
    assert again.status_code == 200, again.text
    await carrier_sim.wait_for_call_end(sim_call.call_id)
    call = await wait_for_status(api, tenant, call_id)
    assert call["end_reason"] == "ended by partner request"


async def test_a_hang_up_timeout_ends_the_call_by_closing_its_media_stream(api, carrier_sim):
    tenant, call_id, number = await _live_call(api, carrier_sim, "twilio")
    await wait_for_status(api, tenant, call_id, {"in_progress"})
    await _media_live(carrier_sim, number)
    carrier_sim.inject_fault("twilio", delay_secs=CARRIER_TIMEOUT + 1.0, status=500)
    ended = await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)
    assert ended.status_code == 200, ended.text
    call = await wait_for_status(api, tenant, call_id)
    assert (call["status"], call["end_reason"]) == ("completed", "ended by partner request")


# --- the media socket ------------------------------------------------------------------------


async def _wait_for_end_reason(api, tenant, call_id: str, reason: str):  # type: ignore[no-untyped-def]
    """The terminal call once it names ``reason``: the carrier's hang-up callback may land a moment
    before the media session's own account of the end."""
    call = await wait_for_status(api, tenant, call_id, timeout=30)
    deadline = time.monotonic() + 10
    while call["end_reason"] != reason and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        call = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
    assert call["end_reason"] == reason, call
    return call


@pytest.mark.parametrize("provider", ["vobiz", "twilio"])
async def test_a_media_connection_cut_mid_call_ends_the_call_as_media_stream_lost(
    api, carrier_sim, provider
):
    tenant, call_id, number = await _live_call(api, carrier_sim, provider)
    await wait_for_status(api, tenant, call_id, {"in_progress"})
    sim_call = carrier_sim.calls(to=number)[-1]
    await _until(lambda: sim_call.media_stream is not None and sim_call.first_agent_audio_at is not None)
    assert carrier_sim.drop_media(sim_call.call_id)
    call = await _wait_for_end_reason(api, tenant, call_id, "media stream lost")
    assert call["status"] == "completed"


async def test_a_media_stream_gone_silent_ends_the_call_as_media_stream_lost(api, carrier_sim):
    tenant, call_id, number = await _live_call(api, carrier_sim, "plivo")
    await wait_for_status(api, tenant, call_id, {"in_progress"})
    sim_call = carrier_sim.calls(to=number)[-1]
    await _until(lambda: sim_call.media_stream is not None and sim_call.first_agent_audio_at is not None)
    assert carrier_sim.stall_media(sim_call.call_id)
    call = await _wait_for_end_reason(api, tenant, call_id, "media stream lost")
    assert call["status"] == "completed"
    await carrier_sim.wait_for_call_end(sim_call.call_id)  # the carrier was told, too
