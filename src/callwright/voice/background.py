"""Background audio under the agent's voice: a looped bed mixed into every outbound frame.

``BackgroundMixer`` is the output transport's mixer (Pipecat's ``audio_out_mixer``). With a mixer,
the transport sends a frame every chunk period whatever happens: the agent's audio mixed with the
bed while it speaks, the bed alone (mixed into silence) while it does not. The per-frame work is
one slice of a loop prepared once per call at the carrier's rate and the agent's volume, and for
the agent's frames an int16 add with saturation into buffers kept for the call.

Never delaying the agent's first audio: until the agent's first audible frame (or ``HOLD_SECS``,
for agents that wait for the caller to speak first), the mixer sends nothing while the agent is
quiet. Frames queued at the carrier play before anything sent after them, so a bed already
flowing would sit in front of the greeting; held back, the greeting goes out the moment it is
ready, exactly as without background audio. After that the bed flows continuously, and a reply
starts at the next frame slot (at most one frame, 20 ms on µ-law carriers, later than without).

The mixer also remembers the agent's own part of the frame it just mixed (``last_voice``), so the
stream watch keeps timing the agent's speech, not the bed (``voice.stream_watch``).
"""

from __future__ import annotations

import asyncio
import time
from functools import lru_cache

import numpy as np
from pipecat.audio.mixers.base_audio_mixer import BaseAudioMixer
from pipecat.frames.frames import MixerControlFrame, MixerEnableFrame, MixerUpdateSettingsFrame

from callwright.voice import ambience

HOLD_SECS = 2.0
HOLD_POLL_SECS = 0.001  # while held: how often the transport looks for the agent's first audio
VOLUME_DEFAULT = 0.5


class BackgroundLoop:
    """One asset at one rate as int16 samples (volume 1.0); equal when asset and rate are."""

    __slots__ = ("key", "sample_rate", "samples")

    def __init__(self, key: str, sample_rate: int, samples: np.ndarray) -> None:
        self.key = key
        self.sample_rate = sample_rate
        self.samples = samples  # int16, read-only, at volume 1.0

    def __hash__(self) -> int:
        return hash((self.key, self.sample_rate))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BackgroundLoop) and (other.key, other.sample_rate) == (self.key, self.sample_rate)

    @classmethod
    def curated(cls, asset_id: str, sample_rate: int) -> BackgroundLoop:
        return cls(asset_id, sample_rate, ambience.render(asset_id, sample_rate))


@lru_cache(maxsize=64)
def _scaled(loop: BackgroundLoop, volume_permille: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """The loop at a volume, as int16 (sent as it is under silence) and int32 (added to the
    voice), with its first ``pad`` samples repeated at the end so any frame is one slice (no
    wrap-around copy). Shared read-only by every call with the same asset and volume."""
    scaled = np.round(loop.samples.astype(np.float32) * (volume_permille / 1000)).astype(np.int16)
    reps = -(-pad // len(scaled)) if pad > len(scaled) else 1
    extended = np.concatenate([scaled, np.tile(scaled, reps)[:pad]])
    wide = extended.astype(np.int32)
    extended.setflags(write=False)
    wide.setflags(write=False)
    return extended, wide


class BackgroundMixer(BaseAudioMixer):
    """Mixes a looped bed under the agent's audio; see the module docstring."""

    def __init__(
        self,
        loop: BackgroundLoop | None,
        *,
        volume: float = VOLUME_DEFAULT,
        hold_secs: float = HOLD_SECS,
        max_frame_samples: int = 3200,
    ) -> None:
        if not 0.0 <= volume <= 1.0:
            raise ValueError(f"volume must be between 0 and 1; got {volume}")
        self._loop = loop
        self._volume = volume
        self._hold_secs = hold_secs
        self._max = max_frame_samples
        self._bed: np.ndarray | None = None  # int16
        self._bed32: np.ndarray | None = None  # the same, as int32
        self._length = 0
        self._position = 0
        self._enabled = True
        self._held = True
        self._started_at = 0.0
        self._zeros = b""
        self._acc = np.empty(max_frame_samples, dtype=np.int32)
        self._out = np.empty(max_frame_samples, dtype=np.int16)
        self.last_voice: bytes | None = None  # the agent's part of the latest frame; None: bed only

    async def start(self, sample_rate: int) -> None:
        self._started_at = time.monotonic()
        if self._loop is not None:
            self.set_loop(self._loop)

    def set_loop(self, loop: BackgroundLoop) -> None:
        """Use ``loop`` from the next frame on (it may arrive after the call started)."""
        self._loop = loop
        if not len(loop.samples):
            return
        self._bed, self._bed32 = _scaled(loop, round(self._volume * 1000), self._max)
        self._length = len(loop.samples)
        self._position %= self._length

    async def stop(self) -> None:
        self._bed = self._bed32 = None

    async def process_frame(self, frame: MixerControlFrame) -> None:
        if isinstance(frame, MixerEnableFrame):
            self._enabled = frame.enable
        elif isinstance(frame, MixerUpdateSettingsFrame) and "volume" in frame.settings:
            self._volume = float(frame.settings["volume"])
            if self._loop is not None:
                self.set_loop(self._loop)

    def _is_idle(self, audio: bytes) -> bool:
        if len(audio) != len(self._zeros):
            self._zeros = bytes(len(audio))
        return audio == self._zeros

    async def mix(self, audio: bytes) -> bytes:
        idle = self._is_idle(audio)
        self.last_voice = None if idle else audio
        if self._held:
            if idle and time.monotonic() - self._started_at < self._hold_secs:
                # Send nothing (the transport skips an empty frame), so nothing queues at the
                # carrier in front of the greeting; look again shortly.
                await asyncio.sleep(HOLD_POLL_SECS)
                return b""
            self._held = False
        bed, bed32 = self._bed, self._bed32
        n = len(audio) // 2
        if bed is None or bed32 is None or not self._enabled or n > self._max:
            return audio
        start = self._position
        self._position = (start + n) % self._length
        if idle:
            return bed[start : start + n].tobytes()
        acc = self._acc[:n]
        np.add(np.frombuffer(audio, dtype=np.int16, count=n), bed32[start : start + n], out=acc)
        np.minimum(acc, 32767, out=acc)  # saturate (np.clip costs more on 20 ms frames)
        np.maximum(acc, -32768, out=acc)
        out = self._out[:n]
        np.copyto(out, acc, casting="unsafe")
        return out.tobytes()
