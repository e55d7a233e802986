"""Calls that do not simply complete: busy, no answer, failures in the carrier's words, voicemail,
MCube click-to-call, and a dial that must happen once however often the partner retries."""

from __future__ import annotations

import asyncio
import time

import pytest

from callwright.sim import EndReason, Scenario
from tests.e2e.helpers import (
    ADMIN,
    finished_call,
    heard_speech_secs,
    make_tenant,
    new_number,
    start_call,
    wait_for_status,
)

pytestmark = pytest.mark.e2e


async def _get_call(api, tenant, call_id: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]


async def _call(api, sim, tenant, provider, scenario, **extra):
    number = new_number()
    sim.set_scenario(number, scenario)
    call_id = await start_call(api, tenant, provider, number, **extra)
    return call_id, number


@pytest.mark.parametrize(
    ("provider", "scenario", "status", "disposition"),
    [
        ("vobiz", Scenario.busy(), "busy", "busy"),
        ("twilio", Scenario.no_answer(after_secs=1.0), "no_answer", "no_answer"),
        ("plivo", Scenario.failed("No route to destination"), "failed", "failed"),
        ("exotel", Scenario.busy(), "busy", "busy"),
    ],
)
async def test_unanswered_outcomes(api, carrier_sim, provider, scenario, status, disposition):
    tenant = await make_tenant(api, carrier_sim, [provider])
    call_id, _ = await _call(api, carrier_sim, tenant, provider, scenario)
    call = await wait_for_status(api, tenant, call_id)
    assert (call["status"], call["disposition"], call["answered_by"]) == (status, disposition, "not_answered")
    assert call["answered_at"] is None and call["ended_at"] is not None
    assert call["duration_seconds"] == 0
    assert call["hangup_cause"]
    assert call["provider_call_id"]
    if scenario.failure_cause:
        assert scenario.failure_cause in call["hangup_cause"]
        assert scenario.failure_cause in call["end_reason"]


async def test_carrier_refuses_the_dial_in_its_own_words(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"])
    carrier_sim.inject_fault("vobiz", status=400, count=1)
    call_id, _ = await _call(api, carrier_sim, tenant, "vobiz", Scenario.answer())
    call = await wait_for_status(api, tenant, call_id)
    assert call["status"] == "failed"
    assert "Vobiz" in call["end_reason"] and "400" in call["end_reason"]


async def test_transient_carrier_errors_are_retried_and_dial_once(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["plivo"])
    carrier_sim.inject_fault("plivo", status=503, count=1)
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(1.0))
    call_id = await start_call(api, tenant, "plivo", number)
    call = await wait_for_status(api, tenant, call_id, timeout=30)
    assert call["status"] == "completed"
    assert len(carrier_sim.calls(to=number)) == 1


async def test_idempotent_retries_dial_once(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["twilio"])
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(1.0))
    headers = {"Idempotency-Key": f"retry-{number}"}
    ids = await asyncio.gather(*(start_call(api, tenant, "twilio", number, headers=headers) for _ in range(4)))
    assert len(set(ids)) == 1
    await wait_for_status(api, tenant, ids[0])
    assert len(carrier_sim.calls(to=number)) == 1


async def test_partner_ends_a_live_call_through_the_carrier(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"])
    call_id, number = await _call(api, carrier_sim, tenant, "vobiz", Scenario.answer())
    await wait_for_status(api, tenant, call_id, {"in_progress"})
    ended = await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)
    assert ended.status_code == 200
    call = await wait_for_status(api, tenant, call_id)
    assert call["status"] == "completed"
    assert call["end_reason"] == "ended by partner request"
    sim_call = carrier_sim.calls(to=number)[-1]
    assert sim_call.end_reason == EndReason.API_HANGUP


async def _voicemail_tenant(api, sim, provider, **agent_fields):
    tenant = await make_tenant(
        api, sim, [provider], voicemail_detection_enabled=True, **agent_fields
    )
    switched = await api.patch(
        f"/admin/v1/partners/{tenant.name}/connections/{provider}",
        json={"carrier_voicemail_detection": True},
        headers=ADMIN,
    )
    assert switched.status_code == 200, switched.text
    return tenant


async def test_voicemail_is_detected_and_hung_up(api, carrier_sim):
    tenant = await _voicemail_tenant(api, carrier_sim, "vobiz")
    call_id, number = await _call(
        api, carrier_sim, tenant, "vobiz", Scenario.voicemail(machine_detection_secs=0.5)
    )
    call = await wait_for_status(api, tenant, call_id)
    assert (call["status"], call["disposition"], call["answered_by"]) == ("completed", "voicemail", "machine")
    sim_call = carrier_sim.calls(to=number)[-1]
    assert sim_call.dial.get("machine_detection") in ("true", True)
    assert sim_call.end_reason == EndReason.API_HANGUP


