"""Pure rules: masking, E.164, API keys."""

from __future__ import annotations

import pytest

from callwright.domain.api_keys import generate_api_key, hash_api_key, looks_like_api_key
from callwright.domain.masking import CONFIGURED_PLACEHOLDER, mask_identifier
from callwright.domain.phone import is_e164, normalize_national


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("MA_XXXXXXXX", "MA_X****XXXX"),
        ("AC0123456789abcdef0123456789abcdef", "AC01****cdef"),
        ("MAABCDEFGHIJ12345678", "MAAB****5678"),
        ("123456789", "1234****6789"),
        ("12345678", "********"),
        ("abc", "***"),
    ],
)
def test_mask_identifier_first_four_last_four(value, masked):
    assert mask_identifier(value) == masked


def test_configured_placeholder_is_configured_masked():
    assert CONFIGURED_PLACEHOLDER == mask_identifier("configured")


@pytest.mark.parametrize(
    "number", ["+918011223344", "+919876543210", "+14155550100", "+442071838750"]
)
def test_valid_e164(number):
    assert is_e164(number)


@pytest.mark.parametrize(
    "number",
    [
        "919876543210",  # no plus
        "+91 98765 43210",  # spaces
        "+9198765",  # too short for India
        "+1415555010",  # too short
        "+0123456789",  # no country code 0
        "+9198765432101234",  # too long
        "+91987654321a",
        "",
        "+",
    ],
)
def test_invalid_e164(number):
    assert not is_e164(number)


def test_normalize_national_indian_numbers():
    assert normalize_national("9876543210") == "+919876543210"
    assert normalize_national("+919876543210") == "+919876543210"
    assert normalize_national("12345") is None


def test_api_keys_are_prefixed_random_and_hashed():
    live, test = generate_api_key(), generate_api_key(test_mode=True)
    assert live.plaintext.startswith("rg_live_") and test.plaintext.startswith("rg_test_")
    assert len(live.plaintext) >= len("rg_live_") + 24
    assert live.key_hash == hash_api_key(live.plaintext) != live.plaintext
    assert len(live.key_hash) == 64
    assert generate_api_key().plaintext != live.plaintext
    assert live.display_prefix == live.plaintext[:12]
    assert looks_like_api_key(live.plaintext)
    assert not looks_like_api_key("rg_live_short")
    assert not looks_like_api_key("sk_live_" + "x" * 30)
