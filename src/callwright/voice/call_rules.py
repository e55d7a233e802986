"""The rules a call follows on its own: the duration cap with its warning, and the silence timeout.

- **Duration cap.** ``warning_before_secs`` before the agent's ``max_call_duration_secs`` the agent
  says the warning line; at the cap it says its closing line (the agent's ``end_call_message``, or
  the operator's) and the call ends with ``EndReason.MAX_DURATION``.
- **Silence.** Once the agent has finished speaking and the caller has said nothing for
  ``silence_timeout_secs``, the agent asks whether they are still there; after another such
  stretch of silence it says its closing line and ends the call with ``SILENCE_TIMEOUT``. Caller
  speech re-arms the check. While either side speaks, the clock does not run; nor while the
  caller's words are still being transcribed (the agent owes the reply: on a loaded machine
  Whisper took longer than the timeout, and the agent asked a caller who had just spoken
  whether they were still there).

``CallTimers`` only keeps time; speaking and ending are the session's, passed in as callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from callwright.domain.end_reasons import EndReason

log = logging.getLogger("callwright.voice")

# How long the closing line may take to play out at the cap before the hang-up goes ahead anyway.
CLOSING_LINE_TIMEOUT_SECS = 15.0
POLL_SECS = 0.25


@dataclass(frozen=True, slots=True)
class CallRules:
    """The operator's conversation rules (``CALLWRIGHT_SILENCE_TIMEOUT_SECS`` and friends)."""

    silence_timeout_secs: float = 15.0  # 0: never end a call for silence
    silence_prompt: str = "Are you still there?"
    duration_warning_message: str = (
        "Just so you know, we have about thirty seconds left on this call."
    )
    warning_before_secs: float = 30.0
    closing_line: str = "Thank you for your time. Goodbye."


Speak = Callable[[str], Awaitable[None]]
SpeakThenEnd = Callable[[str, EndReason, float], Awaitable[None]]  # (text, reason, timeout_secs)


class CallTimers:
    """Runs the duration and silence rules for one call until cancelled."""

    def __init__(
        self,
        rules: CallRules,
        *,
        max_call_duration_secs: float | None,
        closing_line: str,
        speak: Speak,
        speak_then_end: SpeakThenEnd,
        last_agent_audio_at: Callable[[], float | None],
        stt_settled_at: Callable[[], float | None] | None = None,
    ) -> None:
        self.rules = rules
        self.max_call_duration_secs = max_call_duration_secs
        self.closing_line = closing_line
        self._speak = speak
        self._speak_then_end = speak_then_end
        self._last_agent_audio_at = last_agent_audio_at
        # The STT's TranscriptWork.settled_at: None while it transcribes (an STT that does not
        # say counts as idle).
        self._stt_settled_at = stt_settled_at or (lambda: 0.0)
        self.caller_speaking = False  # between the VAD's start and stop
        self.caller_utterances = 0  # the VAD's starts so far
        self._caller_quiet_since: float | None = None
        self.prompted_for_silence = False
        self.warned = False
        self.holding = False  # the caller is on hold (a warm transfer): silence is expected

    def hold(self, on: bool) -> None:
        """Pause the silence rule while the caller holds; off again, the quiet counts from now."""
        self.holding = on
        if not on:
            self._caller_quiet_since = time.monotonic()
            self.prompted_for_silence = False

    # Fed by the VAD: the caller started or stopped speaking (time.monotonic()).
    def caller_started_speaking(self, at: float) -> None:
        self.caller_speaking = True
        self.caller_utterances += 1
        self.prompted_for_silence = False

    def caller_stopped_speaking(self, at: float) -> None:
        self.caller_speaking = False
        self._caller_quiet_since = at

    async def run(self, started_at: float) -> None:
        tasks = [asyncio.create_task(self._duration(started_at))]
        if self.rules.silence_timeout_secs > 0:
            tasks.append(asyncio.create_task(self._silence(started_at)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _duration(self, started_at: float) -> None:
        cap = self.max_call_duration_secs
        if cap is None:
            return
        warn_at = cap - self.rules.warning_before_secs
        if warn_at > 0 and self.rules.duration_warning_message.strip():
            await _sleep_until(started_at + warn_at)
            self.warned = True
            await self._speak(self.rules.duration_warning_message)
        await _sleep_until(started_at + cap)
        await self._speak_then_end(self.closing_line, EndReason.MAX_DURATION, CLOSING_LINE_TIMEOUT_SECS)

    async def _silence(self, started_at: float) -> None:
        timeout = self.rules.silence_timeout_secs
        while True:
            await asyncio.sleep(POLL_SECS)
            settled = self._stt_settled_at()
            if self.caller_speaking or self.holding or settled is None:
                continue
            marks = [started_at, self._caller_quiet_since, self._last_agent_audio_at(), settled]
            quiet_since = max(m for m in marks if m is not None)
            if time.monotonic() - quiet_since < timeout:
                continue
            if not self.prompted_for_silence:
                self.prompted_for_silence = True
                log.debug("caller silent for %.0f s: checking in", timeout)
                await self._speak(self.rules.silence_prompt)
                continue
            await self._speak_then_end(self.closing_line, EndReason.SILENCE_TIMEOUT, CLOSING_LINE_TIMEOUT_SECS)
            return


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
