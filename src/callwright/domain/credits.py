"""Credits: the ₹ balance, the per-minute rate a call is billed at, and what a call costs.

As the Vocobase docs' credits page describes it: a call's connected time is billed in 15-second
buckets (any part of a bucket counts whole) at a per-minute rate; a call that never connected costs
nothing. The rate cascades agent → project → partner → the operator's default, the first one set
winning. Money is held as whole paise (₹0.01) in integers; rates are ₹ per minute, in paise too.
A call's cost is rounded to the paisa, half up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from callwright.domain.errors import Forbidden, ValidationFailed

BUCKET_SECS = 15
BUCKETS_PER_MINUTE = 60 // BUCKET_SECS
PAISE_PER_RUPEE = 100
# Bounds on what an operator may type: ₹1 crore per entry, ₹10,000 a minute.
MAX_AMOUNT_PAISE = 10_000_000 * PAISE_PER_RUPEE
MAX_RATE_PAISE = 10_000 * PAISE_PER_RUPEE


class EntryKind(StrEnum):
    """What moved a partner's balance (a ledger row): the operator's top-up or correction, or the
    charge for one call (at most one per call)."""

    TOP_UP = "top_up"
    CALL_CHARGE = "call_charge"
    ADJUSTMENT = "adjustment"


class RateSource(StrEnum):
    AGENT = "agent"
    PROJECT = "project"
    PARTNER = "partner"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Rate:
    paise_per_minute: int
    source: RateSource

    @property
    def billing_off(self) -> bool:
        return self.paise_per_minute == 0


def parse_rupees(
    value: object,
    *,
    field: str,
    allow_negative: bool = False,
    allow_zero: bool = True,
    maximum: int = MAX_AMOUNT_PAISE,
) -> int:
    """``"3.60"``, ``3.6``, ``Decimal("500")`` → paise. At most two decimal places (no fraction of
    a paisa); refused with a sentence naming ``field`` otherwise."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(field, f"{field} must be an amount in ₹, like 500 or 3.60") from None
    if not amount.is_finite():
        raise ValidationFailed(field, f"{field} must be an amount in ₹, like 500 or 3.60")
    if amount.adjusted() > 18:  # far past any maximum (and 1e999999999 would overflow below)
        raise ValidationFailed(field, f"{field} must be at most ₹{rupees_text(maximum)}")
    paise = amount * PAISE_PER_RUPEE
    if paise != paise.to_integral_value():
        raise ValidationFailed(field, f"{field} must have at most two decimal places (whole paise)")
    whole = int(paise)
    if whole < 0 and not allow_negative:
        raise ValidationFailed(field, f"{field} must not be negative")
    if whole == 0 and not allow_zero:
        raise ValidationFailed(field, f"{field} must not be zero")
    if abs(whole) > maximum:
        raise ValidationFailed(field, f"{field} must be at most ₹{rupees_text(maximum)}")
    return whole


def parse_rate(value: object, *, field: str = "rate_per_minute") -> int:
    return parse_rupees(value, field=field, maximum=MAX_RATE_PAISE)


def rupees(paise: int) -> float:
    """Paise → ₹ as a JSON number (2.12); only for showing, never for arithmetic."""
    return paise / PAISE_PER_RUPEE


def rupees_text(paise: int) -> str:
    """Paise → ``"1234.50"``."""
    sign = "-" if paise < 0 else ""
    whole, cents = divmod(abs(paise), PAISE_PER_RUPEE)
    return f"{sign}{whole}.{cents:02d}"


def effective_rate(*, agent: int | None, project: int | None, partner: int | None, default: int) -> Rate:
    """The first rate set along agent → project → partner, else the operator's default."""
    for paise, source in (
        (agent, RateSource.AGENT),
        (project, RateSource.PROJECT),
        (partner, RateSource.PARTNER),
    ):
        if paise is not None:
            return Rate(paise, source)
    return Rate(default, RateSource.DEFAULT)


def connected_seconds(*, answered_at: datetime | None, duration_seconds: int | None) -> int:
    """How long a call was connected: its duration from the answer (what the call record and the
    webhook show as ``duration_seconds``), 0 for a call that was never answered."""
    if answered_at is None or not duration_seconds:
        return 0
    return max(0, duration_seconds)


def billed_buckets(seconds: int) -> int:
    """15-second buckets, rounded up: 1 s → 1, 15 s → 1, 16 s → 2, 0 s → 0."""
    return math.ceil(seconds / BUCKET_SECS) if seconds > 0 else 0


def charge_for(buckets: int, rate_paise_per_minute: int) -> int:
    """The cost of ``buckets`` at a per-minute rate, in paise, rounded half up."""
    whole, part = divmod(buckets * rate_paise_per_minute, BUCKETS_PER_MINUTE)
    return whole + (1 if 2 * part >= BUCKETS_PER_MINUTE else 0)


def call_charge(seconds: int, rate_paise_per_minute: int) -> int:
    return charge_for(billed_buckets(seconds), rate_paise_per_minute)


def minimum_charge(rate: Rate) -> int:
    """What the shortest connected call costs: one bucket."""
    return charge_for(1, rate.paise_per_minute)


def check_can_start(*, balance_paise: int, rate: Rate) -> None:
    """A call may start only if the balance covers one bucket at its rate (no check when billing
    is off for it). 403 ``insufficient_credits`` otherwise, as the docs' authentication page says."""
    if rate.billing_off:
        return
    needed = minimum_charge(rate)
    if balance_paise >= needed:
        return
    raise Forbidden(
        f"insufficient credits: the balance is ₹{rupees_text(balance_paise)} and a call on this "
        f"agent costs at least ₹{rupees_text(needed)} (one {BUCKET_SECS}-second bucket at "
        f"₹{rupees_text(rate.paise_per_minute)}/min); ask your account manager to top up",
        code="insufficient_credits",
        details={"credits": rupees(balance_paise), "minimum": rupees(needed)},
    )
