"""A caller on hold (a warm transfer's consult) is expected to be quiet: the silence rule neither
asks "Are you still there?" nor ends the call until the hold is over. Nor while the caller's
last words are still being transcribed: the agent owes them a reply."""

from __future__ import annotations

import asyncio
import time

from callwright.domain.end_reasons import EndReason
from callwright.voice.call_rules import CallRules, CallTimers
from callwright.voice.engines.stt_work import TranscriptWork


async def test_the_silence_rule_waits_while_the_caller_holds():
    said: list[str] = []
    ended: list[EndReason] = []

    async def speak(text: str) -> None:
        said.append(text)

    async def speak_then_end(text: str, reason: EndReason, timeout: float) -> None:
        ended.append(reason)

    timers = CallTimers(
        CallRules(silence_timeout_secs=0.3), max_call_duration_secs=None, closing_line="Bye.",
        speak=speak, speak_then_end=speak_then_end, last_agent_audio_at=lambda: None,
    )
    timers.hold(True)
    running = asyncio.create_task(timers.run(time.monotonic()))
    await asyncio.sleep(1.2)  # four silence timeouts on hold
    assert said == [] and ended == []
    timers.hold(False)

    async def prompted() -> None:
        while not said:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(prompted(), timeout=30)
    assert said == ["Are you still there?"]  # the rule runs again once the hold is over
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)


async def test_the_silence_rule_waits_while_the_callers_words_are_transcribed():
    said: list[str] = []

    async def speak(text: str) -> None:
        said.append(text)

    async def speak_then_end(text: str, reason: EndReason, timeout: float) -> None:
        said.append(text)

    work = TranscriptWork()
    timers = CallTimers(
        CallRules(silence_timeout_secs=0.3), max_call_duration_secs=None, closing_line="Bye.",
        speak=speak, speak_then_end=speak_then_end, last_agent_audio_at=lambda: None,
        stt_settled_at=work.settled_at,
    )
    timers.caller_started_speaking(time.monotonic())
    timers.caller_stopped_speaking(time.monotonic())
    running = asyncio.create_task(timers.run(time.monotonic()))
    with work.transcribing():  # a slow transcription: four silence timeouts long
        await asyncio.sleep(1.2)
        assert said == []
    settled = time.monotonic()

    async def prompted() -> None:
        while not said:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(prompted(), timeout=30)
    assert said == ["Are you still there?"]
    # Counted from the transcript, not from the caller's last word: never before the timeout.
    assert time.monotonic() - settled >= 0.3
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
