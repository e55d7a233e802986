"""The dialer's queue states (``calls.dial_state``) and the moves between them.

    queued ──claim──▶ claimed ──about to send──▶ dialing ──▶ dialed | failed | unconfirmed
       ▲                 │ (lease expired: nothing was sent)        │
       └─────────────────┴──────── retryable refusal ◀──────────────┘

A ``dialing`` call may already be ringing somewhere, so it never goes back to ``claimed``; only a
refusal the carrier guarantees it did not act on requeues it. ``unconfirmed`` (the dial's outcome
is unknown) is settled by the carrier's callbacks or, failing those, closed by the reconciler.
``dialed``, ``failed`` and ``canceled`` are final.
"""

from __future__ import annotations

from enum import StrEnum


class DialState(StrEnum):
    QUEUED = "queued"  # waiting for the dialer (the calls table is its durable queue)
    CLAIMED = "claimed"  # taken by a dialer under a lease; nothing sent yet
    DIALING = "dialing"  # the request to the carrier is (about to be) in flight
    DIALED = "dialed"  # the carrier took it
    UNCONFIRMED = "unconfirmed"  # the request may have reached the carrier: never sent again
    FAILED = "failed"
    CANCELED = "canceled"  # ended before it was sent

    @property
    def is_final(self) -> bool:
        return not DIAL_MOVES[self]

    def can_become(self, other: DialState) -> bool:
        return other in DIAL_MOVES[self]


DIAL_MOVES: dict[DialState, frozenset[DialState]] = {
    DialState.QUEUED: frozenset({DialState.CLAIMED, DialState.CANCELED}),
    DialState.CLAIMED: frozenset(
        {
            DialState.QUEUED,  # the claim's lease expired before anything was sent
            DialState.DIALING,
            DialState.CANCELED,  # the call ended while it waited for its pacing
            DialState.FAILED,  # its carrier credentials could not be read
        }
    ),
    DialState.DIALING: frozenset(
        {
            DialState.DIALED,
            DialState.FAILED,
            DialState.UNCONFIRMED,
            DialState.QUEUED,  # a refusal the carrier did not act on: retried later
        }
    ),
    DialState.UNCONFIRMED: frozenset(
        {
            DialState.DIALED,  # the carrier's answer to the dial came after all
            DialState.FAILED,  # the dial failed after all, or the reconciler closed the call
        }
    ),
    DialState.DIALED: frozenset(),
    DialState.FAILED: frozenset(),
    DialState.CANCELED: frozenset(),
}
# The states in which the reconciler watches a call: the dialer has handed it over.
HANDED_OVER = frozenset({DialState.DIALED, DialState.UNCONFIRMED})


class IllegalDialMove(ValueError):
    """A move the dialer's queue does not allow: a bug, never a carrier's doing."""


def dial_move(current: str, to: DialState) -> DialState:
    """``to``, when a call in ``current`` may move there; raises ``IllegalDialMove`` otherwise."""
    state = DialState(current)
    if not state.can_become(to):
        raise IllegalDialMove(f"a call cannot go from dial state {state} to {to}")
    return to
