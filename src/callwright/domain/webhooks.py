"""Partner webhooks: endpoint labels, signing secrets, signatures, event types and the retry schedule.

Signature (Vocobase-compatible): ``X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret,
"{timestamp}.{raw_body}")>`` where ``timestamp`` is the ``X-Webhook-Timestamp`` header (ISO-8601
UTC) and the key is the whole ``whsec_…`` secret as UTF-8.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_ENDPOINTS = 5
# The label the legacy single-webhook route (PUT /config/webhook) manages.
DEFAULT_LABEL = "default"
SECRET_PREFIX = "whsec_"
_LABEL = re.compile(r"[a-z0-9][a-z0-9-]{0,30}")


class EventType(StrEnum):
    CALL_RINGING = "call.ringing"
    CALL_ANSWERED = "call.answered"
    CALL_ENDED = "call.ended"
    SESSION_COMPLETED = "session.completed"


# What an endpoint receives unless it opts in to more: Vocobase documents this one event only.
DEFAULT_EVENTS: tuple[EventType, ...] = (EventType.SESSION_COMPLETED,)
# What every endpoint received before endpoints chose their events (migration 0005b keeps it so).
ALL_EVENTS: tuple[EventType, ...] = tuple(EventType)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # retried for the whole window without a 2xx; never tried again on its own


def label_error(label: str) -> str | None:
    """Why ``label`` is not a valid endpoint label, or None."""
    if not _LABEL.fullmatch(label):
        return (
            "label must be 1-31 characters of lowercase letters, digits and hyphens, "
            "starting with a letter or digit"
        )
    return None


def parse_events(names: list[str]) -> list[str] | str:
    """An endpoint's ``events`` list, deduplicated in ``EventType`` order; or why it is refused."""
    known = {event.value for event in EventType}
    unknown = [name for name in names if name not in known]
    if unknown:
        return (
            f"events has an unknown event {unknown[0]!r}; the events are "
            + ", ".join(event.value for event in EventType)
        )
    if not names:
        return "events must name at least one event (to stop deliveries, set enabled to false)"
    return [event.value for event in EventType if event.value in names]


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Webhook-Signature`` value for one request."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_valid(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver checks (constant-time)."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Exponential back-off: ``base × 2^(attempt-1)`` seconds, at most ``max_delay``, each spread by
    ±``jitter`` (a fraction) so endpoints that failed together are not retried in lock-step; a
    delivery is given up (dead) once the next try would fall outside ``window`` from its creation."""

    base_secs: float = 5.0
    max_delay_secs: float = 3600.0
    window_secs: float = 24 * 3600.0
    jitter: float = 0.25

    def delay_secs(self, attempt: int, rand: float) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); ``rand`` ∈ [0, 1)."""
        exponent = min(max(attempt - 1, 0), 62)  # 2**62 s is far beyond any cap
        nominal = min(self.max_delay_secs, self.base_secs * 2.0**exponent)
        return nominal * (1.0 - self.jitter + 2.0 * self.jitter * rand)

    def next_attempt_at(
        self, attempt: int, *, now: datetime, queued_at: datetime, rand: float
    ) -> datetime | None:
        """When to try again after failed attempt ``attempt``, or None: give up, it is dead."""
        at = now + timedelta(seconds=self.delay_secs(attempt, rand))
        if at > queued_at + timedelta(seconds=self.window_secs):
            return None
        return at
