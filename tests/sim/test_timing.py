"""The media timing the simulator reports for benchmarks: reply delays and frame gaps."""

from __future__ import annotations

import asyncio
import base64
import itertools
import time

import numpy as np
import pytest

from callwright.sim import Scenario, Utterance
from callwright.sim.audio import MULAW_8K, rms, tone
from callwright.sim.farend.stream import WAKE_SLACK_SECS
from callwright.sim.scenarios import DtmfPress
from callwright.sim.timing import audio_spans, call_timing, frame_gaps, reply_delays
from tests.sim.agent_platform import AgentScript


def test_each_reply_is_timed_from_the_end_of_the_speech_it_answers() -> None:
    speech_ends = [1.0, 5.0, 9.0]
    audible = [0.2, 0.3, 1.5, 1.52, 5.08, 5.1]  # greeting, reply 1, reply 2; none to the third
    assert reply_delays(speech_ends, audible) == [pytest.approx(0.5), pytest.approx(0.08), None]


def test_a_reply_that_comes_only_after_the_next_speech_ended_counts_as_missing() -> None:
    assert reply_delays([1.0, 2.0], [2.5]) == [None, pytest.approx(0.5)]


def test_gaps_over_the_callers_speech_or_a_clear_are_left_out() -> None:
    arrivals = [0.00, 0.02, 0.04, 0.10, 3.00, 3.02, 3.04, 4.00]
    quiet = [(1.0, 2.0), (3.5, 3.5)]  # the caller spoke 1-2 s; a clear at 3.5 s
    gaps = frame_gaps(arrivals, quiet)
    assert gaps == [pytest.approx(g) for g in (0.02, 0.02, 0.06, 0.02, 0.02)]


def test_the_agents_audio_is_cut_into_stretches_at_each_late_message() -> None:
    arrivals = [0.00, 0.02, 0.04, 0.10, 0.12, 3.00]
    assert audio_spans(arrivals, late_after=0.04) == [(0.00, 0.04), (0.10, 0.12), (3.00, 3.00)]
    assert audio_spans([], late_after=0.04) == []


async def test_a_twilio_call_reports_when_speech_ended_and_the_agent_audio_came(
    dialer, agent_platform
):
    # 0.405 s of tone after 0.3 s of quiet ends 5 ms into its last 20 ms frame.
    speech = Utterance.from_pcm(tone(350, 0.405).tobytes())
    scenario = Scenario.caller_hangs_up_after(1.5, speech, ring_secs=0.05, leading_silence_secs=0.3)
    call, _ = await dialer.call_to_end("twilio", scenario, AgentScript(tone_secs=0.5, mark=None))

    timing = call_timing(call)
    (spoken,) = call.caller_speech()
    (sent,) = timing["caller_speech_sent_at"]
    (late,) = timing["caller_speech_late_secs"]
    # The speech ends inside a 20 ms frame, which goes out once it is all said: never before
    # (but for the wake-up slack), and late by however long the loop took to wake (unbounded on
    # a loaded machine, so only a hang is refused). Less that lateness, the sent time is the end
    # of the speech to the sample: a frame's send time, or its start, would be 15 or 5 ms off.
    assert late >= -WAKE_SLACK_SECS
    assert late < 30
    assert sent - late == pytest.approx(spoken.ends_at, abs=1e-6)
    assert sent - late - call.caller_started_at == pytest.approx(0.3 + 0.405, abs=1e-6)

    arrivals = [at for at, _ in call.agent_audio_arrivals]
    audible = [at for at, loud in call.agent_audio_arrivals if loud]
    assert timing["audio_messages"] == len(arrivals) == 25  # 0.5 s of tone in 20 ms messages
    assert call.media_started_at is not None
    assert timing["greeting_secs"] == pytest.approx(audible[0] - call.media_started_at)
    assert timing["greeting_secs"] >= 0
    # The agent never answers: its only audio is the greeting, sent at once on the stream's
    # start. Replies are timed from the sent time; the greeting counts as one only when the
    # loop was so slow that it came after the speech went out.
    after = [at for at in audible if at > sent]
    assert timing["reply_secs"] == ([pytest.approx(after[0] - sent)] if after else [None])
    assert timing["barge_in_secs"] == []  # nor was it talked over
    # One gap between each two messages, but for any that spans the caller's speech.
    over_speech = sum(
        1 for a, b in itertools.pairwise(arrivals) if a < spoken.ends_at and b > spoken.starts_at
    )
    assert len(timing["frame_gaps_secs"]) == 24 - over_speech

