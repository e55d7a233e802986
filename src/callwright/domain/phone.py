"""Phone numbers, validated as real numbers through libphonenumber (not a regex)."""

from __future__ import annotations

import phonenumbers

E164_EXAMPLE = "+919876543210"
E164_RULE = f"must be E.164, like {E164_EXAMPLE}"


def is_e164(value: str) -> bool:
    """True when ``value`` is written in E.164 (``+`` and digits) and is a valid, dialable number."""
    if not value.startswith("+") or not value[1:].isdigit() or not 8 <= len(value) <= 16:
        return False
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == value
    )


def e164_error(field: str) -> str:
    return f"{field} {E164_RULE}"


def normalize_national(value: str, region: str = "IN") -> str | None:
    """A number in E.164 or the region's national format → E.164, or None if it is not valid."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
