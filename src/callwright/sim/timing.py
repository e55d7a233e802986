"""A call's media timing as the carrier saw it, for benchmarks: the greeting's delay, each reply's
delay after the caller stopped, and the gaps between the agent's audio messages.

Times are on the call's clock (seconds since the dial request); ``t0`` places that clock on the
host's monotonic clock, shared by every process on the machine.
"""

from __future__ import annotations

import itertools
from typing import Any

from callwright.sim.calls import SimCall


def reply_delays(speech_ends: list[float], audible: list[float]) -> list[float | None]:
    """For each end of caller speech, seconds until the first audible agent audio after it
    (None: none came before the next caller speech ended, or at all)."""
    delays: list[float | None] = []
    j = 0
    for i, end in enumerate(speech_ends):
        while j < len(audible) and audible[j] <= end:
            j += 1
        following = speech_ends[i + 1] if i + 1 < len(speech_ends) else None
        if j < len(audible) and (following is None or audible[j] < following):
            delays.append(audible[j] - end)
        else:
            delays.append(None)
    return delays


def frame_gaps(arrivals: list[float], quiet_spans: list[tuple[float, float]]) -> list[float]:
    """Seconds between consecutive agent audio messages, leaving out each gap that overlaps a
    span in ``quiet_spans`` (the caller's speech, a clear): there the agent had nothing to say."""
    return [gap for _, gap in timed_frame_gaps(arrivals, quiet_spans)]


def timed_frame_gaps(arrivals: list[float], quiet_spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``frame_gaps`` with when each gap ended: (arrival, gap)."""
    gaps = []
    spans = sorted(quiet_spans)
    for before, after in itertools.pairwise(arrivals):
        if not any(start < after and end > before for start, end in spans):
            gaps.append((after, after - before))
    return gaps


def audio_spans(arrivals: list[float], *, late_after: float) -> list[tuple[float, float]]:
    """``arrivals`` cut where one came more than ``late_after`` seconds after the one before:
    each stretch's first and last arrival."""
    spans: list[tuple[float, float]] = []
    for at in arrivals:
        if spans and at - spans[-1][1] <= late_after:
            spans[-1] = (spans[-1][0], at)
        else:
            spans.append((at, at))
    return spans


def call_timing(call: SimCall) -> dict[str, Any]:
    arrivals = list(call.agent_audio_arrivals)
    times = [at for at, _ in arrivals]
    audible = [at for at, loud in arrivals if loud]
    speech = call.caller_speech()
    quiet = [(s.starts_at, s.ends_at) for s in speech] + [(c.at, c.at) for c in list(call.clears)]
    started = call.media_started_at
    greeting = next((at for at in audible if started is not None and at >= started), None)
    return {
        "call_id": call.call_id,
        "to": call.to,
        "account_id": call.account_id,
        "t0": call.t0,  # when the dial request arrived
        "media_started_at": started,
        "media_ended_at": call.media_ended_at,
        "greeting_secs": None if greeting is None or started is None else greeting - started,
        "caller_speech_sent_at": list(call.caller_speech_sent_at),
        "caller_speech_late_secs": list(call.caller_speech_late_secs),
        "caller_speech_spans": [(s.starts_at, s.ends_at) for s in speech],
        "clears_at": [c.at for c in list(call.clears)],
        # The agent's audio as stretches without a late message: (first, last arrival).
        "agent_audio_spans": audio_spans(times, late_after=0.04),
        "reply_secs": reply_delays(list(call.caller_speech_sent_at), audible),
        # Barge-in: each clear's delay after the caller's speech onset before it.
        "barge_in_secs": [
            c.after_onset_secs for c in list(call.clears) if c.after_onset_secs is not None
        ],
        "audio_messages": len(times),
        "frame_gaps_secs": frame_gaps(times, quiet),
        # The late messages (over 40 ms after the one before), when they came: a stall shared by
        # many calls at one moment is the server's, not the network's.
        "late_audio": [(at, gap) for at, gap in timed_frame_gaps(times, quiet) if gap > 0.04],
    }
