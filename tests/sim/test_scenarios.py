"""Scenarios across carriers: each unanswered outcome reported in the carrier's own words, voicemail
with machine detection, what the platform answered to a callback, REST faults, many calls at once.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from callwright.sim import EndReason, Scenario, Utterance
from callwright.sim.audio import tone
from tests.sim.agent_platform import AgentScript

pytestmark = pytest.mark.e2e

# carrier → the final callback's (status field, value) for busy, no_answer and failed.
FINAL_WORDS = {
    "plivo": ("CallStatus", {"busy": "busy", "no_answer": "no-answer", "failed": "failed"}),
    "vobiz": ("CallStatus", {"busy": "busy", "no_answer": "no-answer", "failed": "failed"}),
    "twilio": ("CallStatus", {"busy": "busy", "no_answer": "no-answer", "failed": "failed"}),
    "exotel": ("Status", {"busy": "busy", "no_answer": "no-answer", "failed": "failed"}),
    "mcube": ("dialstatus", {"busy": "Busy", "no_answer": "NoAnswer", "failed": "Executive Busy"}),
}
OUTCOMES = {
    "busy": Scenario.busy(ring_secs=0.1),
    "no_answer": Scenario.no_answer(after_secs=0.3),
    "failed": Scenario.failed("Executive Busy"),
}


async def test_unanswered_outcomes_in_each_carriers_words(dialer, agent_platform):
    cases = [(carrier, outcome) for carrier in FINAL_WORDS for outcome in OUTCOMES]
    prepared = [dialer.prepare(OUTCOMES[outcome], country="+9198766") for _, outcome in cases]
    ids = await asyncio.gather(
        *(
            dialer.place(carrier, number, tag)
            for (carrier, _), (number, tag) in zip(cases, prepared, strict=True)
        )
    )
    calls = await asyncio.gather(*(dialer.sim.wait_for_call_end(i, 5) for i in ids))
    for (carrier, outcome), (_, tag), call in zip(cases, prepared, calls, strict=True):
        field, words = FINAL_WORDS[carrier]
        final = agent_platform.received("status", tag)[-1]
        assert final.params[field] == words[outcome], (carrier, outcome, final.params)
        assert call.answered_at is None and agent_platform.received("answer", tag) == []
        assert call.end_reason is EndReason(outcome)


async def test_failed_call_carries_the_scenarios_cause(dialer, agent_platform):
    call, tag = await dialer.call_to_end("vobiz", Scenario.failed("No route to destination"))
    final = agent_platform.received("status", tag)[-1]
    assert final.params["HangupCauseName"] == "No route to destination"
    assert final.params["HangupCause"] == "NO_ROUTE_DESTINATION"
    assert final.params["CallStatus"] == "failed"
    assert call.ringing_at is None and [cb.kind for cb in call.callbacks] == ["hangup"]


async def test_no_answer_waits_for_the_dials_ring_timeout(dialer, agent_platform):
    call, _tag = await dialer.call_to_end("plivo", Scenario.slow_answer(10.0), ring_timeout=1)
    assert call.end_reason is EndReason.NO_ANSWER
    assert call.now() - call.ringing_at == pytest.approx(1.0, abs=0.3)


async def test_voicemail_greeting_and_beep_with_plivo_machine_detection(dialer, agent_platform):
    scenario = Scenario.voicemail(
        "Leave a message after the tone.", ring_secs=0.05, leading_silence_secs=0.1,
        machine_detection_secs=0.3, hangs_up_after_secs=3.0,
    )  # fmt: skip
    number, tag = dialer.prepare(scenario, AgentScript(tone_secs=0.2, mark=None))
    amd_url = agent_platform.status_url("amd-" + tag)
    extra = {"machine_detection": "true", "machine_detection_url": amd_url}
    call_id = await dialer.place("plivo", number, tag, **extra)
    call = await dialer.sim.wait_for_call_end(call_id, 8)
    (amd,) = agent_platform.received("status", "amd-" + tag)
    verdict = (amd.params["Machine"], amd.params["Event"], amd.params["IfMachine"])
    assert verdict == ("true", "MachineDetection", "continue")
    (answer,) = agent_platform.received("answer", tag)
    assert amd.params["CallUUID"] == answer.params["CallUUID"] and "Machine" not in answer.params
    greeting, beep = call.caller_speech()
    assert greeting.label == "voicemail greeting" and beep.label == "beep"
    assert 0.8 < greeting.ends_at - greeting.starts_at < 4.0
    assert call.machine_result == "true" and call.end_reason is EndReason.CALLEE_HUNG_UP


async def test_a_refused_callback_is_recorded_with_the_platforms_answer(dialer, agent_platform):
    agent_platform.status_code = 403
    call, _tag = await dialer.call_to_end("twilio", Scenario.busy(ring_secs=0.05))
    assert [(cb.kind, cb.status_code) for cb in call.callbacks] == [
        ("status", 403), ("status", 403), ("status", 403)
    ]  # fmt: skip


async def test_rest_faults_refuse_the_dial_and_place_no_call(dialer, agent_platform):
    number, tag = dialer.prepare(Scenario.answer())
    dialer.sim.inject_fault("twilio", status=429)
    refused = await dialer.twilio(number, tag)
    assert refused.status_code == 429
    dialer.sim.inject_fault("plivo", status=503)
    assert (await dialer.plivo_like("plivo", number, tag)).status_code == 503
    assert dialer.sim.calls(to=number) == []


async def test_eighty_simultaneous_calls_all_play_out(dialer, agent_platform):
    speech = Utterance.from_pcm(tone(300, 0.3).tobytes())
    # Each caller hangs up once the agent's mark has come back (its audio played): an event, not
    # a fixed time that 80 calls on a loaded box could outlast.
    scenario = Scenario.answer(speech, ring_secs=0.05, leading_silence_secs=0.2)
    carriers = ["twilio", "plivo", "vobiz", "exotel"] * 20
    prepared = [dialer.prepare(scenario, AgentScript(tone_secs=0.4, mark="m")) for _ in carriers]
    ids = await asyncio.gather(
        *(
            dialer.place(carrier, number, tag)
            for carrier, (number, tag) in zip(carriers, prepared, strict=True)
        )
    )
    assert dialer.sim.live_calls() >= 40

    async def hang_up_once_played(call_id: str, tag: str) -> None:
        deadline = time.monotonic() + 60  # only a hang guard
        while not [s for s in agent_platform.sessions if s.query.get("tag") == tag and (
            s.events("mark") or s.events("playedStream")
        )]:
            assert time.monotonic() < deadline, f"no mark came back on {call_id}"
            await asyncio.sleep(0.05)
        dialer.sim.caller_hangs_up(call_id)

    await asyncio.gather(*(hang_up_once_played(i, tag) for i, (_, tag) in zip(ids, prepared, strict=True)))
    calls = await asyncio.gather(*(dialer.sim.wait_for_call_end(i, 30) for i in ids))
    for carrier, (_, tag), call in zip(carriers, prepared, calls, strict=True):
        assert call.end_reason is EndReason.CALLEE_HUNG_UP, (carrier, call.notes)
        session = agent_platform.session(tag)
        frames = len(session.events("media"))
        # The caller's audio flowed, and never faster than real time. How closely it keeps real
        # time under load is a benchmark figure, not a test: a busy CI box slows the receiver.
        streamed = call.media_ended_at - call.media_started_at
        expected = streamed / (0.2 if carrier == "exotel" else 0.02)
        assert 0 < frames <= expected * 1.1 + 2, (carrier, frames, streamed)
        assert session.events("mark") or session.events("playedStream")
        assert call.first_agent_audio_at is not None and call.notes == []


async def test_a_test_can_make_the_answering_party_hang_up(dialer, agent_platform):
    number, tag = dialer.prepare(Scenario.answer(ring_secs=0.05), AgentScript(tone_secs=0.1))
    await dialer.place("exotel", number, tag)
    call = await dialer.sim.wait_for_call(to=number, timeout=2)
    while call.media_started_at is None:
        await asyncio.sleep(0.02)
    assert dialer.sim.caller_hangs_up(call.call_id)
    await dialer.sim.wait_for_call_end(call.call_id, 3)
    assert call.end_reason is EndReason.CALLEE_HUNG_UP
    assert agent_platform.session(tag).events()[-1]["stop"]["reason"] == "callended"
    assert not dialer.sim.caller_hangs_up(call.call_id)


def test_a_caller_who_takes_turns_must_say_how_long_the_agent_is_quiet_first():
    from pydantic import ValidationError

    from callwright.sim.scenarios import DtmfPress

    with pytest.raises(ValidationError, match="takes_turns needs waits_for_agent_secs"):
        Scenario.answer("Hello", takes_turns=True)
    with pytest.raises(ValidationError, match="not simulated with dtmf"):
        Scenario.answer("Hello", takes_turns=True, waits_for_agent_secs=1.0, dtmf=[DtmfPress(digit="1", at_secs=0.0)])
    assert Scenario.answer("Hello", "Bye", takes_turns=True, waits_for_agent_secs=1.0).takes_turns


def test_a_caller_either_waits_for_the_agent_to_finish_or_barges_in() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="barges_in_after_secs and waits_for_agent_secs both start the script"):
        Scenario.answer("Hello", barges_in_after_secs=1.0, waits_for_agent_secs=1.0)
    assert Scenario.answer("Hello", barges_in_after_secs=1.0).waits_for_agent
    assert not Scenario.answer("Hello").waits_for_agent
