"""Resource ids as they arrive in URLs: the canonical UUID, or None for a value that cannot be one.

Every id the platform hands out is a UUID (``store.models.new_id``). A path segment that is not one
names nothing, so it is answered like a missing id (404, or a refused carrier callback / media
socket) without a query: hostile bytes such as a NUL, which PostgreSQL refuses, never reach the
store.
"""

from __future__ import annotations

import uuid

# The longest spelling uuid.UUID takes: "urn:uuid:" + 36 characters.
_MAX_LENGTH = 45


def parse_id(value: str) -> str | None:
    """``"6F1C2B8E-…"`` → ``"6f1c2b8e-…"``; None for anything that is not a UUID."""
    if len(value) > _MAX_LENGTH or not value.isascii():
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def parse_call_id(value: str) -> str | None:
    """A call id from a carrier callback's or media socket's URL (see ``parse_id``)."""
    return parse_id(value)
