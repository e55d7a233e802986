"""Models are loaded once per process and shared by every call: one Piper voice per voice id, one
Silero session; each call keeps only its own VAD state."""

from __future__ import annotations

import asyncio
import threading
import uuid

import numpy as np
import pytest
from pipecat.audio.vad.silero import SileroVADAnalyzer

from callwright.voice.engines import TTS_ENGINES
from callwright.voice.engines.piper import PiperVoiceCache
from callwright.voice.session import AgentScript
from callwright.voice.speech_cache import rendered_speech
from callwright.voice.vad import SileroBatch, _StreamSileroModel, loop_batch, silero_vad
from tests.voice.conftest import INTRO, VOICE
from tests.voice.media_caller import TWILIO, MediaCaller
from tests.voice.media_server import MediaServer

WINDOW = 256  # Silero's window at 8 kHz, in samples


def windows(pcm: np.ndarray) -> list[bytes]:
    return [pcm[i : i + WINDOW].tobytes() for i in range(0, pcm.size - WINDOW + 1, WINDOW)]


def confidence(analyzer: object, window: bytes) -> float:
    return float(np.asarray(analyzer.voice_confidence(window)).reshape(-1)[0])


def rendered_intro() -> np.ndarray:
    audio = rendered_speech().get(voice_id=VOICE, sample_rate=8000, text=INTRO)
    assert audio is not None
    return np.frombuffer(audio, dtype=np.int16)


@pytest.mark.e2e
async def test_concurrent_calls_share_one_piper_voice_and_one_vad_model(
    media_server: MediaServer,
) -> None:
    engine = TTS_ENGINES["piper"]
    vad = silero_vad()
    analyzers_before = set(map(id, vad.live_analyzers()))
    services_before = set(map(id, engine.live_services()))
    callers = []
    for _ in range(2):
        call_id = uuid.uuid4().hex[:12]
        media_server.expect(call_id, AgentScript(INTRO, VOICE))
        callers.append(MediaCaller(TWILIO, f"{media_server.base_url}/twilio", call_id))

    async with callers[0], callers[1]:
        await asyncio.gather(
            *(c.wait_for_agent_audio(spoken=media_server.intro_spoken(c.call_id)) for c in callers)
        )
        analyzers = [a for a in vad.live_analyzers() if id(a) not in analyzers_before]
        services = [s for s in engine.live_services() if id(s) not in services_before]

        assert len(analyzers) == 2
        assert all(a.model_session is vad.session for a in analyzers)
        assert len(services) == 2
        assert all(s.voice is engine.voices.get(VOICE) for s in services)
    for caller in callers:
        assert (await media_server.outcome(caller.call_id)).intro_spoken

    assert vad.sessions_loaded == 1
    assert engine.voices.loads == 1
    assert engine.voices.loaded_voice_ids() == [VOICE]