async def _hang_up_once_the_caller_spoke(dialer, number: str, tag: str):  # type: ignore[no-untyped-def]
    """Dial ``number`` on Twilio, hang its caller up once its speech has gone out, and return
    the ended call."""
    call_id = await dialer.place("twilio", number, tag)
    call = await dialer.sim.wait_for_call(to=number, carrier="twilio", timeout=20)
    deadline = time.monotonic() + 30
    while not call.caller_speech_sent_at and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert call.caller_speech_sent_at, call.summary()
    dialer.sim.caller_hangs_up(call_id)
    await dialer.sim.wait_for_call_end(call_id, 20)
    return call


async def test_a_caller_who_waits_for_the_agent_speaks_once_the_agent_went_quiet(dialer, agent_platform):
    # The agent's 1.2 s greeting plays from the stream's start; the caller keeps its script
    # (0.1 s of quiet, 0.2 s of tone, and a key press) until 0.5 s after the greeting ended.
    speech = Utterance.from_pcm(tone(350, 0.2).tobytes())
    scenario = Scenario.answer(
        speech, ring_secs=0.05, leading_silence_secs=0.1, waits_for_agent_secs=0.5, dtmf=[DtmfPress(digit="5", at_secs=0.0)]
    )
    number, tag = dialer.prepare(scenario, AgentScript(tone_secs=1.2, mark=None))
    call = await _hang_up_once_the_caller_spoke(dialer, number, tag)

    greeting_ends = max(chunk.ends_at for chunk in call.playout.heard())
    assert call.agent_heard_until == pytest.approx(greeting_ends)
    assert call.media_started_at is not None and call.caller_started_at is not None
    # The script starts on the caller's frame clock, in the frame where the 0.5 s of quiet ran out.
    assert call.caller_started_at >= greeting_ends + 0.5 - 0.02 - WAKE_SLACK_SECS
    (spoken,) = call.caller_speech()
    assert spoken.starts_at == pytest.approx(call.caller_started_at + 0.1)
    assert call.caller_streamed_from == 0.0

    # What the platform got: quiet frames until the speech, then the tone; the key after the wait.
    session = agent_platform.session(tag)
    t0 = call.t0
    loud = [
        r.at - t0
        for r in session.messages
        if r.message.get("event") == "media" and rms(MULAW_8K.decode(base64.b64decode(r.message["media"]["payload"]))) > 1000
    ]
    assert loud and loud[0] >= spoken.starts_at
    (press,) = [r for r in session.messages if r.message.get("event") == "dtmf"]
    assert press.message["dtmf"]["digit"] == "5"
    assert press.at - t0 >= call.caller_started_at
    # What the agent heard from the caller: the stream's frames back to back from its first, so
    # the tone where it is in the stream.
    caller = call.caller_audio()
    assert call.stream_frames_from is not None
    offset = round((spoken.starts_at - call.stream_frames_from) * 8000)
    assert np.abs(caller[: offset - 80]).max() == 0
    assert rms(caller[offset : offset + 1600]) > 1000


async def test_a_caller_who_barges_in_speaks_over_the_agent_once_it_was_heard_that_long(dialer, agent_platform):
    # The agent's 3 s greeting plays from the stream's start, however late it comes; the caller
    # starts its script (0.1 s of quiet, then 0.2 s of tone) 1 s into hearing it.
    speech = Utterance.from_pcm(tone(350, 0.2).tobytes())
    scenario = Scenario.answer(speech, ring_secs=0.05, leading_silence_secs=0.1, barges_in_after_secs=1.0)
    number, tag = dialer.prepare(scenario, AgentScript(tone_secs=3.0, mark=None))
    call = await _hang_up_once_the_caller_spoke(dialer, number, tag)

    heard_from = call.first_agent_audio_at
    assert heard_from is not None and call.caller_started_at is not None
    # On the caller's frame clock, in the frame where the second of listening ran out: never
    # before it, and after it only by the frame's rounding and the loop's wake-up slack.
    assert heard_from + 1.0 - 0.02 <= call.caller_started_at <= heard_from + 1.0 + 0.02 + WAKE_SLACK_SECS
    (spoken,) = call.caller_speech()
    assert spoken.starts_at == pytest.approx(call.caller_started_at + 0.1)
    # Over the agent: the greeting was still playing when the caller spoke.
    greeting_ends = max(chunk.ends_at for chunk in call.playout.heard())
    assert spoken.starts_at < greeting_ends or call.clears, call.summary()
    session = agent_platform.session(tag)
    loud = [
        r.at - call.t0
        for r in session.messages
        if r.message.get("event") == "media" and rms(MULAW_8K.decode(base64.b64decode(r.message["media"]["payload"]))) > 1000
    ]
    assert loud and loud[0] >= spoken.starts_at
