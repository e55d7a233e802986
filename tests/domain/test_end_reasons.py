"""Why a call ended, in our words: every reason, how the call record words it, and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callwright.domain.calls import CallEvent, CallState, CallStatus, EventKind, apply_event, cancel, fail
from callwright.domain.end_reasons import EndReason

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

WORDS = {
    EndReason.CALLER_HUNG_UP: "caller hung up",
    EndReason.MEDIA_STREAM_LOST: "media stream lost",
    EndReason.ENDED_BY_PLATFORM: "ended by platform",
    EndReason.ENDED_BY_AGENT: "ended by agent",
    EndReason.MAX_DURATION: "max duration",
    EndReason.SILENCE_TIMEOUT: "silence timeout",
    EndReason.VOICEMAIL: "voicemail",
    EndReason.TRANSFERRED: "transferred",
    EndReason.ERROR: "error",
    EndReason.ENDED_BY_PARTNER_REQUEST: "ended by partner request",
    EndReason.NUMBER_SUPPRESSED: "number suppressed",
    EndReason.PLATFORM_SHUTTING_DOWN: "platform shutting down",
    EndReason.CAMPAIGN_PAUSED: "campaign paused",
    EndReason.CAMPAIGN_CANCELED: "campaign canceled",
    EndReason.CALL_COMPLETED: "call completed",
    EndReason.CALL_FAILED: "call failed",
    EndReason.NO_ANSWER: "no answer",
    EndReason.LINE_BUSY: "line busy",
    EndReason.CALL_CANCELED: "call canceled",
}


def test_every_reason_has_its_words():
    assert set(WORDS) == set(EndReason)


@pytest.mark.parametrize(("reason", "words"), list(WORDS.items()))
def test_the_words_round_trip(reason, words):
    assert reason.words == words
    assert EndReason.from_words(words) is reason
    assert EndReason(reason.value) is reason


@pytest.mark.parametrize("text", [None, "", "NORMAL_CLEARING", "Vobiz refused the call: 400", "ended by the test"])
def test_anyone_elses_words_are_no_reason_of_ours(text):
    assert EndReason.from_words(text) is None


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (CallStatus.COMPLETED, EndReason.CALL_COMPLETED),
        (CallStatus.FAILED, EndReason.CALL_FAILED),
        (CallStatus.CANCELED, EndReason.CALL_CANCELED),
    ],
)
def test_a_carrier_outcome_without_words_gets_ours(outcome, reason):
    state = apply_event(CallState(), CallEvent(EventKind.ENDED, at=T0, outcome=outcome))
    assert state is not None and state.end_reason == reason.words


def test_our_own_endings_keep_the_reason_given():
    reason = EndReason.ENDED_BY_PARTNER_REQUEST.words
    canceled = cancel(CallState(), at=T0, reason=reason)
    assert canceled is not None and canceled.end_reason == "ended by partner request"
    failed = fail(CallState(), at=T0, reason="Vobiz refused the call")
    assert failed is not None and EndReason.from_words(failed.end_reason) is None