def test_a_voice_is_loaded_once_even_when_two_calls_ask_at_the_same_time() -> None:
    cache = PiperVoiceCache()
    voices = []
    threads = [threading.Thread(target=lambda: voices.append(cache.get(VOICE))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.loads == 1
    assert voices[0] is voices[1]


def test_a_call_vad_analyzer_is_a_silero_analyzer_without_its_own_model(
    media_server: MediaServer,
) -> None:
    # If Pipecat's SileroVADAnalyzer grows state, CallVADAnalyzer must set it too; what it adds
    # is for placing the end of the voice.
    ours, pipecats = set(vars(silero_vad().new_analyzer())), set(vars(SileroVADAnalyzer()))
    assert ours - pipecats == {
        "_clock", "_fed_samples", "_fed_at", "_scored_samples", "_window_confidence",
        "_recent_audio", "_voice", "_speech_ended_at", "_batched_confidence",
    }  # fmt: skip
    assert pipecats <= ours


async def test_call_vad_analyzers_hear_speech_and_keep_their_state_apart(
    media_server: MediaServer,
) -> None:
    speech = windows(rendered_intro())
    silence = [bytes(WINDOW * 2)] * len(speech)

    def fresh() -> object:
        analyzer = silero_vad().new_analyzer()
        analyzer.set_sample_rate(8000)
        return analyzer

    alone = fresh()
    expected = [confidence(alone, w) for w in speech]
    assert max(expected) > 0.8

    talker, listener = fresh(), fresh()
    interleaved = []
    for speech_window, silent_window in zip(speech, silence, strict=True):
        interleaved.append(confidence(talker, speech_window))
        assert confidence(listener, silent_window) < 0.1
    assert interleaved == expected


async def test_calls_on_one_loop_are_scored_in_one_run_and_read_as_if_scored_alone(
    media_server: MediaServer,
) -> None:
    # Four calls hear the intro at different offsets on Silero's window grid, frame by frame as a
    # carrier sends them, all handed in together. Pipecat's own analyzer (its own model, one
    # window at a time) is the oracle for every window's confidence.
    frame = 160
    intro = rendered_intro()
    streams = [np.concatenate([np.zeros(lead, np.int16), intro]) for lead in (0, 40, 96, 333)]
    length = min(s.size for s in streams) // frame * frame
    analyzers = [silero_vad().new_analyzer() for _ in streams]
    for analyzer in analyzers:
        analyzer.set_sample_rate(8000)
    heard: list[list[float]] = [[] for _ in streams]
    batch = loop_batch()
    runs, scored = batch.runs, batch.windows

    for start in range(0, length, frame):
        before = [a._scored_samples for a in analyzers]
        await asyncio.gather(
            *(a.analyze_audio(s[start : start + frame].tobytes()) for a, s in zip(analyzers, streams, strict=False))
        )
        for i, analyzer in enumerate(analyzers):
            if analyzer._scored_samples != before[i]:
                heard[i].append(analyzer._window_confidence)

    for stream, confidences in zip(streams, heard, strict=True):
        oracle = SileroVADAnalyzer()
        oracle.set_sample_rate(8000)
        expected = [confidence(oracle, w) for w in windows(stream[:length])]
        assert confidences == pytest.approx(expected, abs=1e-6)
        assert max(confidences) > 0.8
    assert batch.windows - scored == sum(map(len, heard))
    assert batch.runs - runs == len(heard[0])  # the four calls' windows fall due together


async def test_a_busy_loop_lets_a_window_wait_a_moment_to_be_scored_with_others() -> None:
    loop = asyncio.get_running_loop()
    session = silero_vad().session
    batch = SileroBatch(loop)
    quiet = np.zeros(WINDOW, np.float32)

    def hand_in() -> asyncio.Future[float]:
        return batch.score(session, _StreamSileroModel(session), quiet, 8000)

    # Windows one after another, each awaited: each is scored in the next round, alone.
    for _ in range(10):
        await hand_in()
    assert (batch.runs, batch.windows) == (10, 10)

    # One window a round, thousands a second on an idle machine: once the rate is known (a quarter
    # of a second in), a batch waits MAX_WAIT_SECS for the windows that follow. Without the wait
    # each round's window is scored alone (one window a run).
    scored = []
    counted_at = loop.time() + 1.5 * SileroBatch.RATE_EVERY_SECS
    while loop.time() < counted_at:
        scored.append(hand_in())
        await asyncio.sleep(0)
    runs, windows = batch.runs, batch.windows  # at most one batch is still pending
    for _ in range(200):
        scored.append(hand_in())
        await asyncio.sleep(0)
    await asyncio.gather(*scored)
    waits_at = SileroBatch.WAIT_FOR_WINDOWS / SileroBatch.MAX_WAIT_SECS
    if batch.rate < 2 * waits_at:
        # A machine this busy hands in too few windows a second for a wait to gather others:
        # the batch rightly does not wait, and there is nothing to see.
        pytest.skip(f"the loop handed in {batch.rate:.0f} windows/s; a batch waits from {waits_at:.0f}/s")
    # 200 windows and the pending batch: alone, 201 runs or more; waiting, a few.
    assert batch.windows - windows >= 2 * (batch.runs - runs), (batch.rate, batch.runs - runs)
