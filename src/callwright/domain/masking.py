"""How identifiers are shown back to partners. Secrets are never shown at all."""

from __future__ import annotations

# GET /config shows a configured account identifier only as this placeholder ("configured", masked).
CONFIGURED_PLACEHOLDER = "conf****ured"


def mask_identifier(value: str) -> str:
    """First 4 characters + ``****`` + last 4 (``MA_XXXXXXXX`` → ``MA_X****XXXX``).

    Values of 8 characters or fewer would be shown whole by that rule, so they are fully starred.
    """
    if len(value) <= 8:
        return "*" * len(value)
    return f"{value[:4]}****{value[-4:]}"
