"""Finds a voicemail beep in the caller's audio: a steady pure tone, unlike speech.

Answering machines end their greeting with a single tone, typically 400–2,500 Hz held for 0.2–1 s.
Speech spreads its energy over harmonics and moves its pitch every few tens of ms; a beep puts
nearly all of it in one narrow band that stays put. The detector looks at 20 ms windows (8 kHz
PCM16) and reports a beep once ``min_tone_secs`` of consecutive windows are tonal at the same
frequency, then its end at the first window that no longer holds that tone: a mailbox records from
there, so a message spoken at the detection would lose its start under the rest of the beep.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 8000
WINDOW = 160  # 20 ms at 8 kHz
MIN_HZ, MAX_HZ = 400.0, 2600.0
# Share of a window's energy that must sit within ±2 bins (±100 Hz) of its peak.
TONAL_SHARE = 0.75
# RMS below this (of 32768) is silence, not a tone.
MIN_RMS = 300.0
MAX_DRIFT_HZ = 60.0


class BeepDetector:
    def __init__(self, *, min_tone_secs: float = 0.18, sample_rate: int = SAMPLE_RATE) -> None:
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"the beep detector works on {SAMPLE_RATE} Hz audio, not {sample_rate}")
        self.min_windows = max(1, round(min_tone_secs * SAMPLE_RATE / WINDOW))
        self._pending = np.zeros(0, dtype=np.int16)
        self._run = 0
        self._run_hz: float | None = None
        self._hann = np.hanning(WINDOW)
        self.detected_at_secs: float | None = None  # audio time the beep was recognised
        self.ended_at_secs: float | None = None  # audio time its tone stopped
        self._samples_seen = 0

    @property
    def detected(self) -> bool:
        return self.detected_at_secs is not None

    @property
    def ended(self) -> bool:
        return self.ended_at_secs is not None

    def feed(self, pcm16: bytes) -> bool:
        """Add caller audio; True once a beep has been heard (and from then on). Fed on after
        that, it finds the beep's end (``ended``)."""
        if self.ended:
            return True
        audio = np.frombuffer(pcm16, dtype=np.int16)
        if self._pending.size:
            audio = np.concatenate([self._pending, audio])
        whole = audio.size - audio.size % WINDOW
        for start in range(0, whole, WINDOW):
            self._samples_seen += WINDOW
            # The run that made the beep goes on while the tone holds; its first miss is the end.
            in_run = self._window_is_beep_run(audio[start : start + WINDOW])
            if not self.detected:
                if in_run:
                    self.detected_at_secs = self._samples_seen / SAMPLE_RATE
            elif not in_run:
                self.ended_at_secs = (self._samples_seen - WINDOW) / SAMPLE_RATE
                break
        self._pending = audio[whole:].copy()
        return self.detected

    def _window_is_beep_run(self, window: np.ndarray) -> bool:
        hz = tone_hz(window, self._hann)
        if hz is None or (self._run_hz is not None and abs(hz - self._run_hz) > MAX_DRIFT_HZ):
            self._run = 1 if hz is not None else 0
            self._run_hz = hz
            return False
        self._run += 1
        self._run_hz = hz
        return self._run >= self.min_windows


def tone_hz(window: np.ndarray, taper: np.ndarray | None = None) -> float | None:
    """The frequency of the pure tone filling this window, or None if it isn't one."""
    samples = window.astype(np.float64)
    if np.sqrt(np.mean(samples**2)) < MIN_RMS:
        return None
    spectrum = np.abs(np.fft.rfft(samples * (taper if taper is not None else np.hanning(window.size)))) ** 2
    total = spectrum.sum()
    if total <= 0:
        return None
    peak = int(np.argmax(spectrum))
    hz = peak * SAMPLE_RATE / window.size
    if not MIN_HZ <= hz <= MAX_HZ:
        return None
    share = spectrum[max(0, peak - 2) : peak + 3].sum() / total
    return hz if share >= TONAL_SHARE else None
