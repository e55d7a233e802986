"""Fake STT, LLM and TTS engines with configurable latency, for benchmarks, demos and tests.

They cost no model and no network, so a benchmark measures the platform around them: the fake STT
hears no words (it answers every turn with a fixed transcript), the fake LLM streams a fixed
reply, and the fake TTS speaks a tone as long as the text would take to say. Each answers after
its configured delay, as a real engine's time to first result would:

- STT: final transcript ``stt_ms`` after VAD reports the end of the caller's speech;
- LLM: first token ``llm_ms`` after it gets the context;
- TTS: first audio ``tts_ms`` after it gets the text.

They are listed and selectable only when the operator turns them on
(``CALLWRIGHT_FAKE_ENGINES=1``; see ``enable_fake_engines``): STT and LLM provider ``fake``, voice
``fake-tone``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from pipecat.audio.vad.vad_analyzer import VAD_STOP_SECS
from pipecat.frames.frames import (
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import STTSettings, TTSSettings
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from callwright.voice.catalog import Voice
from callwright.voice.engines.llm_scripted import modelless_settings
from callwright.voice.engines.stt_work import TranscriptWork

FAKE = "fake"
FAKE_VOICE = Voice(
    voice_id="fake-tone",
    name="Fake tone",
    language="en",
    locale="en-US",
    gender="neutral",
    engine=FAKE,
    sample_rate=8000,
    description="A 400 Hz tone as long as the text would take to say (fake engine, benchmarks)",
)
TRANSCRIPT = "I would like to hear more about that."
REPLY = "Sure, here is a short answer."
# A phone voice says about 15 characters a second.
SPEECH_SECS_PER_CHAR = 1 / 15
TONE_HZ = 400  # a whole number of cycles in every 10 ms at 8 or 16 kHz, so pieces join cleanly
TONE_AMPLITUDE = 0.3
FIRST_PIECE_SECS = 0.2  # then PIECE_SECS at a time, as a streaming engine delivers it
PIECE_SECS = 0.5
WORDS_PER_TOKEN = 2


@dataclass(frozen=True, slots=True)
class FakeLatencies:
    """Milliseconds each fake engine takes to its first result."""

    stt_ms: float = 0.0
    llm_ms: float = 0.0
    tts_ms: float = 0.0


class FakeSTT(STTService):
    """Hears no words: ``stt_ms`` after each VAD stop it pushes a final ``TranscriptionFrame`` of
    ``text``. The caller speaking again before then withdraws it (the turn is not over). ``work``
    says while one is on its way, as ``WhisperSTT``'s does."""

    def __init__(self, *, latency_ms: float = 0.0, text: str = TRANSCRIPT, **kwargs: Any) -> None:
        # Pipecat counts this from the end of speech, VAD's stop window included; the transcript
        # comes final, so the user-turn strategy never waits for it beyond our own delay.
        kwargs.setdefault("ttfs_p99_latency", VAD_STOP_SECS + latency_ms / 1000)
        super().__init__(settings=STTSettings(model=FAKE, language=Language.EN), **kwargs)
        self.latency_secs = latency_ms / 1000
        self.text = text
        self._pending: asyncio.Task[None] | None = None
        self.work = TranscriptWork()

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        yield None  # pragma: no cover - process_audio_frame never hands audio over

    async def process_audio_frame(self, frame: Any, direction: FrameDirection) -> None:
        pass  # nothing to transcribe

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            await self._withdraw()
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            await self._withdraw()
            self._pending = self.create_task(self._transcribe(), name="fake_stt_final")

    async def _transcribe(self) -> None:
        with self.work.transcribing():
            if self.latency_secs:
                await asyncio.sleep(self.latency_secs)
            self._pending = None
            frame = TranscriptionFrame(self.text, self._user_id, time_now_iso8601(), Language.EN)
            frame.finalized = True
            await self.push_frame(frame)

    async def _withdraw(self) -> None:
        if self._pending is not None:
            task, self._pending = self._pending, None
            await self.cancel_task(task)

    async def cleanup(self) -> None:
        await self._withdraw()
        await super().cleanup()


class FakeLLM(LLMService):
    """Answers every context that holds a user message with ``reply``, streamed a couple of
    words at a time, the first ``llm_ms`` after the context arrived."""

    def __init__(self, *, latency_ms: float = 0.0, reply: str = REPLY, **kwargs: Any) -> None:
        super().__init__(settings=modelless_settings(FAKE), **kwargs)
        self.latency_secs = latency_ms / 1000
        self.reply = reply
        self.replies = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        await self.push_frame(LLMFullResponseStartFrame())
        if any(_is_user(m) for m in frame.context.get_messages()):
            # An interruption cancels this processing task, sleep included.
            if self.latency_secs:
                await asyncio.sleep(self.latency_secs)
            self.replies += 1
            for token in tokens(self.reply):
                await self._push_llm_text(token)
        await self.push_frame(LLMFullResponseEndFrame())


