"""Dial pacing: how fast the dialer may send requests to one carrier account."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class SendSpacing:
    """Requests to one carrier account leave at least ``interval`` seconds apart, and at most
    ``burst_limit`` of them in any ``burst_window`` seconds (0: no such rule).

    The spacing is measured from when each request actually left (``sent``), not from when it was
    planned, so a stalled event loop can only spread requests out, never bunch them together. The
    window rule covers what happens after ``sent``: one request held up on its way out (a busy
    event loop, a new connection) and the next one not can reach the carrier closer together than
    ``interval``; a window a little over a second keeps any carrier-side second within the CPS.
    Time is passed in (seconds, monotonic).
    """

    interval: float
    burst_limit: int = 0
    burst_window: float = 1.0
    last_sent: float | None = None
    _recent: deque[float] = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError("interval must be > 0")

    def delay(self, now: float) -> float:
        """How long to wait before the next request may leave."""
        wait = 0.0 if self.last_sent is None else self.last_sent + self.interval - now
        if self.burst_limit and len(self._recent) >= self.burst_limit:
            wait = max(wait, self._recent[-self.burst_limit] + self.burst_window - now)
        return max(0.0, wait)

    def sent(self, now: float) -> None:
        self.last_sent = now
        self._recent.append(now)
        while len(self._recent) > max(self.burst_limit, 1):
            self._recent.popleft()


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most events that fall in any half-open window [t, t + window) — for checking pacing."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best
