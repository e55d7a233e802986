"""Which calls the platform has lost track of, and how each is closed. Pure rules.

A call is *silent* when nothing has touched it (carrier callback, media event, media heartbeat)
for ``silent_secs``. A silent, non-terminal call that the dialer has handed over (``dialed``, or
``unconfirmed``: the dial request's outcome is unknown) needs the reconciler:

- with a carrier call id and a carrier that has a call-status API: ask the carrier;
- ``unconfirmed`` with no carrier call id and no word from the carrier: close it as never placed
  (it is never dialled again, so a dial is at most once) — but only where a connected call would
  have reached us (its answer request, its media stream). MCube bridges the call on its side and
  reports only by webhook: there, silence proves nothing, and the call's outcome stays unknown
  until MCube's webhook or the time bound settles it; the bound's end is written on the call
  (``end_reason``) from the moment the dial became unconfirmed;
- otherwise (no status API, or no id to ask with): close it once it must be over — the carrier's
  own time limit for an answered call, or ``silent_secs`` for one never answered (for a carrier
  whose connected calls never reach us, the longest a call can last, whatever we last heard).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from callwright.domain.calls import CallEvent, CallState, CallStatus, EventKind, apply_event
from callwright.domain.dialing import HANDED_OVER, DialState
from callwright.domain.end_reasons import EndReason

# An answered call we cannot ask about, with no time limit of its own, is closed after this long
# without a word (Exotel's own cap on a call is 4 h).
UNASKABLE_CALL_MAX_SECS = 4 * 3600
# The dialer sets the carrier's time limit this much above the agent's maximum duration.
CARRIER_TIME_LIMIT_MARGIN_SECS = 30
# The longest a carrier lets a call ring: Twilio's `Timeout` goes up to 600 s (its "Making calls"
# page), Plivo's and Vobiz's `ring_timeout` less. A call the carrier says still rings is left to
# ring until then (its own ring timeout ends it), plus a margin; past it, it is hung up.
RING_MAX_SECS = 600 + 60

MEDIA_LOST = "media stream lost: the server carrying the call stopped before the call ended"
NEVER_CONFIRMED = (
    "the carrier never confirmed the dial request (no answer to it, and no callback since); "
    "it was not dialled again, to avoid calling twice"
)


OUTCOME_UNKNOWN = "outcome unknown: "


class Attention(StrEnum):
    ASK_CARRIER = "ask_carrier"
    NEVER_CONFIRMED = "never_confirmed"
    CANNOT_ASK = "cannot_ask"
    OUTCOME_UNKNOWN = "outcome_unknown"  # an unconfirmed dial nobody can ask about, past its bound


@dataclass(frozen=True, slots=True)
class CallWatch:
    """What the reconciler knows about one call without asking the carrier."""

    status: CallStatus
    dial_state: DialState
    provider_call_id: str | None
    last_activity: datetime  # the last time anything touched the call
    media_started: bool
    media_ended: bool
    media_on_this_node: bool
    carrier_has_status_api: bool
    max_call_duration_secs: int | None = None
    # Whether a connected call reaches us while it runs (the carrier fetches its answer document
    # or opens its media stream), so that hearing nothing means nothing connected. Not MCube's.
    connected_call_reaches_us: bool = True

    @property
    def media_lost(self) -> bool:
        """Its media stream started and never reported its end: the server carrying it died."""
        return self.media_started and not self.media_ended and not self.media_on_this_node


def needs_attention(watch: CallWatch, *, now: datetime, silent_secs: float) -> Attention | None:
    if watch.status.is_terminal or watch.media_on_this_node:
        return None
    if watch.dial_state not in HANDED_OVER:
        return None  # still the dialer's (queued, claimed, dialing under a lease)
    silent = (now - watch.last_activity).total_seconds()
    if silent < silent_secs:
        return None
    if watch.provider_call_id and watch.carrier_has_status_api:
        return Attention.ASK_CARRIER
    unconfirmed = watch.dial_state == DialState.UNCONFIRMED and watch.status is CallStatus.PENDING
    if unconfirmed and watch.connected_call_reaches_us:
        return Attention.NEVER_CONFIRMED
    if silent < unaskable_bound_secs(watch, silent_secs):
        return None
    return Attention.OUTCOME_UNKNOWN if unconfirmed else Attention.CANNOT_ASK


def unaskable_bound_secs(watch: CallWatch, silent_secs: float) -> float:
    """How long a call we cannot ask about may stay silent before it must be over."""
    if not watch.connected_call_reaches_us:
        return silent_bound_secs(silent_secs)
    if watch.status is not CallStatus.IN_PROGRESS:
        return silent_secs  # a call not answered rings out long before this
    if watch.max_call_duration_secs:
        limit = watch.max_call_duration_secs + CARRIER_TIME_LIMIT_MARGIN_SECS
        return max(silent_secs, limit + silent_secs)
    return max(silent_secs, UNASKABLE_CALL_MAX_SECS)


def silent_bound_secs(silent_secs: float) -> float:
    """How long a call may be connected, unheard, on a carrier whose connected calls never reach
    us and which takes no time limit from us (MCube): the longest a call can last."""
    return max(silent_secs, UNASKABLE_CALL_MAX_SECS)


def outcome_unknown_note(carrier_name: str, settles_at: datetime) -> str:
    """Written on a call whose dial's outcome is unknown, while it waits for the carrier's word."""
    return (
        f"{OUTCOME_UNKNOWN}{carrier_name} has no status API and reports a connected call only by "
        f"webhook; the call stays open for that webhook and is settled by the time bound at "
        f"{_when(settles_at)} if none comes"
    )


def outcome_unknown_reason(carrier_name: str, settled_at: datetime) -> str:
    """Why an unconfirmed call nobody could ask about was closed at its time bound."""
    return (
        f"{OUTCOME_UNKNOWN}{carrier_name} has no status API and sent no webhook for this call; "
        f"settled by the time bound at {_when(settled_at)}"
    )


def is_outcome_unknown(end_reason: str | None) -> bool:
    return bool(end_reason) and str(end_reason).startswith(OUTCOME_UNKNOWN)


def bound_end(watch: CallWatch, silent_secs: float) -> datetime:
    """When a call we cannot ask about is settled by the time bound."""
    return watch.last_activity + timedelta(seconds=unaskable_bound_secs(watch, silent_secs))


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def reason_for_ended(watch: CallWatch) -> str | None:
    """Our own account of why a call the carrier reports ended ended, when we know better than
    its hang-up words (None: keep the carrier's words)."""
    return MEDIA_LOST if watch.media_lost else None


def reason_for_orphaned_media(stored: str | None) -> str:
    """The end reason of a call the carrier ended while the node carrying its media died (the
    carrier's hang-up callback reached another node, but no node stored the stream's end).

    Our own words (the agent ended it, the partner did) stand: the node stored them before it
    died. Otherwise the carrier's words say what the carrier saw after our stream went away
    ("End Of XML Instructions" once the socket closed): the cause was the node, so the reason says
    so first and keeps the carrier's words after it."""
    if EndReason.from_words(stored) is not None or (stored or "").startswith(MEDIA_LOST):
        return str(stored)
    return f"{MEDIA_LOST}; the carrier then ended it ({stored})" if stored else MEDIA_LOST


def left_ringing(watch: CallWatch, carrier_events: tuple[CallEvent, ...], *, rang_since: datetime, now: datetime) -> bool:
    """The carrier says this call still rings (not answered, ours never streamed it): it is left
    alone, however long nothing was heard, until the longest ring any carrier allows is over."""
    if watch.media_started or watch.status is CallStatus.IN_PROGRESS:
        return False
    if any(event.kind is EventKind.ANSWERED for event in carrier_events):
        return False
    return (now - rang_since).total_seconds() < RING_MAX_SECS


def reason_for_hangup(watch: CallWatch, carrier_name: str, silent_secs: float) -> str:
    """Why we hang up a call the carrier still holds while no media session of ours carries it."""
    if watch.media_lost:
        return f"{MEDIA_LOST}; Callwright hung it up"
    if watch.status is CallStatus.IN_PROGRESS:
        return (
            f"{carrier_name} kept the call connected but no media stream reached Callwright; "
            "Callwright hung it up"
        )
    return (
        f"{carrier_name} still had the call unanswered after {silent_secs:.0f} s without a "
        "callback; Callwright hung it up"
    )


def reason_for_unknown(watch: CallWatch, carrier_name: str) -> str:
    """The carrier has no record of the call under the id we hold."""
    lost = f"{MEDIA_LOST}; " if watch.media_lost else ""
    return f"{lost}{carrier_name} has no record of this call and sent no final callback"


def reason_for_unaskable(watch: CallWatch, carrier_name: str, silent_secs: float) -> str:
    if watch.media_lost:
        return f"{MEDIA_LOST}; {carrier_name} sent no final callback and cannot be asked"
    return (
        f"{carrier_name} sent no final callback within {silent_secs:.0f} s and offers no way "
        "to ask about the call; closed by Callwright"
    )


def close_untracked(state: CallState, *, at: datetime, reason: str) -> CallState | None:
    """Close a call without the carrier's word: an answered call has completed, any other failed.

    ``at`` is the last moment the call was known to be alive, not when we noticed."""
    if state.status.is_terminal:
        return None
    outcome = CallStatus.COMPLETED if state.status is CallStatus.IN_PROGRESS else CallStatus.FAILED
    event = CallEvent(EventKind.ENDED, at=at, outcome=outcome)
    # A note that the outcome is unknown gives way to the reason the call was closed.
    kept = None if is_outcome_unknown(state.end_reason) else state.end_reason
    return apply_event(replace(state, end_reason=kept or reason), event)
