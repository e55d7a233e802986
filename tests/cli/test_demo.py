"""``callwright demo`` runs one whole call offline and leaves a two-sided WAV of it."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from callwright.cli.demo import CALLER_LINES, run_demo
from tests.voice.test_whisper_stt import word_error_rate

pytestmark = pytest.mark.e2e


def test_the_demo_call_prints_a_live_transcript_with_latency_and_saves_both_sides(tmp_path: Path) -> None:
    lines: list[str] = []
    wav_path = run_demo(tmp_path, echo=lines.append)

    caller = [line.removeprefix("caller: ") for line in lines if line.startswith("caller: ")]
    agent = [line for line in lines if line.startswith("agent : ")]
    assert len(caller) == 2, "\n".join(lines)
    for said, heard in zip(CALLER_LINES, caller, strict=True):
        assert word_error_rate(said, heard) <= 0.3, (said, heard)
    assert len(agent) == 3, "\n".join(lines)  # the intro and one reply per sentence
    assert all(line.rstrip().endswith(" ms]") for line in agent[1:]), agent
    assert any(line.strip().startswith("call completed (ended by agent)") for line in lines), lines
    assert any("reply latency" in line and "stt_final" in line for line in lines), lines

    assert wav_path.exists() and str(wav_path) in lines[-1]
    with wave.open(str(wav_path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    caller_rms, agent_rms = np.sqrt(np.mean(audio.astype(np.float64) ** 2, axis=0))
    assert caller_rms > 100 and agent_rms > 100, (caller_rms, agent_rms)
