"""Lists of numbers from a partner (campaign contacts, suppression entries): every one E.164."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from callwright.domain.errors import CallwrightError
from callwright.domain.phone import E164_RULE, is_e164

ERRORS_SHOWN = 20


class Numbered(Protocol):
    @property
    def phone(self) -> str: ...

    @property
    def where(self) -> str:
        """How an error names the number: "contacts[3].phone", "line 4: phone"."""
        ...

    @property
    def field(self) -> str:
        """The request field an error points at: "contacts[3].phone", "file"."""
        ...


class InvalidNumbers(CallwrightError):
    status_code = 400
    code = "validation_error"


def check_numbers(items: Sequence[Numbered]) -> None:
    """Raise InvalidNumbers naming the first few numbers that are not E.164."""
    bad = [item for item in items if not is_e164(item.phone)]
    if not bad:
        return
    details = [
        {"field": item.field, "message": f"{item.where} {E164_RULE} (got {item.phone[:32]!r})"}
        for item in bad[:ERRORS_SHOWN]
    ]
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    raise InvalidNumbers(details[0]["message"] + more, details=details)
