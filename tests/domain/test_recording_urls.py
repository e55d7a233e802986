"""Signed recording URLs: one call, until they expire, under any active key."""

from __future__ import annotations

import pytest

from callwright.domain.recording_urls import UrlCheck, check_recording_url, recording_signature

KEY, OLD_KEY, OTHER_KEY = b"k" * 32, b"o" * 32, b"x" * 32
CALL = "0b7c6a9e-4f2d-4c1e-9a55-3f1f2f0a7c11"
EXPIRES = 1_800_000_000


def check(call_id=CALL, expires=str(EXPIRES), sig=None, *, now=EXPIRES - 1, keys=(KEY,)):
    sig = recording_signature(KEY, CALL, EXPIRES) if sig is None else sig
    return check_recording_url(list(keys), call_id, expires, sig, now=now)


def test_a_url_signed_for_the_call_is_valid_until_it_expires():
    assert check() is UrlCheck.VALID
    assert check(now=EXPIRES) is UrlCheck.EXPIRED
    assert check(now=EXPIRES + 86_400) is UrlCheck.EXPIRED


def test_urls_signed_under_a_previous_key_still_open_after_a_rotation():
    assert check(keys=(OLD_KEY, KEY)) is UrlCheck.VALID
    assert check(keys=(OTHER_KEY,)) is UrlCheck.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("call_id", "expires", "sig"),
    [
        ("another-call", str(EXPIRES), None),  # a signature is for one call only
        (CALL, str(EXPIRES + 3600), None),  # a later expiry is not signed
        (CALL, str(EXPIRES), "A" * 43),
        (CALL, str(EXPIRES), ""),
        (CALL, None, None),
        (CALL, "", None),
        (CALL, "-1", None),
        (CALL, "1e9", None),
        (CALL, "١٢٣", None),  # digits, but not ASCII ones
        (CALL, "9" * 40, None),
        (CALL, str(EXPIRES), "ünïcode"),
    ],
)
def test_anything_but_the_exact_signature_is_a_bad_signature(call_id, expires, sig):
    assert check(call_id, expires, sig) is UrlCheck.BAD_SIGNATURE


def test_a_forged_url_learns_nothing_about_expiry():
    # An expired time with a wrong signature is reported as a bad signature, not as expired.
    assert check(expires="1000", sig="A" * 43, now=EXPIRES) is UrlCheck.BAD_SIGNATURE
