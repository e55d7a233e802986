"""Per-API-key request rates, as the Vocobase docs' authentication page states them.

Three budgets per key, each counted over a one-minute window: call endpoints (``/calls/*``),
browser-session starts (``POST /sessions/webrtc``, which the docs limit to "10 starts per minute
per key", a budget of its own the size of the calls budget) and every other Partner API endpoint.
A request counts against one budget only. A limit of 0 means no limit. Time is passed in (Unix seconds), so the rules here need no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

WINDOW_SECS = 60
DEFAULT_REQUESTS_PER_MINUTE = 60
DEFAULT_CALLS_PER_MINUTE = 10
MAX_PER_MINUTE = 1_000_000

_CALL_PATHS = ("/calls",)
_SESSION_START_PATH = "/sessions/webrtc"


class RateCategory(StrEnum):
    GENERAL = "general"
    CALLS = "calls"
    SESSION_STARTS = "session_starts"


def category_of(path: str, *, prefix: str = "/api/v2") -> RateCategory:
    """Which budget a Partner API request path counts against."""
    relative = path.removeprefix(prefix).rstrip("/") or "/"
    if relative == _SESSION_START_PATH:
        return RateCategory.SESSION_STARTS
    for base in _CALL_PATHS:
        if relative == base or relative.startswith(base + "/"):
            return RateCategory.CALLS
    return RateCategory.GENERAL


@dataclass(frozen=True, slots=True)
class KeyRates:
    """A partner's per-key limits, requests per minute; 0 = no limit."""

    requests_per_minute: int
    calls_per_minute: int

    def limit_for(self, category: RateCategory) -> int:
        if category is RateCategory.GENERAL:
            return self.requests_per_minute
        return self.calls_per_minute


@dataclass(frozen=True, slots=True)
class WindowState:
    """One key's budget after a request was counted: allowed or not, and what the headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # Unix seconds when the window ends and the budget is whole again

    def retry_after(self, now: float) -> int:
        """Whole seconds to wait (at least 1) before the budget has room again."""
        return max(1, math.ceil(self.reset_at - now))

    def headers(self, now: float) -> dict[str, str]:
        """``X-RateLimit-*`` (``Reset`` in Unix seconds, rounded up), plus ``Retry-After`` when
        the request was refused."""
        values = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }
        if not self.allowed:
            values["Retry-After"] = str(self.retry_after(now))
        return values


def refusal_message(category: RateCategory, limit: int, retry_after: int) -> str:
    what = {
        RateCategory.CALLS: "call endpoint requests (/calls/*)",
        RateCategory.SESSION_STARTS: "browser session starts (POST /sessions/webrtc)",
    }.get(category, "requests")
    return (
        f"rate limit reached: this API key may make {limit} {what} per minute; "
        f"retry in {retry_after} s"
    )
