"""A conversation through the simulator: the caller speaks, Whisper hears it, the agent's script
answers, and the call record keeps the transcript with each reply's latency. And barge-in: the
caller talking over the agent stops it and clears the carrier's queued audio."""

from __future__ import annotations

import pytest

from callwright.sim import Scenario
from tests.e2e.helpers import (
    after_the_intro,
    finished_call,
    hang_up_after_the_reply,
    heard_speech_secs,
    make_tenant,
    new_number,
    start_call,
)
from tests.voice.test_whisper_stt import word_error_rate

pytestmark = pytest.mark.e2e

SPOKEN = "I would like to book an appointment for tomorrow morning"
REPLY = "Sure, I have booked you for nine tomorrow morning."
SCRIPT = {"replies": [{"text": REPLY}]}


async def test_the_caller_is_heard_and_answered_with_latency_on_the_record(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], script=SCRIPT, prompt="You book appointments.")
    number = new_number()
    # The caller lets the intro ("Hello Asha, this is a quick test call from Callwright.") finish,
    # and hangs up once it has heard the reply (events, not fixed times a loaded box could beat).
    carrier_sim.set_scenario(number, after_the_intro(SPOKEN))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await hang_up_after_the_reply(carrier_sim, sim_call)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await finished_call(api, tenant, call_id)

    turns = call["transcript"]
    assert [t["role"] for t in turns] == ["bot", "user", "bot"], turns
    intro, heard, reply = turns
    assert intro["content"] == "Hello Asha, this is a quick test call from Callwright."
    assert intro["latency_ms"] is None
    assert "interrupted" not in intro
    assert heard["latency_ms"] is None
    assert word_error_rate(SPOKEN, heard["content"]) <= 0.3, heard["content"]
    assert reply["content"] == REPLY
    assert reply["latency_ms"] > 0
    for turn in turns:
        assert turn["timestamp"].endswith("Z"), turn
    assert intro["timestamp"] <= heard["timestamp"] <= reply["timestamp"]
    latency = call["latency"]
    assert latency["min_ms"] == latency["max_ms"] == latency["avg_ms"] == reply["latency_ms"]
    print(f"\nturn latency (VAD stop → first reply audio): {reply['latency_ms']} ms")
    # The caller heard the reply after speaking.
    spoken_until = sim_call.caller_speech()[-1].ends_at
    assert heard_speech_secs(sim_call, after=spoken_until) >= 1.0


async def test_a_reply_cut_short_by_the_callers_hang_up_is_on_the_transcript_as_interrupted(api, carrier_sim):
    # Pipecat logs a reply's sentence only once all its audio has gone out; the caller hangs up
    # at the first audible frame of a reply of several seconds.
    long_reply = (
        "Sure, I have booked you for nine tomorrow morning at our Pune branch on the main road. "
        "You will get a message with the address and the doctor's name."
    )
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], script={"replies": [{"text": long_reply}]})
    number = new_number()
    carrier_sim.set_scenario(number, after_the_intro(SPOKEN))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await hang_up_after_the_reply(carrier_sim, sim_call, quiet_secs=0.0)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await finished_call(api, tenant, call_id)

    turns = call["transcript"]
    assert [t["role"] for t in turns] == ["bot", "user", "bot"], turns
    reply = turns[2]
    assert reply["content"] == long_reply, reply
    spoken_until = sim_call.caller_speech()[-1].ends_at
    heard = heard_speech_secs(sim_call, after=spoken_until)
    assert reply.get("interrupted") is True, (reply, heard)
    # The caller heard only a part of it: the reply is about 9 s long; the hang-up comes at its
    # first audible frame (a loop stalled by a loaded box acts on it a second or two late).
    assert heard < 7.0, heard


async def test_the_script_ends_the_call_after_its_reply_is_heard(api, carrier_sim):
    script = {"replies": [{"text": "Thank you, goodbye.", "end_call": True}]}
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], script=script)
    number = new_number()
    carrier_sim.set_scenario(number, after_the_intro("That is all for today"))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await finished_call(api, tenant, call_id)

    assert call["status"] == "completed", call
    assert call["end_reason"] == "ended by agent", call
    assert [t["role"] for t in call["transcript"]] == ["bot", "user", "bot"], call["transcript"]
    spoken_until = sim_call.caller_speech()[-1].ends_at
    assert heard_speech_secs(sim_call, after=spoken_until) >= 0.5  # "Thank you, goodbye." was heard


async def test_caller_speech_over_the_intro_stops_it_and_clears_the_carrier(api, carrier_sim):
    long_intro = (
        "Hello {{name}}, this is Callwright calling about your appointment next week. "
        "I have a few details to go through with you, so please bear with me for a minute."
    )
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], intro_message=long_intro, script=SCRIPT)
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(8.0, "Sorry, who is this?", leading_silence_secs=1.5))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await finished_call(api, tenant, call_id)

    assert call["transcript"][0]["interrupted"] is True, call["transcript"]
    assert sim_call.clears, "no clear message reached the carrier"
    clear = sim_call.clears[0]
    onset = sim_call.caller_speech()[0].starts_at
    print(f"\nbarge-in: speech onset → clear {clear.after_onset_secs * 1000:.0f} ms, dropped {clear.dropped_secs:.2f} s")
    # Soon after the onset (a fraction of a second, idle); the bound leaves a busy machine room.
    assert clear.after_onset_secs is not None and 0 < clear.after_onset_secs < 5.0
    assert onset < clear.at
    # The intro stopped: nothing of it was heard between the clear and the end of the caller's line.
    caller_ends = sim_call.caller_speech()[0].ends_at
    assert heard_speech_secs(sim_call, after=clear.at + 0.1, until=caller_ends) <= 0.1
