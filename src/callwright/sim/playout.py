"""The agent's audio as the caller hears it: a per-call playout clock.

A carrier buffers what the agent sends and plays it out in real time, so audio queued now is heard
once everything queued before it has played. Marks (Twilio, Exotel) and checkpoints (Plivo, Vobiz)
are due when the audio queued before them has played; a clear drops what has not been heard yet.
Times are seconds on the call's clock (``SimCall.now()``).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from callwright.sim.audio import SAMPLE_RATE, Pcm, first_sound


@dataclass(slots=True)
class HeardAudio:
    """One chunk of agent audio and when the caller hears it."""

    starts_at: float
    pcm: Pcm

    @property
    def ends_at(self) -> float:
        return self.starts_at + len(self.pcm) / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class Cleared:
    at: float
    dropped_secs: float  # queued agent audio that was never heard
    pending_marks: tuple[str, ...]  # marks whose audio was dropped


class Playout:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heard: list[HeardAudio] = []
        self._marks: deque[tuple[float, str]] = deque()
        self.busy_until = 0.0

    def play(self, pcm: Pcm, now: float) -> HeardAudio:
        with self._lock:
            chunk = HeardAudio(max(now, self.busy_until), pcm)
            self._heard.append(chunk)
            self.busy_until = chunk.ends_at
            return chunk

    def mark(self, name: str, now: float) -> float:
        """Queue a mark; returns when it is due (when the audio queued before it has played)."""
        with self._lock:
            due = max(now, self.busy_until)
            self._marks.append((due, name))
            return due

    def due_marks(self, now: float) -> list[str]:
        with self._lock:
            due = []
            while self._marks and self._marks[0][0] <= now:
                due.append(self._marks.popleft()[1])
            return due

    def clear(self, now: float) -> Cleared:
        """Drop everything not yet heard at ``now``; the chunk playing now stops mid-way."""
        with self._lock:
            dropped = 0.0
            kept: list[HeardAudio] = []
            for chunk in self._heard:
                if chunk.ends_at <= now:
                    kept.append(chunk)
                elif chunk.starts_at >= now:
                    dropped += chunk.ends_at - chunk.starts_at
                else:
                    heard = int((now - chunk.starts_at) * SAMPLE_RATE)
                    dropped += (len(chunk.pcm) - heard) / SAMPLE_RATE
                    kept.append(HeardAudio(chunk.starts_at, chunk.pcm[:heard]))
            self._heard = kept
            self.busy_until = min(self.busy_until, now)
            pending = tuple(name for _, name in self._marks)
            self._marks.clear()
            return Cleared(now, dropped, pending)

    def stop(self, now: float) -> None:
        """The call ended at ``now``: nothing queued after it is ever heard."""
        self.clear(now)

    def heard(self) -> list[HeardAudio]:
        with self._lock:
            return list(self._heard)

    def is_playing(self, now: float) -> bool:
        return self.busy_until > now

    def first_sound_at(self) -> float | None:
        for chunk in self.heard():
            index = first_sound(chunk.pcm)
            if index is not None:
                return chunk.starts_at + index / SAMPLE_RATE
        return None

    def render(self, origin: float, until: float) -> Pcm:
        """The heard audio between ``origin`` and ``until`` as one track (silence in the gaps)."""
        length = max(0, round((until - origin) * SAMPLE_RATE))
        track = np.zeros(length, dtype=np.int16)
        for chunk in self.heard():
            start = round((chunk.starts_at - origin) * SAMPLE_RATE)
            pcm = chunk.pcm
            if start < 0:
                pcm, start = pcm[-start:], 0
            end = min(length, start + len(pcm))
            if end > start:
                track[start:end] = pcm[: end - start]
        return track
