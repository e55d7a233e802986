"""A call's media over a real WebSocket, per carrier: the agent greets, and the stream ends when the
caller hangs up, when the carrier says stop, when the platform ends it, or at the duration cap."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import numpy as np
import pytest
from websockets.sync.client import connect as connect_sync

from callwright.voice.call_rules import CallRules
from callwright.voice.session import AgentScript, CallMediaSession
from callwright.voice.speech_cache import rendered_speech
from tests.voice.conftest import INTRO, VOICE
from tests.voice.media_caller import EXOTEL, PLIVO, TWILIO, WIRES, CarrierWire, MediaCaller
from tests.voice.media_server import MediaServer

pytestmark = pytest.mark.e2e


def new_call(server: MediaServer, wire: CarrierWire, script: AgentScript) -> MediaCaller:
    call_id = uuid.uuid4().hex[:12]
    server.expect(call_id, script)
    return MediaCaller(wire, f"{server.base_url}/{wire.name}", call_id)


def audible(pcm: np.ndarray) -> bool:
    return pcm.size > 0 and float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > 300


@pytest.mark.parametrize("wire", [TWILIO, PLIVO, EXOTEL], ids=lambda w: w.name)
async def test_agent_speaks_the_intro_and_the_call_ends_when_the_caller_hangs_up(
    media_server: MediaServer, wire: CarrierWire
) -> None:
    async with new_call(media_server, wire, AgentScript(INTRO, VOICE)) as caller:
        await caller.wait_for_agent_audio(spoken=media_server.intro_spoken(caller.call_id))
        record = await media_server.call(caller.call_id)
        assert not record.outcome.done()
        hung_up_at = await caller.hang_up()
    outcome = await media_server.outcome(caller.call_id)

    messages = [m.message for m in caller.audio_messages]
    assert {m.message["event"] for m in caller.received} == {wire.agent_media_event}
    if wire is PLIVO:
        assert all(m["streamId"] == f"MZ{caller.call_id}" for m in messages)
        assert all(m["media"]["contentType"] == "audio/x-mulaw" for m in messages)
        assert all(m["media"]["sampleRate"] == 8000 for m in messages)
    elif wire is TWILIO:
        assert all(m["streamSid"] == f"MZ{caller.call_id}" for m in messages)
    else:
        assert all(m["stream_sid"] == f"MZ{caller.call_id}" for m in messages)

    pcm = caller.agent_pcm()
    assert audible(pcm)
    assert 0.8 <= pcm.size / 8000 <= 6.0  # "Hello, this is Joe from Acme." is ~1.8 s

    assert outcome.end_reason == "caller_hung_up"
    assert outcome.intro_spoken
    assert outcome.first_agent_audio_at is not None
    assert outcome.started_at <= outcome.first_agent_audio_at <= outcome.ended_at
    assert record.first_audio_callback == [outcome.first_agent_audio_at]
    # The session ended on the hang-up (its reason says so), not on some timer of its own.
    assert record.run_returned_at is not None and hung_up_at <= record.run_returned_at


async def test_mulaw_carriers_get_20_ms_media_messages(media_server: MediaServer) -> None:
    async with new_call(media_server, TWILIO, AgentScript(INTRO, VOICE)) as caller:
        await caller.wait_for_agent_audio(spoken=media_server.intro_spoken(caller.call_id))
    await media_server.outcome(caller.call_id)
    assert {len(m.payload or b"") for m in caller.audio_messages} == {160}


async def test_exotel_gets_audio_in_packets_of_at_least_3200_bytes_in_steps_of_320(
    media_server: MediaServer,
) -> None:
    async with new_call(media_server, EXOTEL, AgentScript(INTRO, VOICE)) as caller:
        await caller.wait_for_agent_audio(spoken=media_server.intro_spoken(caller.call_id))
    await media_server.outcome(caller.call_id)
    sizes = [len(m.payload or b"") for m in caller.audio_messages]
    assert sizes and all(size >= 3200 and size % 320 == 0 for size in sizes)


@pytest.mark.parametrize("wire", [TWILIO, EXOTEL], ids=lambda w: w.name)
async def test_carrier_stop_message_ends_the_call(
    media_server: MediaServer, wire: CarrierWire
) -> None:
    async with new_call(media_server, wire, AgentScript(INTRO, VOICE)) as caller:
        await caller.wait_for_agent_audio(spoken=media_server.intro_spoken(caller.call_id))
        stop_sent_at = time.monotonic()
        await caller.send_stop()
        outcome = await media_server.outcome(caller.call_id)
        closed_at = await caller.wait_closed_by_agent()
    assert outcome.end_reason == "caller_hung_up"
    assert outcome.intro_spoken
    assert stop_sent_at <= closed_at  # the agent closed on the stop (nothing else would end it)


async def test_platform_end_stops_speaking_and_closes_the_carrier_socket(
    media_server: MediaServer,
) -> None:
    # Not in the speech cache, several sentences: still speaking when the platform ends it.
    long_intro = (
        "Hi, this is Joe from Acme Dental calling about your appointment. "
        "We have you down for Tuesday morning. Please stay on the line for a moment."
    )
    async with new_call(media_server, TWILIO, AgentScript(long_intro, VOICE)) as caller:
        record = await media_server.call(caller.call_id)
        while caller.first_audible_at() is None:
            await asyncio.sleep(0.01)
        ended_at = time.monotonic()
        await asyncio.wait_for(record.session.end(), 60)  # returns once the session wound down
        closed_at = await caller.wait_closed_by_agent()
    outcome = await media_server.outcome(caller.call_id)
    assert outcome.end_reason == "ended_by_platform"
    assert not outcome.intro_spoken
    assert ended_at <= closed_at
    # Cut short: not the whole ~9 s intro (audio goes out in real time; seconds of slack for a
    # slow machine between the first sound and the end).
    assert caller.agent_pcm().size / 8000 < 6.0


@pytest.mark.parametrize("intro", [None, "", "   "], ids=["none", "empty", "blank"])
async def test_without_an_intro_the_agent_stays_silent_and_the_call_still_ends_cleanly(
    media_server: MediaServer, intro: str | None
) -> None:
    async with new_call(media_server, PLIVO, AgentScript(intro, VOICE)) as caller:
        await media_server.call(caller.call_id)
        await asyncio.sleep(0.5)
        hung_up_at = await caller.hang_up()
    outcome = await media_server.outcome(caller.call_id)
    record = await media_server.call(caller.call_id)
    assert caller.received == []
    assert outcome.end_reason == "caller_hung_up"
    assert outcome.first_agent_audio_at is None
    assert not outcome.intro_spoken
    assert record.first_audio_callback == []
    assert record.run_returned_at is not None and hung_up_at <= record.run_returned_at


async def test_max_call_duration_warns_then_says_the_closing_line_and_hangs_up(
    media_server: MediaServer,
) -> None:
    # A 4 s cap with the warning 2.5 s before it: the warning is queued at 1.5 s (after the
    # ~1.8 s intro), the closing line at 4 s, then the stream closes.
    rules = CallRules(warning_before_secs=2.5, silence_timeout_secs=0)
    script = AgentScript(
        INTRO, VOICE, max_call_duration_secs=4, end_call_message="Sorry, we are out of time.", rules=rules
    )
    async with new_call(media_server, TWILIO, script) as caller:
        closed_at = await caller.wait_closed_by_agent(timeout=60)
    outcome = await media_server.outcome(caller.call_id)
    assert outcome.end_reason == "max_duration"
    lines = [t["content"] for t in outcome.transcript]
    assert lines == [INTRO, rules.duration_warning_message, "Sorry, we are out of time."]
    # The closing line was heard after the cap (the session's clock starts after the start
    # message was sent), and the call ended after it.
    heard_after_cap = [m for m in caller.audio_messages if m.at - caller.start_sent_at > 4.0]
    assert audible(caller.pcm_of(heard_after_cap))
    assert 4.0 < closed_at - caller.start_sent_at


async def test_a_silent_caller_is_asked_once_then_the_call_ends(media_server: MediaServer) -> None:
    rules = CallRules(silence_timeout_secs=1.5)
    async with new_call(media_server, TWILIO, AgentScript(INTRO, VOICE, rules=rules)) as caller:
        closed_at = await caller.wait_closed_by_agent(timeout=60)
    outcome = await media_server.outcome(caller.call_id)
    assert outcome.end_reason == "silence_timeout"
    lines = [t["content"] for t in outcome.transcript]
    assert lines == [INTRO, rules.silence_prompt, rules.closing_line]
    # Intro (~1.8 s) + 1.5 s quiet + the check-in + 1.5 s quiet + the closing line: at least.
    assert 5.0 < closed_at - caller.start_sent_at


async def test_a_voice_that_is_not_installed_ends_the_call_with_an_error(
    media_server: MediaServer, voice_logs
) -> None:
    voice_logs.allowed.add("'piper-nobody' is not installed")
    async with new_call(media_server, WIRES["twilio"], AgentScript(INTRO, "piper-nobody")) as caller:
        await caller.wait_closed_by_agent()
    outcome = await media_server.outcome(caller.call_id)
    assert outcome.end_reason == "error"
    assert outcome.description == "error: The voice 'piper-nobody' is not installed on this node."
    assert caller.received == []


async def test_an_uncached_intro_is_spoken_then_replayed_from_the_speech_cache(
    media_server: MediaServer,
) -> None:
    cache = rendered_speech()
    intro = next(  # a line this process has not rendered yet
        line
        for line in (f"Hi, Joe here, ref {n}." for n in range(100))
        if cache.get(voice_id=VOICE, sample_rate=8000, text=line) is None
    )

    async with new_call(media_server, TWILIO, AgentScript(intro, VOICE)) as first:
        await first.wait_for_agent_audio(spoken=media_server.intro_spoken(first.call_id))
    assert (await media_server.outcome(first.call_id)).intro_spoken
    hits = cache.hits
    async with new_call(media_server, TWILIO, AgentScript(intro, VOICE)) as second:
        await second.wait_for_agent_audio(spoken=media_server.intro_spoken(second.call_id))
    assert (await media_server.outcome(second.call_id)).intro_spoken

    assert cache.hits == hits + 1
    assert audible(first.agent_pcm())
    # Piper's sampling noise makes every render different: equal audio means a replay.
    assert np.array_equal(first.agent_pcm(), second.agent_pcm())


async def test_the_first_audio_callback_may_end_the_call(media_server: MediaServer) -> None:
    async def end_call(session: CallMediaSession) -> None:
        await session.end("ended_by_platform")

    caller = new_call(media_server, TWILIO, AgentScript(INTRO, VOICE))
    media_server.on_first_audio[caller.call_id] = end_call
    async with caller:
        await caller.wait_closed_by_agent()
    outcome = await media_server.outcome(caller.call_id)
    assert outcome.end_reason == "ended_by_platform"
    assert outcome.first_agent_audio_at is not None


async def test_hanging_up_mid_greeting_is_an_ordinary_end(media_server: MediaServer) -> None:
    """The carrier may close while agent audio is on its way out; that is a hang-up, not an error
    (the autouse guard fails the test on any warning)."""
    # Long enough (~7 s, sent in real time) that the agent is still speaking when the caller has
    # read its first message, however late a busy loop lets the caller read it.
    intro = (
        "Hi, this is Joe from Acme Dental. I am calling about your appointment on Tuesday "
        "morning, and I would like to check that the time still suits you."
    )
    calls = [
        new_call(media_server, WIRES[name], AgentScript(intro, VOICE)) for name in [*WIRES, *WIRES]
    ]

    async def hang_up_while_speaking(caller: MediaCaller) -> None:
        async with caller:
            while not caller.audio_messages:
                await asyncio.sleep(0.005)

    await asyncio.gather(*(hang_up_while_speaking(c) for c in calls))
    for caller in calls:
        outcome = await media_server.outcome(caller.call_id)
        assert outcome.end_reason == "caller_hung_up"
        assert not outcome.intro_spoken






def flooding_caller(wire: CarrierWire, url: str, call_id: str, *, backlog_secs: int, timeout: float) -> float | None:
    """A carrier whose stream backed up: after the start, ``backlog_secs`` of the caller's silence
    at once, a second to a media message, from a thread of its own (as from another host, not
    paced by the server's loop). How long after the start the agent's first audible audio came."""
    with connect_sync(url, max_size=None, compression=None) as ws:
        for message in wire.opening(call_id):
            ws.send(json.dumps(message))
        started = time.monotonic()
        second = wire.inbound_frame * round(1 / wire.inbound_interval_secs)
        for n in range(backlog_secs):
            ws.send(json.dumps(wire.media(call_id, n, second)))
        while (left := started + timeout - time.monotonic()) > 0:
            try:
                payload = wire.agent_audio(json.loads(ws.recv(timeout=left)))
            except TimeoutError:
                break
            if payload and np.abs(wire.to_pcm16(payload).astype(np.int32)).max() > 200:
                return time.monotonic() - started
    return None


async def test_the_intro_does_not_wait_behind_the_callers_audio(media_server: MediaServer) -> None:
    # A processor's queue hands out the caller's audio (system frames) before any other frame. An
    # intro queued at the pipeline's source waited in the VAD processor's queue for as long as
    # audio kept it from running dry: in a worker at 60 calls, up to 2.4 s, until the caller,
    # hearing nothing, spoke first. Here six minutes of the caller's audio arrive at once, which
    # take the VAD several seconds to get through (three minutes: 3.1 s, on an idle 2-core box);
    # the intro comes in a fraction of a second. The bound leaves a loaded machine several times
    # that, and is still well under the wait behind the audio, which a loaded machine lengthens.
    call_id = uuid.uuid4().hex[:12]
    media_server.expect(call_id, AgentScript(INTRO, VOICE))
    url = f"{media_server.base_url}/{TWILIO.name}"
    first_audio = await asyncio.to_thread(flooding_caller, TWILIO, url, call_id, backlog_secs=360, timeout=30)
    outcome = await media_server.outcome(call_id)
    assert first_audio is not None and first_audio < 2.0, first_audio
    assert outcome.first_agent_audio_at is not None
    assert not outcome.intro_spoken  # the caller hung up on its first sound
