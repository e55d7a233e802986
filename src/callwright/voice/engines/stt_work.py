"""Whether an STT service still has a caller's words to deliver, for the turn that waits on them.

Pipecat ends a user turn that has had no event for 5 s (``user_turn_stop_timeout``), transcript or
not. A segmented STT (Whisper here) transcribes after the caller stops, one segment at a time, on a
model every call shares: on a loaded machine that can take longer. The turn then ended empty, the
agent answered nothing (or asked the caller to repeat, had they spoken over it), and the words came
as a turn of their own, which interrupted whatever the agent was saying by then.
``VoiceTimedTurnStop`` counts those 5 s only while the STT is idle (``settled_at``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class TranscriptWork:
    """Counts an STT service's transcriptions in progress, and when the last one finished."""

    def __init__(self) -> None:
        self._in_progress = 0
        self._settled_at = 0.0

    @contextmanager
    def transcribing(self) -> Iterator[None]:
        """Around one segment's work, through the push of its transcript: the turn's clock starts
        again once the words are on their way to it."""
        self._in_progress += 1
        try:
            yield
        finally:
            self._in_progress -= 1
            self._settled_at = time.monotonic()

    def settled_at(self) -> float | None:
        """``None`` while a transcription is in progress; else when the last one finished
        (``time.monotonic``; 0.0 before the first)."""
        return None if self._in_progress else self._settled_at
