"""Credits: the ledger of each partner's ₹ balance, call charges, and the operator's rates.

Every change of a balance is a ``credit_ledger`` row, appended and never changed: a top-up, an
adjustment, or one call's charge. The partner's ``credit_balance_paise`` is moved by the
``before_flush`` listener below in the same flush (so the same transaction) that inserts the row,
so balance and ledger never disagree. A call is charged by ``charge_call``, called where a call
becomes terminal (``call_state.set_state``, with the call's row locked): the charge is written in
the transaction that ends the call, and ``credit_ledger.call_id`` is unique, so a crash can
neither lose it nor write it twice.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.domain import credits as rules
from callwright.domain.credits import EntryKind, Rate, rupees
from callwright.domain.errors import NotFound, ValidationFailed
from callwright.services import partners, projects
from callwright.store.models import Agent, Call, CreditEntry, Partner, Project, utcnow

MAX_NOTE_LENGTH = 500


def charge_call(session: AsyncSession | Session, call: Call) -> None:
    """Bill ``call``, which has just become terminal (locked, in this transaction): its cost on
    the call, and a ledger row when it costs anything."""
    seconds = rules.connected_seconds(answered_at=call.answered_at, duration_seconds=call.duration_seconds)
    rate = call.rate_paise_per_minute or 0
    cost = rules.call_charge(seconds, rate)
    call.credits_used_paise = cost
    if cost:
        session.add(
            CreditEntry(
                partner_id=call.partner_id,
                kind=EntryKind.CALL_CHARGE.value,
                amount_paise=-cost,
                call_id=call.id,
                agent_id=call.agent_id,
                billed_seconds=rules.billed_buckets(seconds) * rules.BUCKET_SECS,
                rate_paise_per_minute=rate,
                created_at=utcnow(),
            )
        )


@event.listens_for(Session, "before_flush")
def _move_balances(session: Session, _context: Any, _instances: Any) -> None:
    deltas: dict[str, int] = defaultdict(int)
    for obj in session.new:
        if isinstance(obj, CreditEntry):
            deltas[obj.partner_id] += obj.amount_paise
    with session.no_autoflush:
        for partner_id, delta in deltas.items():
            if delta:
                session.execute(
                    update(Partner)
                    .where(Partner.id == partner_id)
                    .values(credit_balance_paise=Partner.credit_balance_paise + delta)
                    .execution_options(synchronize_session=False)
                )


def call_rate(*, agent: Agent, project_rate: int | None, partner: Partner, default: int) -> Rate:
    """The rate a call on ``agent`` is billed at, fixed when it starts."""
    return rules.effective_rate(
        agent=agent.rate_paise_per_minute,
        project=project_rate,
        partner=partner.rate_paise_per_minute,
        default=default,
    )


_BALANCE = select(Partner.credit_balance_paise)


def balance_of(session: Session, partner_id: str) -> int:
    """The partner's balance now (never the cached partner's copy), on a synchronous session."""
    return session.scalar(_BALANCE.where(Partner.id == partner_id)) or 0


async def balance(*, session: AsyncSession, partner_id: str) -> int:
    return await session.run_sync(balance_of, partner_id)


async def add_entry(
    *, session: AsyncSession, partner_name: str, kind: EntryKind, amount_paise: int, note: str | None
) -> tuple[CreditEntry, int]:
    """The operator's top-up (positive) or adjustment (either sign, with a note) → (the ledger
    row, the balance after it)."""
    if kind is EntryKind.CALL_CHARGE:
        raise ValueError("call charges are written by charge_call")
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise ValidationFailed("note", f"note must be at most {MAX_NOTE_LENGTH} characters")
    if kind is EntryKind.ADJUSTMENT and note is None:
        raise ValidationFailed("note", "an adjustment needs a note saying why")
    if amount_paise == 0 or (kind is EntryKind.TOP_UP and amount_paise < 0):
        raise ValidationFailed(
            "amount", "amount must be more than 0" if kind is EntryKind.TOP_UP else "amount must not be 0"
        )
    partner = await partners.get_partner_by_name(session=session, name=partner_name)
    entry = CreditEntry(
        partner_id=partner.id, kind=kind.value, amount_paise=amount_paise, note=note, created_at=utcnow()
    )
    session.add(entry)
    await session.commit()
    return entry, await balance(session=session, partner_id=partner.id)


async def ledger_page(
    *, session: AsyncSession, partner_name: str, limit: int, offset: int
) -> tuple[list[CreditEntry], int]:
    """A partner's ledger, newest first, and its length."""
    partner = await partners.get_partner_by_name(session=session, name=partner_name)
    where = CreditEntry.partner_id == partner.id
    total = await session.scalar(select(func.count()).select_from(CreditEntry).where(where)) or 0
    rows = await session.scalars(
        select(CreditEntry)
        .where(where)
        .order_by(CreditEntry.created_at.desc(), CreditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


async def set_partner_rate(*, session: AsyncSession, partner_name: str, rate_paise: int | None) -> Partner:
    """The partner's own rate (None: the operator's default). Applies to calls started after it."""
    partner = await partners.get_partner_by_name(session=session, name=partner_name)
    partner.rate_paise_per_minute = rate_paise
    await session.commit()
    partners.forget_cached_partners()
    return partner


async def set_agent_rate(
    *, session: AsyncSession, partner_name: str, agent_id: str, rate_paise: int | None
) -> Agent:
    """One agent's rate (None: its project's, partner's or the default)."""
    partner = await partners.get_partner_by_name(session=session, name=partner_name)
    agent = await session.scalar(select(Agent).where(Agent.id == agent_id, Agent.partner_id == partner.id))
    if agent is None:
        raise NotFound(f"partner {partner.name} has no agent with id {agent_id!r}", code="agent_not_found")
    agent.rate_paise_per_minute = rate_paise
    await session.commit()
    return agent


async def set_project_rate(
    *, session: AsyncSession, partner_name: str, project_id: str, rate_paise: int | None
) -> Project:
    """One project's rate (None: the partner's or the default)."""
    partner = await partners.get_partner_by_name(session=session, name=partner_name)
    project = await session.run_sync(projects.partner_project, partner.id, project_id)
    project.rate_paise_per_minute = rate_paise
    await session.commit()
    return project


def rate_text(paise: int | None) -> float | None:
    return None if paise is None else rupees(paise)


async def credits_view(*, session: AsyncSession, partner_name: str, default_rate: int) -> dict[str, Any]:
    """What the operator checks about a partner's billing: balance and rates."""
    partner = await partners.get_partner_by_name(session=session, name=partner_name)
    own = partner.rate_paise_per_minute
    return {
        "partner": partner.name,
        "credits": rupees(await balance(session=session, partner_id=partner.id)),
        "rate_per_minute": rate_text(own),
        "default_rate_per_minute": rupees(default_rate),
        "effective_rate_per_minute": rupees(default_rate if own is None else own),
        "minimum_balance_to_start": rupees(
            rules.minimum_charge(
                rules.effective_rate(agent=None, project=None, partner=own, default=default_rate)
            )
        ),
    }


def entry_view(entry: CreditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "amount": rupees(entry.amount_paise),
        "call_id": entry.call_id,
        "agent_id": entry.agent_id,
        "billed_seconds": entry.billed_seconds,
        "rate_per_minute": rate_text(entry.rate_paise_per_minute),
        "note": entry.note,
        "created_at": entry.created_at.isoformat().replace("+00:00", "Z"),
    }
