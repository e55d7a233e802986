"""Dial pacing: how fast the dialer may send requests to one carrier account."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SendSpacing:
    """Requests to one carrier account leave at least ``interval`` seconds apart.

    The spacing is measured from when each request actually left (``sent``), not from when it was
    planned, so a stalled event loop can only spread requests out, never bunch them together.
    Time is passed in (seconds, monotonic).
    """

    interval: float
    last_sent: float | None = None

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError("interval must be > 0")

    def delay(self, now: float) -> float:
        """How long to wait before the next request may leave."""
        if self.last_sent is None:
            return 0.0
        return max(0.0, self.last_sent + self.interval - now)

    def sent(self, now: float) -> None:
        self.last_sent = now


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most events that fall in any half-open window [t, t + window) — for checking pacing."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best
