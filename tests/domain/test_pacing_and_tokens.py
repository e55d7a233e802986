"""Dial pacing and per-call tokens."""

from __future__ import annotations

import pytest

from callwright.domain.call_tokens import TokenPurpose, call_token, verify_call_token
from callwright.domain.pacing import TokenBucket, max_in_any_window


def test_bucket_spaces_requests_at_the_rate():
    bucket = TokenBucket(rate=2.0)
    waits = [bucket.reserve(0.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    send_times = [0.0 + w for w in waits]
    assert max_in_any_window(send_times) == 2


def test_bucket_refills_over_time_up_to_burst():
    bucket = TokenBucket(rate=1.0, burst=3.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve(0.0) == pytest.approx(1.0)
    assert bucket.reserve(100.0) == 0.0  # refilled, capped at burst
    assert [bucket.reserve(100.0) for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve(100.0) == pytest.approx(1.0)


def test_bucket_rejects_nonsense():
    with pytest.raises(ValueError):
        TokenBucket(rate=0)


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
