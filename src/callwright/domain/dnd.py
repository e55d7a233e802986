"""The partner's do-not-disturb check: a URL of the partner's asked before every dial whether a
number may be called (a scrub against a national registry such as India's NCPR, kept by the
partner), its limits, how its answer reads, and the short-lived memory of its answers.

The question is ``POST {"phone": "+91…"}``, signed like a webhook; the answer a 2xx with
``{"allow": true|false}``. No answer within ``timeout_ms``, another status or another body is an
error, and an error reads as ``on_error`` says: ``deny`` (the default: no call on doubt) or
``allow``.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

TIMEOUT_MS_MIN = 100
TIMEOUT_MS_MAX = 5_000
TIMEOUT_MS_DEFAULT = 1_500
# An answer is reused this long for the same number: a registry's entries change over days, while
# a campaign's retries and a burst of calls to one number come within minutes.
CACHE_TTL_SECS = 300
CACHE_MAX_ENTRIES = 100_000
ANSWER_READ_LIMIT = 1_024  # bytes of the answer read: ``{"allow": false}`` needs 16
# A campaign contact whose check failed (on_error deny) is asked again after this long.
ERROR_RETRY_SECS = 60


class OnError(StrEnum):
    DENY = "deny"
    ALLOW = "allow"


@dataclass(frozen=True, slots=True)
class DndConfig:
    """One partner's check as the call path uses it; ``version`` changes whenever it is set again,
    so answers remembered for an earlier URL are never reused."""

    partner_id: str
    url: str
    timeout_ms: int
    on_error: OnError
    secret: str
    version: str


@dataclass(frozen=True, slots=True)
class Verdict:
    allow: bool
    error: str | None = None  # why the check could not answer (then ``allow`` is ``on_error``'s)


def read_answer(status_code: int, body: bytes) -> bool | None:
    """``allow`` from the receiver's answer; None when the answer is not one."""
    if not 200 <= status_code < 300:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:  # also UnicodeDecodeError
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("allow"), bool):
        return None
    return bool(parsed["allow"])


def on_error_verdict(on_error: OnError, why: str) -> Verdict:
    return Verdict(allow=on_error is OnError.ALLOW, error=why)


def denied_message(phone: str, verdict: Verdict) -> str:
    if verdict.error is None:
        return f"{phone} must not be called: this account's DND check answered allow: false"
    return f"{phone} was not called: this account's DND check failed ({verdict.error}) and its on_error is deny"


class AnswerCache:
    """Answers by (partner, check version, number), each kept ``ttl`` seconds; the oldest go first
    past ``max_entries``. Only real answers are kept: an error is asked again next time."""

    def __init__(
        self,
        *,
        ttl: float = CACHE_TTL_SECS,
        max_entries: int = CACHE_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._entries: OrderedDict[tuple[str, str, str], tuple[bool, float]] = OrderedDict()

    def get(self, config: DndConfig, phone: str) -> bool | None:
        key = (config.partner_id, config.version, phone)
        found = self._entries.get(key)
        if found is None:
            return None
        if found[1] <= self.clock():
            del self._entries[key]
            return None
        return found[0]

    def put(self, config: DndConfig, phone: str, allow: bool) -> None:
        key = (config.partner_id, config.version, phone)
        self._entries.pop(key, None)
        self._entries[key] = (allow, self.clock() + self.ttl)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
