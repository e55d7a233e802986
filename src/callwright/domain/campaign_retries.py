"""What one campaign call's end means for its contact: the attempt's outcome, and whether and
when the contact is called again.

Each contact has one attempt budget (``max_attempts``, the first call included) shared by every
outcome; each retryable outcome has its own rule: redial or not, and how long to wait first —
one fixed spacing, or a list whose n-th entry is the wait before the n-th retry (the last entry
repeats). A contact reached (answered and completed, opted out, transferred) is never called
again. An attempt our side withdrew before it was dialled uses no budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from callwright.domain.campaigns import ContactState

MAX_ATTEMPTS_MIN = 1
MAX_ATTEMPTS_MAX = 10
MAX_ATTEMPTS_DEFAULT = 3
SPACING_MAX_SECS = 7 * 24 * 3600
SPACINGS_MAX = 10


class AttemptOutcome(StrEnum):
    ANSWERED = "answered"  # a person answered and the call completed
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"  # a machine answered
    FAILED = "failed"  # the carrier took the dial but the call failed
    CARRIER_REFUSED = "carrier_refused"  # the carrier refused the dial request itself
    OPTED_OUT = "opted_out"  # the person asked not to be called again
    TRANSFERRED = "transferred"
    CANCELED = "canceled"  # the partner ended the call before it was answered
    SUPPRESSED = "suppressed"  # the number was on the suppression list when it was to be dialled
    NOT_DIALED = "not_dialed"  # withdrawn by the campaign (paused, canceled) before it was dialled


RETRYABLE = (
    AttemptOutcome.BUSY,
    AttemptOutcome.NO_ANSWER,
    AttemptOutcome.VOICEMAIL,
    AttemptOutcome.FAILED,
    AttemptOutcome.CARRIER_REFUSED,
)
REACHED = (AttemptOutcome.ANSWERED, AttemptOutcome.OPTED_OUT, AttemptOutcome.TRANSFERRED)


@dataclass(frozen=True, slots=True)
class RetryRule:
    redial: bool
    spacing_secs: tuple[int, ...] = (1800,)

    def __post_init__(self) -> None:
        if not self.spacing_secs:
            raise ValueError("spacing_secs must hold at least one interval")

    def spacing(self, retry_number: int) -> int:
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        return self.spacing_secs[min(max(retry_number, 1), len(self.spacing_secs)) - 1]


def _default_rules() -> dict[AttemptOutcome, RetryRule]:
    return {
        AttemptOutcome.BUSY: RetryRule(True, (600,)),
        AttemptOutcome.NO_ANSWER: RetryRule(True, (1800,)),
        AttemptOutcome.VOICEMAIL: RetryRule(False, (3600,)),
        AttemptOutcome.FAILED: RetryRule(True, (900,)),
        AttemptOutcome.CARRIER_REFUSED: RetryRule(False, (3600,)),
    }


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = MAX_ATTEMPTS_DEFAULT
    rules: dict[AttemptOutcome, RetryRule] = field(default_factory=_default_rules)

    def rule(self, outcome: AttemptOutcome) -> RetryRule:
        return self.rules.get(outcome) or _default_rules()[outcome]


@dataclass(frozen=True, slots=True)
class Redial:
    at: datetime


@dataclass(frozen=True, slots=True)
class Settle:
    state: ContactState
    reason: str


def counts_against_budget(outcome: AttemptOutcome) -> bool:
    return outcome not in (AttemptOutcome.NOT_DIALED, AttemptOutcome.SUPPRESSED)


def after_attempt(
    policy: RetryPolicy, outcome: AttemptOutcome, *, attempts_used: int, ended_at: datetime
) -> Redial | Settle:
    """The contact's next step after an attempt ended with ``outcome``. ``attempts_used``: the
    attempts that count against the budget, this one included."""
    if outcome is AttemptOutcome.NOT_DIALED:
        return Redial(ended_at)
    if outcome in REACHED:
        return Settle(ContactState.COMPLETED, outcome.value)
    if outcome is AttemptOutcome.SUPPRESSED:
        return Settle(ContactState.SKIPPED, "number_suppressed")
    if outcome is AttemptOutcome.CANCELED:
        return Settle(ContactState.SKIPPED, "call_canceled")
    rule = policy.rule(outcome)
    if not rule.redial:
        return Settle(ContactState.FAILED, outcome.value)
    if attempts_used >= policy.max_attempts:
        return Settle(ContactState.FAILED, f"attempts_exhausted ({outcome.value})")
    return Redial(ended_at + timedelta(seconds=rule.spacing(attempts_used)))


def classify(
    *,
    status: str,
    disposition: str | None,
    answered_by: str | None,
    carrier_refused: bool,
    opted_out: bool = False,
    transferred: bool = False,
    suppressed: bool = False,
) -> AttemptOutcome:
    """A terminal call's outcome as a campaign sees it. ``carrier_refused``: the dial request
    itself was refused (the carrier never placed the call)."""
    if opted_out:
        return AttemptOutcome.OPTED_OUT
    if transferred:
        return AttemptOutcome.TRANSFERRED
    if suppressed:
        return AttemptOutcome.SUPPRESSED
    if status == "completed":
        machine = disposition == "voicemail" or answered_by == "machine"
        return AttemptOutcome.VOICEMAIL if machine else AttemptOutcome.ANSWERED
    if status == "busy":
        return AttemptOutcome.BUSY
    if status == "no_answer":
        return AttemptOutcome.NO_ANSWER
    if status == "canceled":
        return AttemptOutcome.CANCELED
    return AttemptOutcome.CARRIER_REFUSED if carrier_refused else AttemptOutcome.FAILED


def policy_from_json(stored: dict[str, Any]) -> RetryPolicy:
    """A campaign's stored ``retry`` (already validated at the boundary) → its policy; outcomes it
    does not name keep their defaults."""
    rules = _default_rules()
    for outcome in RETRYABLE:
        given = stored.get(outcome.value)
        if given is not None:
            spacing = given.get("spacing_secs")
            if spacing is None:
                spacing = rules[outcome].spacing_secs
            elif isinstance(spacing, int):
                spacing = (spacing,)
            rules[outcome] = RetryRule(bool(given.get("redial", True)), tuple(int(s) for s in spacing))
    return RetryPolicy(int(stored.get("max_attempts") or MAX_ATTEMPTS_DEFAULT), rules)


def policy_to_json(policy: RetryPolicy) -> dict[str, Any]:
    """Every rule spelt out, as the API shows it."""
    return {"max_attempts": policy.max_attempts} | {
        outcome.value: {"redial": policy.rule(outcome).redial, "spacing_secs": list(policy.rule(outcome).spacing_secs)}
        for outcome in RETRYABLE
    }
