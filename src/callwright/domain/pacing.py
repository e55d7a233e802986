"""Token buckets: how fast the dialer may send requests to one carrier account."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenBucket:
    """``rate`` requests per second with bursts of at most ``burst``; time is passed in (seconds).

    ``reserve(now)`` takes one token and answers how long to wait before using it, so callers
    that reserve in turn are spaced exactly 1/rate apart however many of them are waiting.
    """

    rate: float
    burst: float = 1.0
    _tokens: float | None = None
    _updated: float | None = None

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")

    def reserve(self, now: float) -> float:
        if self._tokens is None or self._updated is None:
            self._tokens, self._updated = self.burst, now
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._updated = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most events that fall in any half-open window [t, t + window) — for checking pacing."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best
