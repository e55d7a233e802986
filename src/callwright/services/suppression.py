"""The partner's suppression list: add (one, many, a CSV), list, delete, and the lookups made
before every dial (``POST /calls/start``, the campaign scheduler, and the dialer itself just
before a call leaves, for a number suppressed after its call was queued)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.domain.errors import NotFound
from callwright.domain.phone_lists import check_numbers
from callwright.domain.suppression import SOURCE_API
from callwright.store.models import Partner, Suppression, new_id, utcnow

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Entry:
    phone: str
    reason: str | None = None
    source: str = SOURCE_API
    call_id: str | None = None
    where: str = "phone"  # how an error names its number
    field: str = "phone"


@dataclass(slots=True)
class Added:
    added: int = 0
    already_suppressed: int = 0


_IS_SUPPRESSED = select(Suppression.id).where(
    Suppression.partner_id == bindparam("partner_id"), Suppression.phone == bindparam("phone")
)


def is_suppressed(session: Session, partner_id: str, phone: str) -> bool:
    """On a synchronous session (the start checks' reading thread, the dialer's ``run_sync``)."""
    return session.scalar(_IS_SUPPRESSED, {"partner_id": partner_id, "phone": phone}) is not None


async def suppressed_numbers(session: AsyncSession, partner_id: str, phones: Iterable[str]) -> set[str]:
    wanted = list(set(phones))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(
            await session.scalars(
                select(Suppression.phone).where(Suppression.partner_id == partner_id, Suppression.phone.in_(chunk))
            )
        )
    return found


async def add_entries(*, session: AsyncSession, partner: Partner, entries: list[Entry]) -> Added:
    """Add the numbers not already on the list (an entry already there keeps its reason and
    source). Numbers must be E.164."""
    check_numbers(entries)
    for attempt in range(2):
        try:
            return await _insert_new(session, partner.id, entries)
        except IntegrityError:  # a concurrent add took one of these numbers: count it this time
            await session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


async def _insert_new(session: AsyncSession, partner_id: str, entries: list[Entry]) -> Added:
    result = Added()
    known = await suppressed_numbers(session, partner_id, (e.phone for e in entries))
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for entry in entries:
        if entry.phone in known:
            result.already_suppressed += 1
            continue
        known.add(entry.phone)
        rows.append(
            {
                "id": new_id(),
                "partner_id": partner_id,
                "phone": entry.phone,
                "reason": entry.reason,
                "source": entry.source,
                "call_id": entry.call_id,
                "created_at": now,
            }
        )
    if rows:
        await session.execute(insert(Suppression), rows)
    await session.commit()
    result.added = len(rows)
    return result


def suppress_now(session: Session, *, partner_id: str, phone: str, reason: str, source: str, call_id: str | None) -> bool:
    """Add one number in the caller's transaction (an in-call opt-out); False if it was there."""
    if is_suppressed(session, partner_id, phone):
        return False
    session.add(Suppression(partner_id=partner_id, phone=phone, reason=reason, source=source, call_id=call_id))
    return True


async def get_entry(*, session: AsyncSession, partner: Partner, phone: str) -> Suppression | None:
    return await session.scalar(select(Suppression).where(Suppression.partner_id == partner.id, Suppression.phone == phone))


async def list_entries(
    *, session: AsyncSession, partner: Partner, phone: str | None, limit: int, offset: int
) -> tuple[list[Suppression], int]:
    query = select(Suppression).where(Suppression.partner_id == partner.id)
    if phone:
        query = query.where(Suppression.phone == phone)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(Suppression.created_at.desc(), Suppression.id.desc()).limit(limit).offset(offset))
    return list(rows), total


async def delete_entry(*, session: AsyncSession, partner: Partner, suppression_id: str) -> str:
    canonical = _canonical_id(suppression_id)
    entry = None
    if canonical is not None:
        entry = await session.scalar(
            select(Suppression).where(Suppression.id == canonical, Suppression.partner_id == partner.id)
        )
    if entry is None:
        raise NotFound(f"no suppression entry with id {suppression_id[:64]!r}", code="suppression_not_found")
    deleted = entry.id
    await session.delete(entry)
    await session.commit()
    return deleted


def _canonical_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
