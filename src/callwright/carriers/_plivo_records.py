"""Plivo's and Vobiz's call records in our words: a live or queued call, and a finished call's
record (Plivo's Call object, Vobiz's CDR), which carries no ``call_status`` at all.

A finished record says the call is over by its ``end_time`` and how by its hang-up cause code
(plivo.com/docs/voice/troubleshooting/hangup-causes, mirrored by docs.vobiz.ai/concepts/hangup-causes):
0 Unknown; 1000–1020 canceled before answer (1000 by the Hangup API, 1010 out of credits, 1020
simultaneous dial limit); 2000–2070 destination issues; 3000s the called party's (3000 Busy
Line); 4000–4030 normal completions. Our outcome from it is in ``outcome_for``; see
docs/carriers-fidelity.md for which parts of the mapping are guesses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callwright.carriers._wire import as_int, text
from callwright.domain.calls import CallEvent, CallStatus, EventKind

# Codes the tables name: 1000 Canceled (by the Hangup Call API, before answer), 3000 Busy Line.
CANCELED_BY_API = 1000
BUSY_LINE = 3000
# Guess: Plivo's 3010 "Rejected" (the called party declined) reads as busy, as a decline does on
# the callback's CallStatus elsewhere; the table gives no CallStatus per code.
REJECTED = 3010


def outcome_for(code: int | None, *, answered: bool) -> CallStatus:
    """Our outcome for a finished call, from its hang-up cause code and whether it was answered."""
    if code == CANCELED_BY_API and not answered:
        return CallStatus.CANCELED
    if answered:
        return CallStatus.COMPLETED  # an answered call completed, whoever hung up
    if code is None:
        return CallStatus.FAILED
    if code in (BUSY_LINE, REJECTED):
        return CallStatus.BUSY
    if 3000 <= code < 4000:
        return CallStatus.NO_ANSWER
    if 4000 <= code < 5000:
        return CallStatus.COMPLETED
    # 1010/1020 (the carrier's own refusal), 2000s (destination), 0 Unknown, anything newer.
    return CallStatus.FAILED


def live_events(record: Mapping[str, Any], call_id: str, at: datetime) -> list[CallEvent]:
    """``GET /Call/{uuid}/?status=live|queued``: ``call_status`` is ``in-progress``, ``ringing``
    or ``queued`` (not yet answered, which says nothing of ringing: no event)."""
    status = text(record, "call_status").lower()
    provider_call_id = text(record, "call_uuid") or call_id
    kind = {"in-progress": EventKind.ANSWERED, "ringing": EventKind.RINGING}.get(status)
    return [CallEvent(kind, at=at, provider_call_id=provider_call_id)] if kind else []


def is_finished(record: Mapping[str, Any]) -> bool:
    return bool(text(record, "end_time"))


def finished_events(record: Mapping[str, Any], call_id: str, at: datetime) -> list[CallEvent]:
    """A finished call's record (``end_time`` set): its end, with the carrier's cause in words.

    Plivo's Call object and Vobiz's CDR share ``answer_time``, ``end_time``,
    ``hangup_cause_code`` and ``hangup_cause_name``; Vobiz's CDR adds the Q.850-style
    ``hangup_cause`` and counts talk time as ``billsec`` (its ``duration`` includes ringing)."""
    code = as_int(record.get("hangup_cause_code"))
    answered = bool(text(record, "answer_time"))
    cause = text(record, "hangup_cause_name") or text(record, "hangup_cause") or None
    duration = None
    for name in ("call_duration", "billsec", "bill_duration"):
        duration = as_int(record.get(name))
        if duration is not None:
            break
    provider_call_id = text(record, "call_uuid") or text(record, "uuid") or call_id
    ended = CallEvent(
        EventKind.ENDED,
        at=at,
        provider_call_id=provider_call_id,
        outcome=outcome_for(code, answered=answered),
        hangup_cause=cause,
        duration_seconds=duration,
    )
    return [ended]
