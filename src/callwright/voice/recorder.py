"""Both sides of one call as a dual-channel WAV: the caller on the left, the agent on the right.

The recorder sees the 8 kHz PCM16 the pipeline sees (``stream_watch.WatchedSerializer`` hands it
each caller frame it read and each agent frame it sent), never the carrier's µ-law, and places
every chunk at its offset from the start of the stream:

- The caller's audio is streamed by the carrier from its start message on, silence included, at
  real time; what arrived while the pipeline was starting is read in a burst. So the caller's
  track is contiguous from the start of the stream: a chunk goes where the track ends, unless it
  arrives more than ``CALLER_JITTER_SECS`` after it was due (the previous chunk's arrival plus
  that chunk's length: the carrier paused), when it goes at its arrival time and silence fills
  the gap. Our own scheduling jitter and a late start never split the caller's speech.
- The agent's audio leaves paced at real time by the output transport, and the carrier plays it
  once what it queued before has played (as ``sim.playout`` models). A chunk is placed at the later
  of its send time and the end of the track: a chunk sent late leaves the gap the caller heard
  (within ``AGENT_JITTER_SECS``, timer noise, it counts as on time). A clear (barge-in) drops what
  had not been played yet; so does the end of the stream.

Memory stays bounded: each channel keeps a small tail in a bytearray and hands the rest to one
process-wide writer thread, which appends it to an unlinked temporary file (gone with the
process, whatever happens). ``finish()`` writes the stereo WAV on that thread too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
import wave
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np

log = logging.getLogger("callwright.voice")

SAMPLE_WIDTH = 2  # PCM16
CALLER_JITTER_SECS = 0.3
AGENT_JITTER_SECS = 0.002
# Final audio is handed to the writer once this much has built up (≈ 2 s of 8 kHz PCM16).
FLUSH_BYTES = 32_000
_SILENCE_BLOCK = bytes(FLUSH_BYTES)
_ASSEMBLY_SAMPLES = 80_000  # samples per channel interleaved at a time (10 s at 8 kHz)

# One writer for every call in the process: appends keep their order per file, and no event loop
# ever waits on the disk.
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="callwright-recorder")


class RecordingFailed(Exception):
    """The recording's temporary files could not be written."""


