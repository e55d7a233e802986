"""The partner's suppression (do-not-call) list: what an entry holds, and how a call that was not
made because of one ends."""

from __future__ import annotations

from callwright.domain.end_reasons import EndReason

REASON_MAX = 500
SOURCE_MAX = 64
ENTRIES_PER_REQUEST_MAX = 10_000
# Sources the platform writes itself; a partner may name its own (its CRM, a registry scrub).
SOURCE_API = "api"
SOURCE_CSV = "csv"
SOURCE_IN_CALL = "in_call"
# ``calls.end_reason`` of a call not dialled because its number was suppressed meanwhile.
SUPPRESSED_END_REASON = EndReason.NUMBER_SUPPRESSED.words


def suppressed_message(phone: str) -> str:
    return f"{phone} is on this account's suppression list and must not be called"
