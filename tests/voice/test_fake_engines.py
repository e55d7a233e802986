"""The fake engines, frame in / frame out: what they push, when, and that they are listed and
selectable only while the operator has turned them on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np
import pytest
from pipecat.frames.frames import (
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from callwright.voice.catalog import find_voice, installed_voices
from callwright.voice.engines import STT_ENGINES, TTS_ENGINES, tts_engine
from callwright.voice.engines.fake import (
    FAKE_VOICE,
    REPLY,
    TRANSCRIPT,
    FakeLatencies,
    FakeLLM,
    FakeSTT,
    FakeTTS,
    disable_fake_engines,
    enable_fake_engines,
    speech_bytes,
)
from callwright.voice.engines.llm import LLM_ENGINES, LlmChoice, LlmDefaults, llm_engine_for

RATE = 8000
GUARD_SECS = 20.0


class Stamp(FrameProcessor):
    """Notes when each frame passed, to time what the fake in front of it pushed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float, Frame]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.seen.append((time.monotonic(), frame))
        await self.push_frame(frame, direction)


async def run(processor: FrameProcessor, frames: list[Frame]) -> list[Frame]:
    down, _ = await asyncio.wait_for(
        run_test(
            processor,
            frames_to_send=frames,
            pipeline_params=PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=RATE),
        ),
        GUARD_SECS,
    )
    return list(down)


def of(kind: type[Frame], frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if isinstance(f, kind)]


def user_context() -> LLMContext:
    return LLMContext(
        [{"role": "assistant", "content": "Hi."}, {"role": "user", "content": "Hello?"}]
    )


# --- STT -------------------------------------------------------------------------------------


async def test_fake_stt_pushes_one_final_transcript_per_turn_after_its_latency() -> None:
    stt = FakeSTT(latency_ms=150)
    stopped_at: list[float] = []
    stt.add_event_handler(
        "on_before_push_frame",
        lambda _p, f: stopped_at.append(time.monotonic())
        if isinstance(f, VADUserStoppedSpeakingFrame)
        else None,
    )
    arrived: list[float] = []
    stt.add_event_handler(
        "on_before_push_frame",
        lambda _p, f: arrived.append(time.monotonic())
        if isinstance(f, TranscriptionFrame)
        else None,
    )
    down = await run(
        stt,
        [VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(), SleepFrame(0.4)],
    )
    transcripts = of(TranscriptionFrame, down)
    assert [t.text for t in transcripts] == [TRANSCRIPT]
    assert transcripts[0].finalized and transcripts[0].timestamp
    assert arrived[0] - stopped_at[0] >= 0.14


async def test_fake_stt_withdraws_the_transcript_when_the_caller_goes_on_speaking() -> None:
    down = await run(
        FakeSTT(latency_ms=300),
        [
            VADUserStartedSpeakingFrame(),
            VADUserStoppedSpeakingFrame(),
            SleepFrame(0.05),
            VADUserStartedSpeakingFrame(),
            SleepFrame(0.4),
            VADUserStoppedSpeakingFrame(),
            SleepFrame(0.5),
        ],
    )
    assert len(of(TranscriptionFrame, down)) == 1  # one turn, once it really ended


# --- LLM -------------------------------------------------------------------------------------


async def test_fake_llm_streams_its_reply_as_a_full_response() -> None:
    llm = FakeLLM()
    down = await run(llm, [LLMContextFrame(user_context())])
    kinds = [
        type(f)
        for f in down
        if isinstance(f, (LLMFullResponseStartFrame, LLMTextFrame, LLMFullResponseEndFrame))
    ]
    assert kinds[0] is LLMFullResponseStartFrame and kinds[-1] is LLMFullResponseEndFrame
    texts = of(LLMTextFrame, down)
    assert len(texts) > 1  # streamed, not one blob
    assert "".join(t.text for t in texts) == REPLY
    assert llm.replies == 1


async def test_fake_llm_says_nothing_before_anyone_spoke() -> None:
    down = await run(FakeLLM(), [LLMContextFrame(LLMContext([]))])
    assert not of(LLMTextFrame, down)
    assert of(LLMFullResponseEndFrame, down)


async def test_fake_llm_first_token_waits_its_latency_and_an_interruption_drops_the_reply() -> None:
    llm = FakeLLM(latency_ms=200)
    stamp = Stamp()
    started = time.monotonic()
    from pipecat.pipeline.pipeline import Pipeline

    down = await run(Pipeline([llm, stamp]), [LLMContextFrame(user_context()), SleepFrame(0.4)])
    first = next(at for at, f in stamp.seen if isinstance(f, LLMTextFrame))
    assert first - started >= 0.19
    assert of(LLMTextFrame, down)

    interrupted = await run(
        FakeLLM(latency_ms=300),
        [LLMContextFrame(user_context()), SleepFrame(0.05), InterruptionFrame(), SleepFrame(0.5)],
    )
    assert not of(LLMTextFrame, interrupted)


# --- TTS -------------------------------------------------------------------------------------


async def test_fake_tts_speaks_a_tone_as_long_as_the_text_after_its_latency() -> None:
    tts = FakeTTS(latency_ms=100)
    stamp = Stamp()
    from pipecat.pipeline.pipeline import Pipeline

    text = "Hello, this is a test call."
    started = time.monotonic()
    down = await run(Pipeline([tts, stamp]), [TTSSpeakFrame(text), SleepFrame(0.3)])
    audio = of(TTSAudioRawFrame, down)
    assert of(TTSStartedFrame, down) and of(TTSStoppedFrame, down)
    assert down.index(of(TTSStartedFrame, down)[0]) < down.index(audio[0])
    assert down.index(audio[-1]) < down.index(of(TTSStoppedFrame, down)[0])
    pcm = b"".join(f.audio for f in audio)
    assert len(pcm) == speech_bytes(text, RATE)
    assert 1.5 < len(pcm) / 2 / RATE < 2.3  # ~15 characters a second
    assert all(f.sample_rate == RATE for f in audio)
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    assert np.sqrt((samples**2).mean()) > 3000  # loud enough to count as speech
    first = next(at for at, f in stamp.seen if isinstance(f, TTSAudioRawFrame))
    assert first - started >= 0.09
    assert tts.spoken == [text]


# --- the registries --------------------------------------------------------------------------


@pytest.fixture
def fake_engines() -> Iterator[None]:
    enable_fake_engines(FakeLatencies(stt_ms=1, llm_ms=2, tts_ms=3))
    try:
        yield
    finally:
        disable_fake_engines()


def test_fake_engines_are_absent_until_the_operator_turns_them_on() -> None:
    assert find_voice(FAKE_VOICE.voice_id) is None
    assert "fake" not in STT_ENGINES and "fake" not in TTS_ENGINES and "fake" not in LLM_ENGINES


async def test_enabled_fake_engines_are_chosen_by_name(fake_engines: None) -> None:
    assert FAKE_VOICE in installed_voices()
    assert installed_voices()[0] != FAKE_VOICE  # never the default voice
    tts = await tts_engine("fake-tone").create_tts("fake-tone")
    stt = await STT_ENGINES["fake"].create_stt()
    llm = llm_engine_for(LlmChoice(provider="fake"), LlmDefaults())
    assert isinstance(tts, FakeTTS) and tts.latency_secs == 0.003
    assert isinstance(stt, FakeSTT) and stt.latency_secs == 0.001
    assert isinstance(llm, FakeLLM) and llm.latency_secs == 0.002
