"""A partner's speech-recognition dictionaries: create, list, get, update, delete, and the set
attached to each agent (``PUT/GET /agent/{id}/dictionaries``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain import dictionaries as rules
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.errors import CallwrightError, Conflict, NotFound, ValidationFailed
from callwright.services.agent_links import detach_from_agents
from callwright.services.agents import agent_spec, get_agent
from callwright.services.webhook_outbox import iso_utc
from callwright.store.models import AgentDictionary, Dictionary, Partner, new_id, utcnow

if TYPE_CHECKING:
    from callwright.platform import Platform
    from callwright.voice.session import AgentScript


class CharLimitExceeded(CallwrightError):
    status_code = 400
    code = "dictionary_char_limit_exceeded"
    wire_code = "DICTIONARY_CHAR_LIMIT_EXCEEDED"


async def _attached_counts(session: AsyncSession, ids: Sequence[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = await session.execute(
        select(AgentDictionary.dictionary_id, func.count())
        .where(AgentDictionary.dictionary_id.in_(list(ids)))
        .group_by(AgentDictionary.dictionary_id)
    )
    return {dictionary_id: count for dictionary_id, count in rows.all()}


def summary_view(row: Dictionary, attached: int) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "term_count": len(row.terms or []), "char_count": row.char_count,
        "attached_agent_count": attached, "created_at": iso_utc(row.created_at), "updated_at": iso_utc(row.updated_at),
    }


def full_view(row: Dictionary, attached: int) -> dict[str, Any]:
    view = summary_view(row, attached)
    return {
        "id": view["id"], "name": row.name, "description": row.description, "terms": list(row.terms or []),
        **{k: view[k] for k in ("term_count", "char_count", "attached_agent_count", "created_at", "updated_at")},
    }


async def view(session: AsyncSession, row: Dictionary, *, full: bool = True) -> dict[str, Any]:
    attached = (await _attached_counts(session, [row.id])).get(row.id, 0)
    return full_view(row, attached) if full else summary_view(row, attached)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a dictionary named {name!r} already exists on this account", code="dictionary_name_taken")


async def create(
    *, session: AsyncSession, partner: Partner, name: str, description: str | None, terms: list[str]
) -> Dictionary:
    normalized = rules.normalize_terms(terms)
    row = Dictionary(
        id=new_id(), partner_id=partner.id, name=name, description=description or None,
        terms=normalized, char_count=rules.char_count(normalized),
    )
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise _name_taken(name) from None
    return row


async def list_page(*, session: AsyncSession, partner: Partner, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    query = select(Dictionary).where(Dictionary.partner_id == partner.id)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(await session.scalars(query.order_by(Dictionary.created_at.desc(), Dictionary.id).limit(limit).offset(offset)))
    counts = await _attached_counts(session, [r.id for r in rows])
    return [full_view(r, counts.get(r.id, 0)) for r in rows], total


async def get(*, session: AsyncSession, partner: Partner, dictionary_id: str) -> Dictionary:
    row = await session.scalar(
        select(Dictionary).where(Dictionary.id == dictionary_id, Dictionary.partner_id == partner.id)
    )
    if row is None:
        raise NotFound(f"no dictionary with id {dictionary_id!r}", code="dictionary_not_found")
    return row


async def _agent_total(session: AsyncSession, agent_id: str, replacing: str, new_count: int) -> int:
    rows = await session.execute(
        select(Dictionary.id, Dictionary.char_count)
        .join(AgentDictionary, AgentDictionary.dictionary_id == Dictionary.id)
        .where(AgentDictionary.agent_id == agent_id)
    )
    return sum(new_count if did == replacing else count for did, count in rows.all())


def _over_limit(total: int, *, agent_id: str) -> CharLimitExceeded:
    return CharLimitExceeded(
        f"the dictionaries attached to agent {agent_id} would hold {total} characters; at most "
        f"{rules.AGENT_CHAR_LIMIT} are allowed across all of an agent's dictionaries",
        details={"agent_id": agent_id, "char_count": total, "limit": rules.AGENT_CHAR_LIMIT},
    )


async def update(
    *, session: AsyncSession, partner: Partner, dictionary_id: str, name: str | None,
    description: str | None, description_sent: bool, terms: list[str] | None,
) -> Dictionary:
    """Change the fields sent; new terms must keep every attached agent within the limit."""
    row = await get(session=session, partner=partner, dictionary_id=dictionary_id)
    if terms is not None:
        normalized = rules.normalize_terms(terms)
        count = rules.char_count(normalized)
        agents = list(await session.scalars(select(AgentDictionary.agent_id).where(AgentDictionary.dictionary_id == row.id)))
        for agent_id in agents:
            total = await _agent_total(session, agent_id, row.id, count)
            if total > rules.AGENT_CHAR_LIMIT:
                raise _over_limit(total, agent_id=agent_id)
        row.terms, row.char_count = normalized, count
    if name is not None:
        row.name = name
    if description_sent:
        row.description = description or None
    row.updated_at = utcnow()
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise _name_taken(name or "") from None
    await session.refresh(row)
    return row


async def remove(*, session: AsyncSession, partner: Partner, dictionary_id: str) -> str:
    """Delete it and detach it from every agent that had it."""
    row = await get(session=session, partner=partner, dictionary_id=dictionary_id)
    await detach_from_agents(
        session, partner_id=partner.id, resource_id=row.id, link_agent_id=AgentDictionary.agent_id,
        link_resource_id=AgentDictionary.dictionary_id, settings_key="dictionary_ids",
    )
    await session.delete(row)
    await session.commit()
    return dictionary_id


async def attached(*, session: AsyncSession, partner: Partner, agent_id: str) -> list[dict[str, Any]]:
    agent = await get_agent(session=session, partner=partner, agent_id=agent_id)
    rows = list(
        await session.scalars(
            select(Dictionary)
            .join(AgentDictionary, AgentDictionary.dictionary_id == Dictionary.id)
            .where(AgentDictionary.agent_id == agent.id, Dictionary.partner_id == partner.id)
            .order_by(Dictionary.created_at, Dictionary.id)
        )
    )
    counts = await _attached_counts(session, [r.id for r in rows])
    return [summary_view(r, counts.get(r.id, 0)) for r in rows]


async def replace_attached(
    *, session: AsyncSession, partner: Partner, agent_id: str, dictionary_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The agent's whole set becomes ``dictionary_ids`` (repeats dropped), in one transaction."""
    agent = await get_agent(session=session, partner=partner, agent_id=agent_id)
    wanted = list(dict.fromkeys(dictionary_ids))
    rows = {
        r.id: r
        for r in await session.scalars(
            select(Dictionary).where(Dictionary.partner_id == partner.id, Dictionary.id.in_(wanted))
        )
    }
    missing = [i for i in wanted if i not in rows]
    if missing:
        raise ValidationFailed("dictionary_ids", f"dictionary_ids names no dictionary of this account: {missing[0]}")
    total = sum(rows[i].char_count for i in wanted)
    if total > rules.AGENT_CHAR_LIMIT:
        raise _over_limit(total, agent_id=agent.id)
    await session.execute(delete(AgentDictionary).where(AgentDictionary.agent_id == agent.id))
    for dictionary_id in wanted:
        session.add(AgentDictionary(agent_id=agent.id, dictionary_id=dictionary_id))
    spec = agent_spec(agent)
    agent.settings = spec.updated({"dictionary_ids": wanted}).settings()
    agent.updated_at = utcnow()
    await session.commit()
    return await attached(session=session, partner=partner, agent_id=agent.id)


async def terms_for(session: AsyncSession, *, partner_id: str, spec: AgentSpec) -> list[str]:
    """Every term of the agent's dictionaries (as stored now), in attachment order."""
    if not spec.dictionary_ids:
        return []
    rows = {
        r.id: r
        for r in await session.scalars(
            select(Dictionary).where(Dictionary.partner_id == partner_id, Dictionary.id.in_(list(spec.dictionary_ids)))
        )
    }
    return [term for i in spec.dictionary_ids if i in rows for term in rows[i].terms or []]


async def with_dictionaries(*, platform: Platform, partner_id: str, spec: AgentSpec, script: AgentScript) -> AgentScript:
    """A session's script with its agent's dictionaries as they are now: the STT's vocabulary and
    the TTS's pronunciations (one query, only when the agent has dictionaries)."""
    if not spec.dictionary_ids:
        return script
    async with platform.sessions() as session:
        terms = await terms_for(session, partner_id=partner_id, spec=spec)
    return replace(
        script,
        vocabulary=tuple(rules.vocabulary(terms)),
        pronunciations=tuple(rules.pronunciations(terms).items()),
    )