async def test_voicemail_without_operator_switch_asks_no_detection(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["plivo"], voicemail_detection_enabled=True)
    call_id, number = await _call(api, carrier_sim, tenant, "plivo", Scenario.caller_hangs_up_after(1.0))
    await wait_for_status(api, tenant, call_id)
    assert "machine_detection" not in carrier_sim.calls(to=number)[-1].dial


async def test_mcube_click_to_call_reaches_a_terminal_status(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["mcube"])
    call_id, _ = await _call(api, carrier_sim, tenant, "mcube", Scenario.caller_hangs_up_after(1.0))
    call = await wait_for_status(api, tenant, call_id)
    assert call["status"] == "completed"
    assert call["provider_call_id"]
    assert "media" in call["end_reason"]  # MCube's leg never reached our media endpoint


async def test_twilio_leaves_the_voicemail_message_after_the_beep(api, carrier_sim):
    tenant = await _voicemail_tenant(
        api, carrier_sim, "twilio", voicemail_message="Hi {{name}}, please call us back when you can."
    )
    scenario = Scenario.voicemail("Please leave a message after the tone.")
    call_id, number = await _call(api, carrier_sim, tenant, "twilio", scenario)
    call = await wait_for_status(api, tenant, call_id, timeout=40)
    assert (call["status"], call["disposition"], call["answered_by"]) == ("completed", "voicemail", "machine")
    sim_call = carrier_sim.calls(to=number)[-1]
    assert sim_call.dial.get("MachineDetection") == "DetectMessageEnd"
    assert sim_call.machine_result == "machine_end_beep"
    greeting_over = sim_call.caller_speech()[-1].ends_at
    spoken = heard_speech_secs(sim_call, after=greeting_over)
    assert 1.0 <= spoken <= 6.0, f"heard {spoken:.2f} s of voicemail message after the beep"


async def test_exotel_voicemail_is_recognised_by_its_greeting_and_the_message_left_after_the_beep(
    api, carrier_sim
):
    # Exotel has no machine detection: our second opinion judges the greeting's words and beep.
    tenant = await make_tenant(
        api, carrier_sim, ["exotel"], voicemail_detection_enabled=True,
        voicemail_message="Hi {{name}}, this is Callwright. Please call us back.",
    )
    scenario = Scenario.voicemail()  # "Hi, you have reached the voicemail of Sam. … after the tone." + beep
    call_id, number = await _call(api, carrier_sim, tenant, "exotel", scenario)
    await wait_for_status(api, tenant, call_id, timeout=40)
    # Exotel's "completed" callback can make the call terminal, with its own words, before the
    # media session has stored why it closed the stream (a loaded CI box read "completed").
    call = await finished_call(api, tenant, call_id)
    assert (call["status"], call["disposition"], call["answered_by"]) == ("completed", "voicemail", "machine")
    assert call["answered_by_confidence"] >= 0.8
    # The verdict names its evidence: the greeting's words or its beep, whichever decided first.
    assert any(word in call["answered_by_reason"] for word in ("voicemail", "beep", "mailbox greeting"))
    assert call["end_reason"] == "voicemail", call
    sim_call = carrier_sim.calls(to=number)[-1]
    # The mailbox records from the beep's end. Spoken from the beep's detection (0.18 s into the
    # simulator's 0.5 s beep) instead, 1.38-1.48 s of the message was heard here.
    beep_over = sim_call.caller_speech()[-1].ends_at + 0.3
    spoken = heard_speech_secs(sim_call, after=beep_over)
    assert 1.5 <= spoken <= 8.0, f"heard {spoken:.2f} s of voicemail message after the beep"


async def test_a_person_answering_is_judged_human_by_the_second_opinion(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["exotel"], voicemail_detection_enabled=True)
    # The person stays on the line until the verdict is on the call (a fixed hang-up raced the
    # second opinion on a loaded machine), then hangs up.
    scenario = Scenario.answer("Hello who is this", leading_silence_secs=4.0)
    call_id, number = await _call(api, carrier_sim, tenant, "exotel", scenario)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="exotel", timeout=15)
    deadline = time.monotonic() + 60
    while (call := await _get_call(api, tenant, call_id))["answered_by"] != "human" and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    carrier_sim.caller_hangs_up(sim_call.call_id)
    call = await wait_for_status(api, tenant, call_id, timeout=30)
    assert call["answered_by"] == "human", call
    assert call["disposition"] != "voicemail"
    # "a short spoken greeting…" or, if Whisper spelled the greeting oddly, "a short spoken answer".
    assert call["answered_by_reason"].startswith("a short spoken"), call["answered_by_reason"]
