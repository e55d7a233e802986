"""Offline Piper TTS: each voice loaded once per process, shared by every call that speaks it.

Pipecat's ``PiperTTSService`` loads the model in its constructor (about 0.5 s and 95 MB per
instance) and downloads it from a hub when the file is missing. Here the voice comes from an
installed package (see ``voice.catalog``), is loaded once, and every call's ``PiperTTS`` wraps the
same ``PiperVoice``: its onnxruntime session takes concurrent runs, and Piper serialises its
espeak phonemizer behind a lock of its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Collection, Iterator
from typing import Any

import onnxruntime
from pipecat.audio.utils import create_file_resampler
from pipecat.frames.frames import ErrorFrame, Frame, TTSAudioRawFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from piper import PiperVoice
from piper.config import PiperConfig

from callwright.voice.catalog import PiperModelFiles, piper_model_files
from callwright.voice.engines.errors import VoiceUnavailable
from callwright.voice.engines.tts_work import RenderWork
from callwright.voice.speech_cache import RenderedSpeechCache

# The first run of a fresh onnxruntime session is slower; a load pays it with this line.
_WARM_UP_TEXT = "Hello."

# A clause ends at , ; : or at . ! ? followed by whitespace ("3.5" and "$1,000" don't end one).
_CLAUSE_END = re.compile(r"[,;:.!?](?=\s)")


class PiperVoiceCache:
    """Every installed Piper voice this process speaks, loaded on first use."""

    def __init__(self) -> None:
        self._voices: dict[str, PiperVoice] = {}
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, voice_id: str) -> PiperVoice:
        """The loaded voice. The first call per voice blocks for the load (~0.5 s): use ``load``."""
        voice = self._voices.get(voice_id)
        if voice is not None:
            return voice
        with self._lock:
            voice = self._voices.get(voice_id)
            if voice is None:
                files = piper_model_files(voice_id)
                if files is None:
                    raise VoiceUnavailable(voice_id)
                voice = _load_voice(files)
                for _ in voice.synthesize(_WARM_UP_TEXT):
                    pass
                self._voices[voice_id] = voice
                self.loads += 1
        return voice

    async def load(self, voice_id: str) -> PiperVoice:
        """The loaded voice, loading it on a worker thread if this is its first use."""
        voice = self._voices.get(voice_id)
        if voice is not None:
            return voice
        return await asyncio.to_thread(self.get, voice_id)

    def loaded_voice_ids(self) -> list[str]:
        return list(self._voices)


def _load_voice(files: PiperModelFiles) -> PiperVoice:
    """``PiperVoice.load`` with one change: onnxruntime's worker threads don't spin.

    By default they busy-wait for work, which on a 2-core node starves the event loop and the
    other calls: measured on the 2-core box, an opening clause took 49 ms alone but 283 ms next to
    one busy process; without spinning, 54 ms and 112 ms.
    """
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    config = PiperConfig.from_dict(json.loads(files.config.read_text(encoding="utf-8")))
    return PiperVoice(session=session, config=config)


def speech_pieces(text: str) -> list[str]:
    """The text cut so that its first audio comes out fast: the opening clause, then the rest.

    Piper renders a sentence in one run (roughly 55 ms per second of speech on two cores), so a
    long opening sentence would hold back the greeting; its first clause renders in a fraction
    of that. A full stop after a single word ("Dr.", "Mr.") does not count as a clause end.
    """
    text = text.strip()
    for match in _CLAUSE_END.finditer(text):
        head, rest = text[: match.end()], text[match.end() :].strip()
        if match.group() == "." and len(head.split()) < 2:
            continue
        return [head, rest] if rest else [text]
    return [text]


async def render_pieces(voice: PiperVoice, text: str, sample_rate: int) -> AsyncIterator[bytes]:
    """PCM16 mono at ``sample_rate``: one chunk per clause or sentence, synthesised off the loop."""
    resampler = create_file_resampler(quality="HQ")
    for piece in speech_pieces(text):
        sentences: Iterator[Any] = iter(voice.synthesize(piece))
        while (chunk := await asyncio.to_thread(next, sentences, None)) is not None:
            audio = await resampler.resample(
                chunk.audio_int16_bytes, voice.config.sample_rate, sample_rate
            )
            if audio:
                yield audio


def replay_pieces(audio: bytes, sample_rate: int) -> Iterator[bytes]:
    """Rendered PCM16 in pieces: 200 ms first, then 1 s at a time.

    The output transport cuts each frame it gets into 20 ms messages before sending any of them,
    so one 5 s frame would hold back the first message; small pieces get it out at once.
    """
    first, rest = sample_rate // 5 * 2, sample_rate * 2
    yield audio[:first]
    for start in range(first, len(audio), rest):
        yield audio[start : start + rest]


class PiperTTS(TTSService):
    """Pipecat TTS service speaking a shared, already loaded Piper voice.

    Lines in ``cached_texts`` (an agent's intro) are served from, and stored into,
    ``speech_cache``; everything else is synthesised as it comes.
    """

    def __init__(
        self,
        *,
        voice_id: str,
        voice: PiperVoice,
        speech_cache: RenderedSpeechCache | None = None,
        cached_texts: Collection[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=None, voice=voice_id, language=None),
            **kwargs,
        )
        self.voice_id = voice_id
        self.voice = voice
        self.work = RenderWork()  # says while a line is being rendered (the session's playout wait)
        self._speech_cache = speech_cache
        self._cached_texts = frozenset(t.strip() for t in cached_texts)

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        line = text.strip()
        cache = self._speech_cache if line in self._cached_texts else None
        if cache is not None:
            audio = cache.get(voice_id=self.voice_id, sample_rate=self.sample_rate, text=line)
            if audio is not None:
                for piece in replay_pieces(audio, self.sample_rate):
                    yield TTSAudioRawFrame(piece, self.sample_rate, 1, context_id=context_id)
                return

        rendered = bytearray()
        await self.start_tts_usage_metrics(line)
        try:
            with self.work.rendering():
                async for audio in render_pieces(self.voice, line, self.sample_rate):
                    self.work.progressed()
                    await self.stop_ttfb_metrics()
                    if cache is not None:
                        rendered += audio
                    yield TTSAudioRawFrame(audio, self.sample_rate, 1, context_id=context_id)
        except Exception as exc:  # a Piper failure is the call's problem, not the pipeline's
            yield ErrorFrame(error=f"Piper could not synthesise speech: {exc}")
            return
        finally:
            await self.stop_ttfb_metrics()
        if cache is not None and rendered:
            cache.put(
                voice_id=self.voice_id, sample_rate=self.sample_rate, text=line, audio=bytes(rendered)
            )
