"""Dial pacing and per-call tokens."""

from __future__ import annotations

import pytest

from callwright.domain.call_tokens import TokenPurpose, call_token, verify_call_token
from callwright.domain.pacing import SendSpacing, max_in_any_window


def test_spacing_is_measured_from_the_actual_send():
    spacing = SendSpacing(interval=0.5)
    assert spacing.delay(10.0) == 0.0
    spacing.sent(10.0)
    assert spacing.delay(10.0) == pytest.approx(0.5)
    assert spacing.delay(10.3) == pytest.approx(0.2)
    assert spacing.delay(11.0) == 0.0
    # A request that left late (a stalled loop) pushes the next one later too: no bunching.
    spacing.sent(12.0)
    assert spacing.delay(12.1) == pytest.approx(0.4)


def test_spaced_sends_never_exceed_the_rate_in_any_window():
    spacing, now, sent = SendSpacing(interval=1 / 2), 0.0, []
    for stall in [0.0, 0.7, 0.0, 0.0, 1.3, 0.0, 0.0]:
        now += stall + spacing.delay(now)
        spacing.sent(now)
        sent.append(now)
    assert max_in_any_window(sent) == 2


def test_spacing_rejects_nonsense():
    with pytest.raises(ValueError):
        SendSpacing(interval=0)


def test_max_in_any_window():
    assert max_in_any_window([]) == 0
    assert max_in_any_window([0.0, 0.99, 1.0, 1.5, 1.98]) == 4  # [0.99, 1.99)
    assert max_in_any_window([0.0, 1.0, 2.0]) == 1


def test_tokens_are_bound_to_call_and_purpose():
    key = b"k" * 32
    token = call_token(key, "call-1", TokenPurpose.MEDIA)
    assert verify_call_token([key], "call-1", TokenPurpose.MEDIA, token)
    assert not verify_call_token([key], "call-2", TokenPurpose.MEDIA, token)
    assert not verify_call_token([key], "call-1", TokenPurpose.CALLBACK, token)
    assert not verify_call_token([b"x" * 32], "call-1", TokenPurpose.MEDIA, token)
    assert not verify_call_token([key], "call-1", TokenPurpose.MEDIA, None)
    assert not verify_call_token([key], "call-1", TokenPurpose.MEDIA, token[:-1] + "A")
    # an older key still verifies during a rotation
    assert verify_call_token([b"new" * 11, key], "call-1", TokenPurpose.MEDIA, token)
    assert len(token) >= 43


def test_no_more_than_the_burst_limit_leave_in_any_window():
    """Five may leave 0.22 s apart; the sixth waits until the first is a full window behind."""
    spacing = SendSpacing(interval=0.22, burst_limit=5, burst_window=1.2)
    now, sent = 0.0, []
    while len(sent) < 11:
        now += spacing.delay(now)
        spacing.sent(now)
        sent.append(now)
    assert sent[:5] == pytest.approx([0.0, 0.22, 0.44, 0.66, 0.88])
    assert sent[5] == pytest.approx(1.2)  # not 1.1: the window, not the interval, holds it
    assert max_in_any_window(sent, window=1.2 - 1e-9) == 5
