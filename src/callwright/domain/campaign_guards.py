"""Guards on a campaign's dialling: the failure-rate circuit breaker and caller-ID rotation.

The circuit breaker pauses a running campaign when too many of its latest dials failed at the
carrier: a carrier account out of balance, a caller ID the carrier refuses, a trunk down. Only
``failed`` (the carrier took the dial, the call failed) and ``carrier_refused`` (the carrier
refused the dial request) count as failures: busy, no answer and voicemail are the recipients'
doing and say nothing about the carrier. Attempts our side withdrew (``not_dialed``) or never
dialled (``suppressed``) are not dials and are not counted at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from callwright.domain.campaign_retries import AttemptOutcome

FAILURE_RATE_DEFAULT = 0.5
WINDOW_DEFAULT = 20
WINDOW_MIN = 2
WINDOW_MAX = 1_000
CALLER_IDS_MAX = 50

FAILURES = frozenset({AttemptOutcome.FAILED, AttemptOutcome.CARRIER_REFUSED})
NOT_DIALS = frozenset({AttemptOutcome.NOT_DIALED, AttemptOutcome.SUPPRESSED})
DIALS = tuple(outcome for outcome in AttemptOutcome if outcome not in NOT_DIALS)


@dataclass(frozen=True, slots=True)
class CircuitBreaker:
    """Trip when at least ``failure_rate`` of the last ``window`` settled dials failed."""

    failure_rate: float = FAILURE_RATE_DEFAULT
    window: int = WINDOW_DEFAULT

    def __post_init__(self) -> None:
        if not 0 < self.failure_rate <= 1:
            raise ValueError("failure_rate must be above 0 and at most 1")
        if not WINDOW_MIN <= self.window <= WINDOW_MAX:
            raise ValueError(f"window must be between {WINDOW_MIN} and {WINDOW_MAX} dials")

    def trip_reason(self, latest: Sequence[AttemptOutcome]) -> str | None:
        """Why the campaign must pause, given its latest settled dials' outcomes (newest first,
        at least ``window`` of them when it has had that many); None while it may go on. Fewer
        than ``window`` dials never trip it: two failures of the first three say little."""
        recent = [outcome for outcome in latest if outcome not in NOT_DIALS][: self.window]
        if len(recent) < self.window:
            return None
        failures = sum(1 for outcome in recent if outcome in FAILURES)
        if failures < self.failure_rate * self.window:
            return None
        return (
            f"circuit breaker: {failures} of the last {self.window} dials failed at the carrier "
            f"(the limit is {self.failure_rate:.0%}); check the carrier account and resume"
        )


def breaker_from_json(stored: dict[str, Any] | None) -> CircuitBreaker | None:
    if stored is None:
        return None
    return CircuitBreaker(
        failure_rate=float(stored.get("failure_rate", FAILURE_RATE_DEFAULT)),
        window=int(stored.get("window", WINDOW_DEFAULT)),
    )


def breaker_to_json(breaker: CircuitBreaker | None) -> dict[str, Any] | None:
    if breaker is None:
        return None
    return {"failure_rate": breaker.failure_rate, "window": breaker.window}


def caller_id_for(caller_ids: Sequence[str], default: str, *, position: int, attempt_number: int) -> str:
    """The caller ID of one attempt: ``caller_ids`` taken in turn by the contact's position in
    the campaign plus its attempt number, so consecutive contacts use consecutive numbers and a
    contact's retry uses the next one. Derived from stored values only: the same after a restart,
    on any scheduler. No caller IDs: the connection's own number."""
    if not caller_ids:
        return default
    return caller_ids[(position + attempt_number - 1) % len(caller_ids)]