class _Track:
    """One channel: samples ``[0, flushed)`` are with the writer, ``pending`` holds the rest."""

    def __init__(self, directory: Path, on_error: Callable[[Future[object]], None]) -> None:
        self.file: BinaryIO = tempfile.TemporaryFile(dir=directory)
        self.flushed = 0
        self.pending = bytearray()
        self._on_error = on_error

    @property
    def end(self) -> int:
        return self.flushed + len(self.pending) // SAMPLE_WIDTH

    def place(self, pcm: bytes, at: int) -> None:
        if at > self.end:
            self._silence(at - self.end)
        self.pending += pcm

    def flush(self, upto: int) -> None:
        """Hand samples before ``upto`` to the writer if enough of them have built up."""
        ready = min(upto - self.flushed, len(self.pending) // SAMPLE_WIDTH) * SAMPLE_WIDTH
        if ready >= FLUSH_BYTES:
            self._write(ready)

    def flush_all(self) -> None:
        if self.pending:
            self._write(len(self.pending) - len(self.pending) % SAMPLE_WIDTH)

    def truncate(self, at: int) -> None:
        """Drop what lies past sample ``at`` (never what the writer already has)."""
        keep = max(0, at - self.flushed) * SAMPLE_WIDTH
        del self.pending[keep:]

    def _silence(self, samples: int) -> None:
        size = samples * SAMPLE_WIDTH
        if len(self.pending) + size <= FLUSH_BYTES:
            self.pending += _SILENCE_BLOCK[:size]
            return
        # A long gap (the agent quiet for minutes) is written as zeros by the writer.
        self.flush_all()
        self._submit(_write_zeros, self.file, size)
        self.flushed += samples

    def _write(self, size: int) -> None:
        self._submit(self.file.write, bytes(self.pending[:size]))
        del self.pending[:size]
        self.flushed += size // SAMPLE_WIDTH

    def _submit(self, fn: Callable[..., object], *args: object) -> None:
        _writer.submit(fn, *args).add_done_callback(self._on_error)


class CallRecorder:
    def __init__(
        self,
        directory: Path,
        *,
        sample_rate: int = 8000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory = directory
        self.sample_rate = sample_rate
        self._clock = clock
        self._started_at = clock()
        self._error: BaseException | None = None
        self._caller = _Track(directory, self._check_write)
        self._agent = _Track(directory, self._check_write)
        self._caller_jitter = round(CALLER_JITTER_SECS * sample_rate)
        self._agent_jitter = round(AGENT_JITTER_SECS * sample_rate)
        self._caller_due = 0  # when the next caller chunk is due: the last one's arrival + length
        self._agent_sent_at = 0  # when the last agent chunk was sent
        self._finished = False

    def _now(self) -> int:
        """The current offset from the start of the stream, in samples."""
        return round((self._clock() - self._started_at) * self.sample_rate)

    def caller_audio(self, pcm: bytes) -> None:
        if self._finished:
            return
        track, now = self._caller, self._now()
        paused = track.end > 0 and now - self._caller_due > self._caller_jitter
        track.place(pcm, max(now, track.end) if paused else track.end)
        track.flush(track.end)
        self._caller_due = now + len(pcm) // SAMPLE_WIDTH

    def agent_audio(self, pcm: bytes) -> None:
        if self._finished:
            return
        track, now = self._agent, self._now()
        track.place(pcm, now if now - track.end > self._agent_jitter else track.end)
        track.flush(now)  # what lies past now can still be cleared
        self._agent_sent_at = now

    def agent_cleared(self) -> None:
        """The carrier was told to drop the agent's queued audio: only what played stays."""
        if not self._finished:
            self._agent.truncate(self._now())

    async def finish(self, destination: Path) -> Path | None:
        """Write the stereo WAV to ``destination`` (on the writer thread) and close the
        temporary files. None when nothing was recorded."""
        if self._finished:
            raise RuntimeError("CallRecorder.finish() can only be called once")
        self._finished = True
        caller, agent = self._caller, self._agent
        # Carriers stream the caller's audio until the stream closes, and nothing is sent to a
        # closed socket, so the later of the two ends is the end of the stream: agent audio
        # queued past it was never heard.
        agent.truncate(max(caller.end, self._agent_sent_at))
        caller.flush_all()
        agent.flush_all()
        frames = max(caller.end, agent.end)
        try:
            if frames == 0:
                return None
            done = _writer.submit(
                _write_stereo_wav, destination, caller.file, agent.file, frames, self.sample_rate
            )
            try:
                await asyncio.wrap_future(done)
            except Exception as exc:
                destination.unlink(missing_ok=True)
                raise RecordingFailed(f"writing the recording failed: {exc!r}") from exc
            if self._error is not None:
                destination.unlink(missing_ok=True)
                raise RecordingFailed(f"writing the recording failed: {self._error!r}")
            return destination
        finally:
            _writer.submit(_close_files, caller.file, agent.file)

    def discard(self) -> None:
        """Drop the recording (the temporary files go with it)."""
        if not self._finished:
            self._finished = True
            _writer.submit(_close_files, self._caller.file, self._agent.file)

    def _check_write(self, done: Future[object]) -> None:
        if not done.cancelled() and done.exception() is not None and self._error is None:
            self._error = done.exception()
            log.error("a call recording could not be written: %r", self._error)


def _write_zeros(file: BinaryIO, size: int) -> None:
    while size > 0:
        block = min(size, len(_SILENCE_BLOCK))
        file.write(_SILENCE_BLOCK[:block])
        size -= block


def _close_files(*files: BinaryIO) -> None:
    for file in files:
        file.close()


def _write_stereo_wav(
    destination: Path, left: BinaryIO, right: BinaryIO, frames: int, sample_rate: int
) -> None:
    """Interleave two mono PCM16 files into a stereo WAV, a block at a time; a channel shorter
    than ``frames`` is padded with silence."""
    left.flush()
    right.flush()
    left.seek(0)
    right.seek(0)
    descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as raw, wave.open(raw, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(sample_rate)
        out.setnframes(frames)
        written = 0
        while written < frames:
            count = min(_ASSEMBLY_SAMPLES, frames - written)
            block = np.zeros((count, 2), dtype="<i2")
            for channel, source in enumerate((left, right)):
                data = np.frombuffer(source.read(count * SAMPLE_WIDTH), dtype="<i2")
                block[: len(data), channel] = data
            out.writeframesraw(block.tobytes())
            written += count
