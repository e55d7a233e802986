"""The caller's side of a call as one 8 kHz track, rendered once per scenario and pre-encoded
per wire format, so a media stream only picks the next ready-made payload every frame.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from callwright.sim.audio import SAMPLE_RATE, AudioFormat, Pcm, silence, tone
from callwright.sim.scenarios import Outcome, Scenario, Utterance

BEEP_HZ = 1000.0
BEEP_SECS = 0.5


@dataclass(frozen=True, slots=True)
class Speech:
    """One stretch of caller sound, in seconds from the answer."""

    label: str
    starts_at: float
    ends_at: float


@dataclass
class CallerTrack:
    pcm: Pcm
    speech: tuple[Speech, ...]
    _payloads: dict[AudioFormat, tuple[list[str], str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def duration_secs(self) -> float:
        return len(self.pcm) / SAMPLE_RATE

    def payloads(self, fmt: AudioFormat) -> tuple[list[str], str]:
        """Base64 payloads of the track's frames in ``fmt``, and the payload of a silent frame."""
        with self._lock:
            if fmt not in self._payloads:
                self._payloads[fmt] = _encode_frames(self.pcm, fmt)
            return self._payloads[fmt]


def _encode_frames(pcm: Pcm, fmt: AudioFormat) -> tuple[list[str], str]:
    size = fmt.frame_samples
    padded = np.concatenate([pcm, np.zeros(-len(pcm) % size, dtype=np.int16)])
    # Encode the whole track at once (one resampler pass), then cut the wire bytes into frames.
    wire = fmt.encode(padded)
    step = fmt.frame_bytes
    frames = [base64.b64encode(wire[i : i + step]).decode() for i in range(0, len(wire), step)]
    quiet = base64.b64encode(fmt.encode(np.zeros(size, dtype=np.int16))).decode()
    return frames, quiet


def build_track(scenario: Scenario) -> CallerTrack:
    parts: list[Pcm] = []
    speech: list[Speech] = []
    cursor = 0.0

    def add(pcm: Pcm, label: str, gap: float) -> None:
        nonlocal cursor
        parts.append(silence(gap))
        cursor += gap
        length = len(pcm) / SAMPLE_RATE
        parts.append(pcm)
        speech.append(Speech(label, cursor, cursor + length))
        cursor += length

    if scenario.outcome is Outcome.VOICEMAIL:
        greeting = Utterance(text=scenario.voicemail_greeting)
        add(greeting.pcm(), "voicemail greeting", scenario.leading_silence_secs)
        add(tone(BEEP_HZ, BEEP_SECS, amplitude=0.5), "beep", 0.3)
    else:
        for index, utterance in enumerate(scenario.utterances):
            default_gap = scenario.leading_silence_secs if index == 0 else scenario.gap_secs
            gap = default_gap if utterance.gap_before_secs is None else utterance.gap_before_secs
            add(utterance.pcm(), utterance.label(), gap)
    pcm = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
    return CallerTrack(pcm=pcm, speech=tuple(speech))


_tracks: OrderedDict[str, CallerTrack] = OrderedDict()
_tracks_lock = threading.Lock()
_TRACK_CACHE_SIZE = 64
# The scenario fields the track depends on (a cache key).
_TRACK_FIELDS = {"outcome", "leading_silence_secs", "gap_secs", "utterances", "voicemail_greeting"}


def caller_track(scenario: Scenario) -> CallerTrack:
    """The scenario's track; built once and shared by every call that plays the same scenario."""
    key = scenario.model_dump_json(include=_TRACK_FIELDS)
    with _tracks_lock:
        track = _tracks.get(key)
        if track is not None:
            _tracks.move_to_end(key)
            return track
    track = build_track(scenario)
    with _tracks_lock:
        _tracks[key] = track
        while len(_tracks) > _TRACK_CACHE_SIZE:
            _tracks.popitem(last=False)
    return track
