"""Turning one due campaign contact into a call, through the same admission as ``POST /calls/start``.

The call, its ``created`` event, the contact's move to ``calling`` and the attempt row are
written in one transaction: the admission's, under the partner's lock (``Start.with_call``). The
contact moves only if it is still ``pending`` with the attempt number the scheduler saw, and only
while the campaign is ``running`` and below its own concurrency limit, all read under that lock.
So a crash at any moment leaves either no call and no attempt, or both; and an attempt can never
be made twice, even by two schedulers overlapping while the election changes hands (the attempt
row's (contact, number) is unique besides).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from callwright.domain.calls import ACTIVE_STATUSES
from callwright.domain.campaign_guards import caller_id_for
from callwright.domain.campaigns import CampaignStatus, ContactState
from callwright.domain.credits import Rate
from callwright.domain.providers import Provider
from callwright.services.call_admission import CallAdmission, Start
from callwright.services.calls import new_call
from callwright.services.campaign_contacts import call_variables
from callwright.store.models import (
    Agent,
    Call,
    Campaign,
    CampaignAttempt,
    CampaignContact,
    TelephonyConnection,
    utcnow,
)

_ACTIVE = [status.value for status in ACTIVE_STATUSES]


@dataclass(frozen=True, slots=True)
class CampaignParts:
    """What every call of one campaign is made from, read once per scheduler pass."""

    campaign_id: str
    partner_id: str
    concurrency_limit: int
    agent: Agent
    provider: Provider
    connection: TelephonyConnection
    partner_call_limit: int  # the partner's limit less the share kept for single and inbound calls
    rate: Rate  # what the calls are billed at (the agent's, project's, partner's or default rate)
    caller_ids: tuple[str, ...] = ()  # the caller IDs to rotate over; empty: the connection's number
    from_number: str | None = None  # the caller id as resolved (services.phone_numbers.caller_id_for)


def campaign_active_calls(session: Session, campaign_id: str) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Call).where(Call.campaign_id == campaign_id, Call.status.in_(_ACTIVE))
        )
        or 0
    )


def attempt_writer(parts: CampaignParts, contact_id: str, seen_seq: int) -> Callable[[Session, Call], bool]:
    """The admission's ``with_call`` for one attempt (see the module's text)."""

    def write(session: Session, call: Call) -> bool:
        status = session.scalar(select(Campaign.status).where(Campaign.id == parts.campaign_id))
        if status != CampaignStatus.RUNNING.value:
            return False
        if campaign_active_calls(session, parts.campaign_id) >= parts.concurrency_limit:
            return False
        now = utcnow()
        moved = session.execute(
            update(CampaignContact)
            .where(
                CampaignContact.id == contact_id,
                CampaignContact.state == ContactState.PENDING.value,
                CampaignContact.attempt_seq == seen_seq,
            )
            .values(
                state=ContactState.CALLING.value,
                attempt_seq=seen_seq + 1,
                current_call_id=call.id,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return False
        session.add(
            CampaignAttempt(
                partner_id=parts.partner_id,
                campaign_id=parts.campaign_id,
                campaign_contact_id=contact_id,
                number=seen_seq + 1,
                call_id=call.id,
                created_at=now,
            )
        )
        return True

    return write


async def admit_attempt(admission: CallAdmission, parts: CampaignParts, contact: CampaignContact) -> Call:
    """Store the contact's next attempt and its call (queued for the dialer). Raises what the
    admission raises: StartWithdrawn (the contact or the campaign moved on), LimitExceeded (the
    partner's campaign share is in use)."""
    call = new_call(
        partner_id=parts.partner_id,
        agent=parts.agent,
        provider=parts.provider,
        connection=parts.connection,
        to_number=contact.phone,
        variables=call_variables(contact),
        rate=parts.rate,
        from_number=parts.from_number,
    )
    call.campaign_id = parts.campaign_id
    call.campaign_contact_id = contact.id
    call.from_number = caller_id_for(
        parts.caller_ids, call.from_number, position=contact.position, attempt_number=contact.attempt_seq + 1
    )
    start = Start(call, limit=parts.partner_call_limit, with_call=attempt_writer(parts, contact.id, contact.attempt_seq))
    return await admission.admit(parts.partner_id, start)
