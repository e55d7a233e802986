"""A campaign call's end, recorded on its attempt and its contact in the transaction that ends it.

The hook is the moment the call's ``session.completed`` is written (``webhook_outbox.call_changed``:
the call is terminal and its media has ended, or never started), which happens exactly once per
call under the call's row lock. ``attempt_ended`` notes the call on the session; the
``before_flush`` listener below, running in that commit's flush, settles the attempt (its outcome),
decides the contact's next step (``domain.campaign_retries``) and adds the campaign and the
contact to the ``session.completed`` event. So an outcome is never lost nor applied twice: it
commits with the call's end or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.domain.campaign_retries import (
    AttemptOutcome,
    Redial,
    Settle,
    after_attempt,
    classify,
    counts_against_budget,
    policy_from_json,
)
from callwright.domain.campaigns import CampaignStatus, ContactState
from callwright.domain.dialing import DialState
from callwright.domain.suppression import SOURCE_IN_CALL, SUPPRESSED_END_REASON
from callwright.domain.webhooks import EventType
from callwright.store.models import (
    Call,
    Campaign,
    CampaignAttempt,
    CampaignContact,
    Suppression,
    WebhookEvent,
    utcnow,
)

_ENDED = "campaign_calls_ended"  # session.info: campaign calls whose session completed in this flush
_SETTLED = "campaign_attempt_settled"  # session.info flag: wake the scheduler after this commit
WAKEUP = "campaign_wakeup"  # session.info key of the Platform's asyncio.Event


def attempt_ended(session: AsyncSession | Session, call: Call) -> None:
    """``call`` (a campaign's) is terminal and its session complete, in this transaction."""
    session.info.setdefault(_ENDED, []).append(call)


def record_outcome(
    campaign: Campaign,
    contact: CampaignContact,
    attempt: CampaignAttempt,
    outcome: AttemptOutcome,
    *,
    at: datetime,
) -> None:
    """Settle ``attempt`` with ``outcome`` and move its contact on: pending again (a retry, due at
    its time) or final. Touches only the rows given."""
    attempt.outcome = outcome.value
    attempt.counted = counts_against_budget(outcome)
    attempt.ended_at = at
    if attempt.counted:
        contact.attempts += 1
    step: Redial | Settle = after_attempt(
        policy_from_json(campaign.retry or {}), outcome, attempts_used=contact.attempts, ended_at=at
    )
    if isinstance(step, Redial) and campaign.status == CampaignStatus.CANCELED.value:
        step = Settle(ContactState.SKIPPED, "campaign_canceled")
    if outcome is not AttemptOutcome.NOT_DIALED:
        contact.last_outcome = outcome.value
    contact.current_call_id = None
    contact.updated_at = utcnow()
    if isinstance(step, Redial):
        contact.state = ContactState.PENDING.value
        contact.next_attempt_at = step.at
    else:
        contact.state = step.state.value
        contact.result_reason = step.reason
        contact.finished_at = at


def outcome_of(call: Call, *, opted_out: bool = False) -> AttemptOutcome:
    return classify(
        status=call.status,
        disposition=call.disposition,
        answered_by=call.answered_by,
        carrier_refused=call.dial_state == DialState.FAILED,
        opted_out=opted_out,
        suppressed=call.end_reason == SUPPRESSED_END_REASON,
    )


def opted_out_during(session: Session, call: Call) -> bool:
    """The callee asked, during this call, not to be called again (the ``opt_out`` tool)."""
    entry = select(Suppression.id).where(Suppression.call_id == call.id, Suppression.source == SOURCE_IN_CALL)
    return session.scalar(entry) is not None


def _settle(session: Session, call: Call) -> None:
    attempt = session.scalar(select(CampaignAttempt).where(CampaignAttempt.call_id == call.id))
    if attempt is None:
        return
    contact = session.get(CampaignContact, attempt.campaign_contact_id)
    campaign = session.get(Campaign, attempt.campaign_id)
    if contact is None or campaign is None:
        return
    if attempt.outcome is None:  # else settled already in this transaction (withdrawn by a pause)
        outcome = outcome_of(call, opted_out=opted_out_during(session, call))
        record_outcome(campaign, contact, attempt, outcome, at=call.ended_at or utcnow())
        session.info[_SETTLED] = True
    _describe_in_session_completed(session, call, contact, attempt)


def _describe_in_session_completed(
    session: Session, call: Call, contact: CampaignContact, attempt: CampaignAttempt
) -> None:
    for row in session.new:
        if isinstance(row, WebhookEvent) and row.call_id == call.id and row.type == EventType.SESSION_COMPLETED:
            row.data = dict(row.data) | campaign_call_data(call, contact, attempt)


def campaign_call_data(call: Call, contact: CampaignContact, attempt: CampaignAttempt) -> dict[str, Any]:
    """What ``session.completed`` of a campaign call adds: the campaign and the contact."""
    return {
        "campaign_id": call.campaign_id,
        "contact": {
            "contact_id": contact.id,
            "phone": contact.phone,
            "name": contact.name,
            "metadata": dict(contact.meta or {}),
            "attempt": attempt.number,
            "outcome": attempt.outcome,
            "state": contact.state,
        },
    }


@event.listens_for(Session, "before_flush")
def _settle_ended_calls(session: Session, _context: Any, _instances: Any) -> None:
    calls = session.info.pop(_ENDED, None)
    if not calls:
        return
    # Runs inside the flush, on the flushing transaction's connection (see webhook_outbox).
    with session.no_autoflush:
        for call in calls:
            _settle(session, call)


@event.listens_for(Session, "after_commit")
def _wake_scheduler(session: Session) -> None:
    if session.info.pop(_SETTLED, False) and (wakeup := session.info.get(WAKEUP)) is not None:
        wakeup.set()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_ENDED, None)
    session.info.pop(_SETTLED, None)


def wake_after_commit(session: AsyncSession | Session) -> None:
    session.info[_SETTLED] = True
