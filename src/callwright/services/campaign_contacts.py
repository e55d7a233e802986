"""A campaign's contacts: adding them (from JSON or a CSV file), listing them with their attempts,
and the per-contact results report.

Every number also lands in the partner's contact book (``contacts``), once per partner; the
answer says how many were new there (``contacts_created``) and how many it already had
(``contacts_existing``). A number already in the campaign, or repeated in the request, is a
duplicate and is not added again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.campaigns import CONTACTS_PER_CAMPAIGN_MAX, CampaignStatus, ContactState
from callwright.domain.errors import Conflict, ValidationFailed
from callwright.domain.phone_lists import check_numbers
from callwright.services.campaigns import get_campaign
from callwright.services.webhook_outbox import iso_utc
from callwright.store.models import (
    Campaign,
    CampaignAttempt,
    CampaignContact,
    Contact,
    Partner,
    new_id,
    utcnow,
)

_CHUNK = 500  # numbers per IN (…) lookup
REPORT_PAGE = 1000


@dataclass(frozen=True, slots=True)
class NewContact:
    phone: str
    name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None
    where: str = "phone"  # how an error names its number: "contacts[3].phone", "line 4: phone"
    field: str = "phone"  # the request field an error points at: "contacts[3].phone", "file"


@dataclass(slots=True)
class Added:
    added: int = 0
    duplicates: int = 0
    contacts_created: int = 0
    contacts_existing: int = 0


def call_variables(contact: CampaignContact) -> dict[str, Any]:
    """The call's ``{{variables}}``: the contact's metadata, and its ``name`` when it has one."""
    variables = dict(contact.meta or {})
    if contact.name:
        variables["name"] = contact.name
    return variables


async def add_contacts(
    *, session: AsyncSession, partner: Partner, campaign_id: str, contacts: list[NewContact]
) -> Added:
    campaign = await get_campaign(session=session, partner=partner, campaign_id=campaign_id)
    if CampaignStatus(campaign.status).is_finished:
        raise Conflict(
            f"contacts cannot be added to a {campaign.status} campaign",
            code="campaign_finished",
            details={"status": campaign.status},
        )
    check_numbers(contacts)
    # Concurrent adds to one campaign take turns (a row lock; SQLite's write lock), so the
    # duplicate check and the positions below see every earlier add.
    await session.execute(update(Campaign).where(Campaign.id == campaign.id).values(updated_at=utcnow()))
    result = Added()
    in_campaign = await _existing(session, CampaignContact.phone, CampaignContact.campaign_id == campaign.id, contacts)
    fresh: list[NewContact] = []
    seen: set[str] = set()
    for contact in contacts:
        if contact.phone in seen or contact.phone in in_campaign:
            result.duplicates += 1
            continue
        seen.add(contact.phone)
        fresh.append(contact)
    if not fresh:
        await session.commit()
        return result
    size = await session.scalar(select(func.count()).where(CampaignContact.campaign_id == campaign.id)) or 0
    if size + len(fresh) > CONTACTS_PER_CAMPAIGN_MAX:
        raise ValidationFailed(
            "contacts",
            f"contacts would make this campaign hold {size + len(fresh)} numbers; at most "
            f"{CONTACTS_PER_CAMPAIGN_MAX} are allowed",
        )
    book = await _contact_book(session, partner.id, fresh, result)
    position = await session.scalar(
        select(func.coalesce(func.max(CampaignContact.position), 0)).where(CampaignContact.campaign_id == campaign.id)
    ) or 0
    now = utcnow()
    rows = []
    for contact in fresh:
        position += 1
        rows.append(
            {
                "id": new_id(),
                "partner_id": partner.id,
                "campaign_id": campaign.id,
                "contact_id": book[contact.phone],
                "position": position,
                "phone": contact.phone,
                "name": contact.name,
                "meta": contact.metadata,
                "timezone": contact.timezone,
                "state": ContactState.PENDING.value,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
        )
    await session.execute(insert(CampaignContact), rows)
    await session.commit()
    result.added = len(rows)
    return result


async def _existing(session: AsyncSession, column: Any, scope: Any, contacts: Iterable[NewContact]) -> set[str]:
    phones = list({c.phone for c in contacts})
    found: set[str] = set()
    for start in range(0, len(phones), _CHUNK):
        chunk = phones[start : start + _CHUNK]
        found.update(await session.scalars(select(column).where(scope, column.in_(chunk))))
    return found


async def _contact_book(session: AsyncSession, partner_id: str, contacts: list[NewContact], result: Added) -> dict[str, str]:
    """Each number's id in the partner's contact book, adding the numbers it lacks."""
    phones = [c.phone for c in contacts]
    book: dict[str, str] = {}
    for start in range(0, len(phones), _CHUNK):
        chunk = phones[start : start + _CHUNK]
        rows = await session.execute(
            select(Contact.phone, Contact.id).where(Contact.partner_id == partner_id, Contact.phone.in_(chunk))
        )
        book.update({phone: contact_id for phone, contact_id in rows})
    result.contacts_existing = len(book)
    now = utcnow()
    new_rows = []
    for contact in contacts:
        if contact.phone not in book:
            book[contact.phone] = new_id()
            new_rows.append(
                {
                    "id": book[contact.phone],
                    "partner_id": partner_id,
                    "phone": contact.phone,
                    "name": contact.name,
                    "meta": contact.metadata,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if new_rows:
        await session.execute(insert(Contact), new_rows)
    result.contacts_created = len(new_rows)
    return book


async def list_contacts(
    *,
    session: AsyncSession,
    partner: Partner,
    campaign_id: str,
    state: ContactState | None,
    limit: int,
    offset: int,
) -> tuple[Campaign, list[CampaignContact], dict[str, list[CampaignAttempt]], int]:
    """The campaign, a page of its contacts (in the order they were added), each one's attempts,
    and how many contacts match."""
    campaign = await get_campaign(session=session, partner=partner, campaign_id=campaign_id)
    query = select(CampaignContact).where(CampaignContact.campaign_id == campaign.id)
    if state is not None:
        query = query.where(CampaignContact.state == state.value)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    contacts = list(await session.scalars(query.order_by(CampaignContact.position).limit(limit).offset(offset)))
    attempts = await attempts_of(session, [c.id for c in contacts])
    return campaign, contacts, attempts, total


async def attempts_of(session: AsyncSession, contact_ids: list[str]) -> dict[str, list[CampaignAttempt]]:
    found: dict[str, list[CampaignAttempt]] = {contact_id: [] for contact_id in contact_ids}
    if not contact_ids:
        return found
    rows = await session.scalars(
        select(CampaignAttempt)
        .where(CampaignAttempt.campaign_contact_id.in_(contact_ids))
        .order_by(CampaignAttempt.campaign_contact_id, CampaignAttempt.number)
    )
    for attempt in rows:
        found[attempt.campaign_contact_id].append(attempt)
    return found


# --- the results report -----------------------------------------------------------------------

RESULT_COLUMNS = (
    "result_state",
    "result_attempts",
    "result_last_outcome",
    "result_reason",
    "result_last_call_id",
    "result_last_attempt_at",
    "result_finished_at",
)


async def results_csv(sessions: async_sessionmaker[AsyncSession], campaign_id: str) -> AsyncIterator[str]:
    """The campaign's per-contact results as CSV text, page by page: ``phone``, ``name``, one
    column per metadata key (so the file can be uploaded again with the same mapping), then the
    ``result_…`` columns. ``campaign_id`` must already be checked to be the partner's."""
    async with sessions() as session:
        keys: set[str] = set()
        for meta in await session.scalars(select(CampaignContact.meta).where(CampaignContact.campaign_id == campaign_id)):
            keys.update(meta or {})
        columns = sorted(keys - {"phone", "name"})
        yield _csv_line(["phone", "name", *columns, *RESULT_COLUMNS])
        after = 0
        while True:
            page = list(
                await session.scalars(
                    select(CampaignContact)
                    .where(CampaignContact.campaign_id == campaign_id, CampaignContact.position > after)
                    .order_by(CampaignContact.position)
                    .limit(REPORT_PAGE)
                )
            )
            if not page:
                return
            attempts = await attempts_of(session, [c.id for c in page])
            chunk = io.StringIO()
            for contact in page:
                last = attempts[contact.id][-1] if attempts[contact.id] else None
                meta = contact.meta or {}
                chunk.write(
                    _csv_line(
                        [
                            contact.phone,
                            contact.name or "",
                            *(_cell(meta.get(key)) for key in columns),
                            contact.state,
                            str(contact.attempts),
                            contact.last_outcome or "",
                            contact.result_reason or "",
                            last.call_id if last else "",
                            _iso(last.created_at) if last else "",
                            _iso(contact.finished_at),
                        ]
                    )
                )
            yield chunk.getvalue()
            after = page[-1].position


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _iso(value: datetime | None) -> str:
    return iso_utc(value) or ""
