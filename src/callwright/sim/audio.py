"""Telephone audio for the simulator: G.711 µ-law, 16-bit PCM, resampling, WAV, test tones.

Inside the simulator every signal is mono 16-bit PCM at 8 kHz (``numpy.int16``); an ``AudioFormat``
converts to and from what a carrier puts on the wire.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soxr  # a dependency of pipecat-ai, which Callwright already requires

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # one 20 ms frame at 8 kHz
# RMS above which a 20 ms frame counts as sound rather than silence (about -40 dBFS).
SPEECH_RMS = 330.0

Pcm = np.ndarray  # int16 samples at SAMPLE_RATE


def _ulaw_decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    magnitude = ((((codes & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


def _ulaw_encode_table() -> np.ndarray:
    # G.711 µ-law for every 16-bit sample, indexed by the sample's bits read as uint16.
    # The CCITT reference coder (as in audioop.lin2ulaw): 14-bit magnitude, bias 0x21, 8 segments.
    samples = np.arange(65536, dtype=np.int32)
    samples = np.where(samples >= 32768, samples - 65536, samples) >> 2
    mask = np.where(samples < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(samples), 8159) + 0x21
    segment_ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    segment = np.searchsorted(segment_ends, magnitude)
    code = np.where(segment >= 8, 0x7F, (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F))
    return (code ^ mask).astype(np.uint8)


_ULAW_TO_PCM = _ulaw_decode_table()
_PCM_TO_ULAW = _ulaw_encode_table()


def ulaw_decode(data: bytes) -> Pcm:
    return _ULAW_TO_PCM[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(pcm: Pcm) -> bytes:
    return _PCM_TO_ULAW[pcm.astype(np.int16, copy=False).view(np.uint16)].tobytes()


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> Pcm:
    """``pcm`` (int16 or float in [-1, 1]) at ``to_rate`` as int16."""
    if pcm.dtype != np.int16:
        pcm = np.clip(pcm * 32767.0, -32768, 32767).astype(np.int16)
    if from_rate == to_rate or len(pcm) == 0:
        return pcm
    return soxr.resample(pcm, from_rate, to_rate, quality="HQ").astype(np.int16)


def from_raw(data: bytes, *, sample_rate: int) -> Pcm:
    """Raw little-endian 16-bit mono PCM at ``sample_rate``, as 8 kHz PCM."""
    return resample(np.frombuffer(data, dtype="<i2").astype(np.int16), sample_rate, SAMPLE_RATE)


def read_wav(path: str | Path) -> Pcm:
    """A 16-bit PCM WAV file (any rate, any channel count) as mono 8 kHz PCM."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
        channels, rate = wav.getnchannels(), wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return resample(samples.astype(np.int16), rate, SAMPLE_RATE)


def wav_bytes(channels: list[Pcm], *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit WAV file of ``channels`` (each mono; shorter ones padded with silence)."""
    length = max((len(channel) for channel in channels), default=0)
    frame = np.zeros((length, len(channels)), dtype="<i2")
    for index, channel in enumerate(channels):
        frame[: len(channel), index] = channel
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(len(channels))
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(frame.tobytes())
    return out.getvalue()


def silence(secs: float) -> Pcm:
    return np.zeros(round(secs * SAMPLE_RATE), dtype=np.int16)


def tone(freq_hz: float, secs: float, *, amplitude: float = 0.3) -> Pcm:
    t = np.arange(round(secs * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * freq_hz * t) * amplitude * 32767).astype(np.int16)


def rms(pcm: Pcm) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


def _loud_frames(pcm: Pcm) -> np.ndarray:
    """Indexes of the whole 20 ms frames louder than ``SPEECH_RMS``."""
    whole = len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES
    frames = pcm[:whole].astype(np.float64).reshape(-1, FRAME_SAMPLES)
    return np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > SPEECH_RMS)


def first_sound(pcm: Pcm) -> int | None:
    """Index of the first sample of the first 20 ms frame louder than ``SPEECH_RMS``."""
    loud = _loud_frames(pcm)
    if len(loud):
        return int(loud[0]) * FRAME_SAMPLES
    whole = len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES
    tail = pcm[whole:]
    return whole if len(tail) and rms(tail) > SPEECH_RMS else None


def audible_part(pcm: Pcm) -> Pcm:
    """``pcm`` from its first to its last 20 ms frame louder than ``SPEECH_RMS``: a rendered line
    without the quiet around it, so that where it ends is where the voice ends."""
    loud = _loud_frames(pcm)
    if not len(loud):
        return pcm[:0]
    return pcm[int(loud[0]) * FRAME_SAMPLES : (int(loud[-1]) + 1) * FRAME_SAMPLES]


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """What one carrier stream carries: the codec, its sample rate and the frame length."""

    encoding: Literal["mulaw", "l16"]
    sample_rate: int = SAMPLE_RATE
    big_endian: bool = False  # for l16 only
    frame_ms: int = 20

    @property
    def frame_bytes(self) -> int:
        width = 1 if self.encoding == "mulaw" else 2
        return self.sample_rate * self.frame_ms // 1000 * width

    @property
    def frame_samples(self) -> int:
        """8 kHz samples in one frame."""
        return SAMPLE_RATE * self.frame_ms // 1000

    def encode(self, pcm: Pcm) -> bytes:
        if self.encoding == "mulaw":
            return ulaw_encode(pcm)
        wire = resample(pcm, SAMPLE_RATE, self.sample_rate)
        return wire.astype(">i2" if self.big_endian else "<i2").tobytes()

    def decode(self, data: bytes) -> Pcm:
        if self.encoding == "mulaw":
            return ulaw_decode(data)
        usable = len(data) - len(data) % 2
        wire = np.frombuffer(data[:usable], dtype=">i2" if self.big_endian else "<i2")
        return resample(wire.astype(np.int16), self.sample_rate, SAMPLE_RATE)


MULAW_8K = AudioFormat("mulaw")
