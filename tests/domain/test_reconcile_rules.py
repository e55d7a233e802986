"""Which calls the reconciler must look at, and how a call nobody can ask about is closed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from callwright.domain.calls import CallState, CallStatus, Disposition
from callwright.domain.reconcile import (
    MEDIA_LOST,
    NEVER_CONFIRMED,
    UNASKABLE_CALL_MAX_SECS,
    Attention,
    CallWatch,
    bound_end,
    close_untracked,
    is_outcome_unknown,
    needs_attention,
    outcome_unknown_note,
    outcome_unknown_reason,
    reason_for_ended,
    reason_for_hangup,
    reason_for_unaskable,
    reason_for_unknown,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOUND = 180.0


def watch(**changes) -> CallWatch:  # type: ignore[no-untyped-def]
    base = CallWatch(
        status=CallStatus.IN_PROGRESS,
        dial_state="dialed",
        provider_call_id="CA123",
        last_activity=NOW - timedelta(seconds=BOUND + 1),
        media_started=True,
        media_ended=False,
        media_on_this_node=False,
        carrier_has_status_api=True,
    )
    return replace(base, **changes)


def attention(w: CallWatch) -> Attention | None:
    return needs_attention(w, now=NOW, silent_secs=BOUND)


def test_a_silent_call_with_an_id_is_asked_about():
    assert attention(watch()) is Attention.ASK_CARRIER
    assert attention(watch(status=CallStatus.RINGING, media_started=False)) is Attention.ASK_CARRIER


def test_a_call_touched_within_the_bound_is_left_alone():
    assert attention(watch(last_activity=NOW - timedelta(seconds=BOUND - 1))) is None


def test_media_carried_here_is_never_lost():
    assert attention(watch(media_on_this_node=True)) is None


@pytest.mark.parametrize("status", [s for s in CallStatus if s.is_terminal])
def test_terminal_calls_are_done(status):
    assert attention(watch(status=status)) is None


@pytest.mark.parametrize("dial_state", ["queued", "claimed", "dialing", "failed", "canceled"])
def test_calls_still_the_dialers_are_not_touched(dial_state):
    assert attention(watch(dial_state=dial_state, status=CallStatus.PENDING)) is None


def test_an_unconfirmed_dial_with_no_word_from_the_carrier_is_closed_as_never_confirmed():
    w = watch(status=CallStatus.PENDING, dial_state="unconfirmed", provider_call_id=None, media_started=False)
    assert attention(w) is Attention.NEVER_CONFIRMED


def test_an_unconfirmed_dial_the_carrier_then_reported_on_is_asked_about():
    w = watch(status=CallStatus.RINGING, dial_state="unconfirmed", media_started=False)
    assert attention(w) is Attention.ASK_CARRIER


def test_an_answered_call_we_cannot_ask_about_waits_for_the_carriers_time_limit():
    w = watch(carrier_has_status_api=False, media_started=False, max_call_duration_secs=600)
    assert attention(w) is None
    long_ago = NOW - timedelta(seconds=600 + 30 + BOUND + 1)
    assert attention(replace(w, last_activity=long_ago)) is Attention.CANNOT_ASK


def test_without_a_time_limit_an_unaskable_answered_call_gets_the_long_bound():
    w = watch(carrier_has_status_api=False, media_started=False)
    assert attention(replace(w, last_activity=NOW - timedelta(seconds=3600))) is None
    ancient = NOW - timedelta(seconds=UNASKABLE_CALL_MAX_SECS + 1)
    assert attention(replace(w, last_activity=ancient)) is Attention.CANNOT_ASK


def test_an_unaskable_call_never_answered_is_closed_after_the_plain_bound():
    w = watch(carrier_has_status_api=False, status=CallStatus.RINGING, media_started=False)
    assert attention(w) is Attention.CANNOT_ASK


def test_a_call_with_no_carrier_id_cannot_be_asked_about():
    w = watch(provider_call_id=None, status=CallStatus.RINGING, media_started=False)
    assert attention(w) is Attention.CANNOT_ASK


def test_reasons_say_the_media_was_lost_when_it_was():
    lost = watch()
    assert reason_for_ended(lost) == MEDIA_LOST
    assert reason_for_hangup(lost, "Plivo", BOUND).startswith(MEDIA_LOST)
    assert reason_for_unknown(lost, "Twilio").startswith(MEDIA_LOST)
    assert "Twilio has no record" in reason_for_unknown(lost, "Twilio")
    assert reason_for_unaskable(lost, "MCube", BOUND).startswith(MEDIA_LOST)
    assert reason_for_ended(watch(media_ended=True)) is None


def test_hangup_reasons_name_the_carrier_and_what_was_wrong():
    no_media = watch(media_started=False)
    assert "no media stream reached Callwright" in reason_for_hangup(no_media, "Exotel", BOUND)
    ringing = watch(status=CallStatus.RINGING, media_started=False)
    assert "unanswered after 180 s" in reason_for_hangup(ringing, "Twilio", BOUND)


def test_an_answered_call_closed_without_the_carrier_completes_at_its_last_sign_of_life():
    answered = NOW - timedelta(seconds=100)
    state = CallState(status=CallStatus.IN_PROGRESS, answered_at=answered, started_at=answered)
    last_seen = NOW - timedelta(seconds=40)
    closed = close_untracked(state, at=last_seen, reason=MEDIA_LOST)
    assert closed is not None
    assert (closed.status, closed.disposition) == (CallStatus.COMPLETED, Disposition.COMPLETED)
    assert (closed.ended_at, closed.duration_seconds, closed.end_reason) == (last_seen, 60, MEDIA_LOST)


def test_an_unanswered_call_closed_without_the_carrier_failed():
    closed = close_untracked(CallState(), at=NOW, reason=NEVER_CONFIRMED)
    assert closed is not None
    assert (closed.status, closed.disposition, closed.end_reason) == (
        CallStatus.FAILED,
        Disposition.FAILED,
        NEVER_CONFIRMED,
    )
    assert close_untracked(closed, at=NOW, reason="again") is None


def test_a_reason_already_given_is_kept():
    state = CallState(status=CallStatus.RINGING, end_reason="ended by partner request")
    closed = close_untracked(state, at=NOW, reason=NEVER_CONFIRMED)
    assert closed is not None and closed.end_reason == "ended by partner request"


# --- carriers whose connected calls never reach us (MCube): silence proves nothing -------------


def _mcube(**changes) -> CallWatch:  # type: ignore[no-untyped-def]
    fields = {"carrier_has_status_api": False, "connected_call_reaches_us": False, "media_started": False}
    return watch(**({"provider_call_id": None} | fields | changes))


def test_an_unconfirmed_dial_silence_cannot_disprove_waits_for_the_time_bound():
    w = _mcube(status=CallStatus.PENDING, dial_state="unconfirmed")
    assert attention(w) is None  # silent longer than the plain bound, but maybe connected
    assert attention(replace(w, last_activity=NOW - timedelta(hours=3))) is None
    past = replace(w, last_activity=NOW - timedelta(seconds=UNASKABLE_CALL_MAX_SECS + 1))
    assert attention(past) is Attention.OUTCOME_UNKNOWN


def test_a_dialed_call_silence_cannot_disprove_is_not_closed_as_unanswered_early():
    w = _mcube(status=CallStatus.RINGING, provider_call_id="mc-1")
    assert attention(w) is None
    ancient = replace(w, last_activity=NOW - timedelta(seconds=UNASKABLE_CALL_MAX_SECS + 1))
    assert attention(ancient) is Attention.CANNOT_ASK


def test_the_bound_is_stated_and_then_gives_way_to_the_reason_the_call_was_closed():
    w = _mcube(status=CallStatus.PENDING, dial_state="unconfirmed")
    settles_at = bound_end(w, BOUND)
    assert settles_at == w.last_activity + timedelta(seconds=UNASKABLE_CALL_MAX_SECS)
    note = outcome_unknown_note("MCube", settles_at)
    assert is_outcome_unknown(note) and settles_at.strftime("%Y-%m-%dT%H:%M:%SZ") in note
    reason = outcome_unknown_reason("MCube", settles_at)
    closed = close_untracked(CallState(end_reason=note), at=NOW, reason=reason)
    assert closed is not None
    assert (closed.status, closed.end_reason) == (CallStatus.FAILED, reason)
    assert "settled by the time bound at" in reason


def test_orphaned_media_reason_puts_the_lost_node_first_and_keeps_our_own_words():
    from callwright.domain.end_reasons import EndReason
    from callwright.domain.reconcile import MEDIA_LOST, reason_for_orphaned_media

    assert reason_for_orphaned_media(None) == MEDIA_LOST
    assert reason_for_orphaned_media("End Of XML Instructions") == (
        f"{MEDIA_LOST}; the carrier then ended it (End Of XML Instructions)"
    )
    ours = EndReason.ENDED_BY_AGENT.words
    assert reason_for_orphaned_media(ours) == ours
    assert reason_for_orphaned_media(MEDIA_LOST) == MEDIA_LOST
