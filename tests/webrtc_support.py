"""A browser's side of a WebRTC session, for tests: a spoken sentence as 48 kHz audio (the offline
Piper voice the simulator's callers speak with), written as a WAV for Chromium's fake microphone or
played by an aiortc peer standing in for a browser."""

from __future__ import annotations

import asyncio
import fractions
import time
import wave
from pathlib import Path

import numpy as np

from callwright.sim.audio import SAMPLE_RATE, resample
from callwright.sim.speech import speak

BROWSER_RATE = 48_000
FRAME_SAMPLES = BROWSER_RATE // 50  # 20 ms, as browsers send Opus


def spoken_sentence(text: str, *, lead_secs: float = 1.0, tail_secs: float = 2.0) -> np.ndarray:
    """``text`` spoken by the offline voice, at 48 kHz, with quiet before and after."""
    voice = resample(speak(text), SAMPLE_RATE, BROWSER_RATE)
    quiet = np.zeros(int(BROWSER_RATE * lead_secs), dtype=np.int16)
    after = np.zeros(int(BROWSER_RATE * tail_secs), dtype=np.int16)
    return np.concatenate([quiet, voice, after])


def write_wav(path: Path, pcm: np.ndarray, rate: int = BROWSER_RATE) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.astype("<i2").tobytes())
    return path


def microphone(pcm: np.ndarray, *, speak: asyncio.Event | None = None):  # type: ignore[no-untyped-def]
    """An aiortc audio track playing ``pcm`` (48 kHz) at real time once ``speak`` is set (at
    once without it), silence before and after."""
    from aiortc.mediastreams import MediaStreamTrack
    from av import AudioFrame

    class Microphone(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self._sent = 0  # samples sent, silence included
            self._played = 0  # samples of ``pcm`` played
            self._start: float | None = None

        async def recv(self) -> AudioFrame:
            if self._start is None:
                self._start = time.monotonic()
            wait = self._start + self._sent / BROWSER_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            chunk = np.zeros(0, dtype=np.int16)
            if speak is None or speak.is_set():
                chunk = pcm[self._played : self._played + FRAME_SAMPLES]
                self._played += FRAME_SAMPLES
            if len(chunk) < FRAME_SAMPLES:
                chunk = np.concatenate([chunk, np.zeros(FRAME_SAMPLES - len(chunk), dtype=np.int16)])
            frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = BROWSER_RATE
            frame.pts = self._sent
            frame.time_base = fractions.Fraction(1, BROWSER_RATE)
            self._sent += FRAME_SAMPLES
            return frame

    return Microphone()
