"""Whether a TTS service is still rendering a line, for the session that waits for it to play out.

A line has played out once its audio stopped for a moment (``PLAYOUT_GRACE_SECS``): the output
transport paces audio in real time. Piper renders a line a clause at a time; on a loaded machine
the next clause can take longer to render than the last one took to play, and the gap read as the
line's end: a voicemail message was cut off after its first clause when the call was hung up.
The session waits while the TTS says it is rendering (``RenderWork.busy``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

# A rendering that has made no progress for this long is not waited for: a line whose generator
# was abandoned mid-way (an interruption) and not yet closed must not hold a call's end.
RENDER_STALL_SECS = 10.0


class RenderWork:
    """Counts a TTS service's lines being rendered, and when the last piece came."""

    def __init__(self) -> None:
        self._in_progress = 0
        self._progress_at = 0.0

    @contextmanager
    def rendering(self) -> Iterator[None]:
        """Around one line's rendering, from its text to its last piece of audio."""
        self._in_progress += 1
        self.progressed()
        try:
            yield
        finally:
            self._in_progress -= 1

    def progressed(self) -> None:
        """A piece of the line's audio is out."""
        self._progress_at = time.monotonic()

    @property
    def busy(self) -> bool:
        return self._in_progress > 0 and time.monotonic() - self._progress_at < RENDER_STALL_SECS
