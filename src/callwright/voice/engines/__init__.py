"""Speech engines behind one small interface, looked up by a voice's ``engine`` name.

Today two engines ship: offline Piper TTS and offline Whisper STT. Models load once per process
and are shared by calls.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Sequence
from typing import Protocol

from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from callwright.voice.catalog import find_voice
from callwright.voice.engines.errors import VoiceUnavailable
from callwright.voice.engines.llm import (
    LLM_ENGINES,
    LlmChoice,
    LlmDefaults,
    LlmUnavailable,
    llm_engine_for,
)
from callwright.voice.engines.piper import PiperTTS, PiperVoiceCache, render_pieces
from callwright.voice.engines.whisper import WhisperEngine
from callwright.voice.speech_cache import RenderedSpeechCache, rendered_speech


class TTSEngine(Protocol):
    async def load(self, voice_id: str) -> None:
        """Load the voice's models into this process (once; later calls return at once)."""

    async def create_tts(self, voice_id: str, *, cached_texts: Collection[str] = ()) -> TTSService:
        """A TTS service for one call, speaking the loaded voice."""

    async def prerender(self, voice_id: str, text: str, *, sample_rate: int) -> None:
        """Render a line into the shared speech cache ahead of the calls that will speak it."""


class PiperEngine:
    def __init__(self, speech_cache: RenderedSpeechCache) -> None:
        self.voices = PiperVoiceCache()
        self.speech_cache = speech_cache
        self._services: weakref.WeakSet[PiperTTS] = weakref.WeakSet()

    async def load(self, voice_id: str) -> None:
        await self.voices.load(voice_id)

    async def create_tts(self, voice_id: str, *, cached_texts: Collection[str] = ()) -> PiperTTS:
        voice = await self.voices.load(voice_id)
        tts = PiperTTS(
            voice_id=voice_id,
            voice=voice,
            speech_cache=self.speech_cache,
            cached_texts=cached_texts,
        )
        self._services.add(tts)
        return tts

    def live_services(self) -> list[PiperTTS]:
        """The TTS services of calls still in memory (they all speak the cached voices)."""
        return list(self._services)

    async def prerender(self, voice_id: str, text: str, *, sample_rate: int) -> None:
        line = text.strip()
        if not line or self.speech_cache.get(voice_id=voice_id, sample_rate=sample_rate, text=line) is not None:
            return
        voice = await self.voices.load(voice_id)
        audio = b"".join([chunk async for chunk in render_pieces(voice, line, sample_rate)])
        if audio:
            self.speech_cache.put(voice_id=voice_id, sample_rate=sample_rate, text=line, audio=audio)


TTS_ENGINES: dict[str, TTSEngine] = {"piper": PiperEngine(rendered_speech())}


class STTEngine(Protocol):
    async def load(self) -> None:
        """Load the model into this process (once; later calls return at once)."""

    async def create_stt(self, *, language: str | None = None, vocabulary: Sequence[str] = ()) -> STTService:
        """An STT service for one call, transcribing with the loaded model; ``language`` is the
        agent's (an engine that knows one language ignores it)."""


STT_ENGINES: dict[str, STTEngine] = {"whisper": WhisperEngine()}


def tts_engine(voice_id: str) -> TTSEngine:
    """The engine that speaks ``voice_id``; raises ``VoiceUnavailable`` if no installed one does."""
    voice = find_voice(voice_id)
    engine = TTS_ENGINES.get(voice.engine) if voice else None
    if engine is None:
        raise VoiceUnavailable(voice_id)
    return engine


__all__ = [
    "LLM_ENGINES",
    "STT_ENGINES",
    "TTS_ENGINES",
    "LlmChoice",
    "LlmDefaults",
    "LlmUnavailable",
    "PiperEngine",
    "STTEngine",
    "TTSEngine",
    "VoiceUnavailable",
    "WhisperEngine",
    "llm_engine_for",
    "tts_engine",
]
