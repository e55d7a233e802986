"""The voicemail second opinion during a call: listen to the far end's first seconds for a mailbox
greeting or a beep, and report one verdict (``domain.voicemail``) when it is clear.

Fed by the session: ``caller_audio`` with every inbound PCM16 chunk (only while watching: the
beep detector costs an FFT per 20 ms), ``caller_said`` with each finished caller turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from callwright.domain.voicemail import GreetingVerdict, Verdict, classify_greeting
from callwright.voice.beep import SAMPLE_RATE, BeepDetector

log = logging.getLogger("callwright.voice")

# How much of the call's start is judged: greetings run 5–15 s before their beep.
WINDOW_SECS = 20.0
# After a machine verdict from the words alone, how long to wait for the beep before speaking.
BEEP_WAIT_SECS = 3.0
# Once the beep is recognised, how long to wait for it to stop (beeps last 0.2–1 s; a tone that
# goes on, a fax's, is spoken over after this).
BEEP_END_WAIT_SECS = 1.5

OnVerdict = Callable[[GreetingVerdict], Coroutine[Any, Any, None]]


class VoicemailWatch:
    def __init__(self, on_verdict: OnVerdict, *, window_secs: float = WINDOW_SECS) -> None:
        self._on_verdict = on_verdict
        self._window_samples = int(window_secs * SAMPLE_RATE)
        self._samples = 0
        self._beep = BeepDetector()
        self._greeting: list[str] = []
        self.verdict: GreetingVerdict | None = None
        self.beep_heard = asyncio.Event()
        self.beep_over = asyncio.Event()  # its tone stopped: a mailbox records from here
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        """Still wants caller audio: deciding, or waiting for the beep (and its end) after a
        machine verdict."""
        if self.beep_over.is_set() or self._samples >= self._window_samples:
            return False
        return self.verdict is None or self.verdict.answered_by is Verdict.MACHINE

    def caller_audio(self, pcm16: bytes) -> bool:
        """Feed inbound audio; False once no more is wanted."""
        if not self.listening:
            return False
        self._samples += len(pcm16) // 2
        if self._beep.feed(pcm16) and not self.beep_heard.is_set():
            self.beep_heard.set()
            if self.verdict is None:
                self._decide(classify_greeting(" ".join(self._greeting), beep=True))
        if self._beep.ended:
            self.beep_over.set()
        return self.listening

    def caller_said(self, text: str) -> None:
        if self.verdict is not None or self._samples >= self._window_samples or not text.strip():
            return
        self._greeting.append(text.strip())
        verdict = classify_greeting(" ".join(self._greeting), beep=self.beep_heard.is_set())
        first_turn = len(self._greeting) == 1
        if verdict.is_voicemail or (verdict.answered_by is Verdict.HUMAN and first_turn):
            self._decide(verdict)

    async def wait_for_beep(
        self, timeout_secs: float = BEEP_WAIT_SECS, *, end_wait_secs: float = BEEP_END_WAIT_SECS
    ) -> bool:
        """Until the beep has ended (False: none came within ``timeout_secs``)."""
        try:
            await asyncio.wait_for(self.beep_heard.wait(), timeout_secs)
        except TimeoutError:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.beep_over.wait(), end_wait_secs)
        return True

    def _decide(self, verdict: GreetingVerdict) -> None:
        self.verdict = verdict
        log.info("answered by %s (%.2f): %s", verdict.answered_by, verdict.confidence, verdict.reason)
        task = asyncio.create_task(self._on_verdict(verdict))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