def _is_user(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") == "user"


def tokens(text: str, words: int = WORDS_PER_TOKEN) -> list[str]:
    """``text`` in pieces of ``words`` words that join back to exactly ``text``."""
    parts = re.findall(r"\S+\s*", text)
    return ["".join(parts[i : i + words]) for i in range(0, len(parts), words)]


@lru_cache(maxsize=4)
def tone(sample_rate: int, secs: float = 1.0) -> bytes:
    """``secs`` of the fake voice's tone as PCM16 mono (computed once per rate)."""
    t = np.arange(int(sample_rate * secs)) / sample_rate
    samples = TONE_AMPLITUDE * 32767 * np.sin(2 * np.pi * TONE_HZ * t)
    return samples.astype("<i2").tobytes()


def speech_bytes(text: str, sample_rate: int) -> int:
    """How many bytes of PCM16 the fake voice takes to say ``text`` (whole 10 ms steps)."""
    step = sample_rate // 100 * 2
    secs = len(text.strip()) * SPEECH_SECS_PER_CHAR
    return max(1, round(secs * 100)) * step


class FakeTTS(TTSService):
    """Speaks a tone as long as the text would take to say, its first audio ``tts_ms`` after
    the text arrived, in pieces a streaming engine would send."""

    def __init__(
        self, *, latency_ms: float = 0.0, voice_id: str = FAKE_VOICE.voice_id, **kwargs: Any
    ):
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=FAKE, voice=voice_id, language=None),
            **kwargs,
        )
        self.latency_secs = latency_ms / 1000
        self.spoken: list[str] = []

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        line = text.strip()
        if not line:
            return
        if self.latency_secs:
            await asyncio.sleep(self.latency_secs)
        self.spoken.append(line)
        rate = self.sample_rate
        wave = tone(rate)
        remaining = speech_bytes(line, rate)
        piece = int(rate * FIRST_PIECE_SECS) * 2
        while remaining > 0:
            size = min(piece, remaining, len(wave))
            yield TTSAudioRawFrame(wave[:size], rate, 1, context_id=context_id)
            remaining -= size
            piece = int(rate * PIECE_SECS) * 2


# --- the engines, as the registries in voice.engines hold them ----------------------------------


class FakeSTTEngine:
    def __init__(self, latencies: FakeLatencies) -> None:
        self.latencies = latencies

    async def load(self) -> None:
        pass

    async def create_stt(self, *, language: str | None = None, vocabulary: Sequence[str] = ()) -> FakeSTT:
        return FakeSTT(latency_ms=self.latencies.stt_ms, audio_passthrough=False)


class FakeTTSEngine:
    def __init__(self, latencies: FakeLatencies) -> None:
        self.latencies = latencies

    async def load(self, voice_id: str) -> None:
        pass

    async def create_tts(self, voice_id: str, *, cached_texts: Collection[str] = ()) -> FakeTTS:
        return FakeTTS(latency_ms=self.latencies.tts_ms, voice_id=voice_id)

    async def prerender(self, voice_id: str, text: str, *, sample_rate: int) -> None:
        pass  # nothing to gain: the tone costs nothing to make


def enable_fake_engines(latencies: FakeLatencies) -> None:
    """List the fake voice and register the fake engines in this process (operator opt-in)."""
    from callwright.voice.catalog import set_engine_voices
    from callwright.voice.engines import STT_ENGINES, TTS_ENGINES
    from callwright.voice.engines.llm import LLM_ENGINES

    def _fake_llm(**_: Any) -> FakeLLM:
        return FakeLLM(latency_ms=latencies.llm_ms)

    STT_ENGINES[FAKE] = FakeSTTEngine(latencies)
    TTS_ENGINES[FAKE] = FakeTTSEngine(latencies)
    LLM_ENGINES[FAKE] = _fake_llm
    set_engine_voices(FAKE, [FAKE_VOICE])


def disable_fake_engines() -> None:
    from callwright.voice.catalog import set_engine_voices
    from callwright.voice.engines import STT_ENGINES, TTS_ENGINES
    from callwright.voice.engines.llm import LLM_ENGINES

    for registry in (STT_ENGINES, TTS_ENGINES, LLM_ENGINES):
        registry.pop(FAKE, None)
    set_engine_voices(FAKE, [])
