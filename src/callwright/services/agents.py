"""Agent use cases: create, list, get, update, delete — always within one partner.

``fields``/``changes`` are already validated field by field at the boundary (snake_case keys,
JSON-ready values); the rules that span fields or need the store (voice default and language,
transfer target, unique name, agent limit) are applied here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.domain import agents as rules
from callwright.domain.errors import CallwrightError, Conflict, Forbidden, NotFound, ValidationFailed
from callwright.services import partners
from callwright.services.projects import resolve_project_id
from callwright.store.models import Agent, Partner, utcnow
from callwright.voice.catalog import Voice, default_voice, find_voice

# Stored in Agent.settings next to the public fields: whether ``language`` was set by the partner
# (kept on voice changes) or derived from the voice (follows the voice).
LANGUAGE_EXPLICIT = "language_explicit"


async def create_agent(*, session: AsyncSession, partner: Partner, fields: Mapping[str, Any]) -> Agent:
    settings = dict(fields)
    agent_name: str = settings.pop("agent_name")
    project_id = await session.run_sync(resolve_project_id, partner.id, settings.pop("project_id", None))
    voice = _voice_or_default(settings.get("voice_id"))
    settings["voice_id"] = voice.voice_id
    _set_language(settings, explicit=settings.get("language"), voice=voice)
    _check_transfer(settings)
    agent_limit = partner.agent_limit

    # Serialise agent creation per partner so the limit holds under concurrency: PostgreSQL locks
    # the partner row; SQLite ignores FOR UPDATE but holds its single write lock from the INSERT
    # until commit, and the count below runs after the INSERT.
    await session.execute(select(Partner.id).where(Partner.id == partner.id).with_for_update())
    agent = Agent(partner_id=partner.id, project_id=project_id, agent_name=agent_name, settings=settings)
    session.add(agent)
    await _flush_or_name_taken(session, agent_name)
    count = await partners.agent_count(session=session, partner_id=partner.id)
    if count > agent_limit:
        await session.rollback()
        raise Forbidden(
            f"agent limit reached: this account may have at most {agent_limit} agents; delete one "
            "or ask your account manager to raise the limit",
            code="agent_limit_reached",
            details={"agent_limit": agent_limit, "current_agent_count": count - 1},
        )
    await session.commit()
    return agent


async def list_agents(
    *, session: AsyncSession, partner: Partner, limit: int, offset: int, project_id: str | None = None
) -> tuple[list[Agent], int]:
    """One page of the partner's agents (of one of its projects, when ``project_id`` is given;
    404 if it names none), newest first, and their total."""
    where = [Agent.partner_id == partner.id]
    if project_id is not None:
        where.append(Agent.project_id == await session.run_sync(resolve_project_id, partner.id, project_id))
    rows = await session.scalars(
        select(Agent)
        .where(*where)
        .order_by(Agent.created_at.desc(), Agent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(Agent).where(*where))
    return list(rows), total or 0


# Built once (every calls/start runs it): SQLAlchemy reuses its compiled form.
_PARTNER_AGENT = select(Agent).where(
    Agent.id == bindparam("id"), Agent.partner_id == bindparam("partner_id")
)


async def get_agent(*, session: AsyncSession, partner: Partner, agent_id: str) -> Agent:
    """The partner's agent. Another partner's id answers exactly like an id that does not exist."""
    return await session.run_sync(partner_agent, partner.id, agent_id)


def partner_agent(session: Session, partner_id: str, agent_id: str) -> Agent:
    """``get_agent`` on a synchronous session (see ``store.db.SqliteFile``)."""
    canonical = _canonical_id(agent_id)
    agent = None
    if canonical is not None:
        agent = session.scalar(_PARTNER_AGENT, {"id": canonical, "partner_id": partner_id})
    if agent is None:
        raise NotFound(f"no agent with id {agent_id[:64]!r}", code="agent_not_found")
    return agent


async def update_agent(
    *, session: AsyncSession, partner: Partner, agent_id: str, changes: Mapping[str, Any]
) -> Agent:
    agent = await get_agent(session=session, partner=partner, agent_id=agent_id)
    changes = dict(changes)
    new_name: str | None = changes.pop("agent_name", None)
    if "project_id" in changes:  # null moves the agent to the Default project
        agent.project_id = await session.run_sync(resolve_project_id, partner.id, changes.pop("project_id"))
    settings = {**agent.settings, **changes}

    if "voice_id" in changes:
        voice: Voice | None = _voice_or_default(changes["voice_id"])
        settings["voice_id"] = voice.voice_id
    else:
        voice = find_voice(settings.get("voice_id") or "")
    if "language" in changes:
        _set_language(settings, explicit=changes["language"], voice=voice)
    elif "voice_id" in changes and not settings.get(LANGUAGE_EXPLICIT):
        _set_language(settings, explicit=None, voice=voice)
    _check_transfer(settings)

    if new_name is not None:
        agent.agent_name = new_name
    agent.settings = settings
    agent.updated_at = utcnow()
    await _flush_or_name_taken(session, agent.agent_name)
    await session.commit()
    return agent


async def delete_agent(*, session: AsyncSession, partner: Partner, agent_id: str) -> str:
    agent = await get_agent(session=session, partner=partner, agent_id=agent_id)
    deleted_id = agent.id
    await session.delete(agent)
    await session.commit()
    return deleted_id


def _voice_or_default(voice_id: str | None) -> Voice:
    voice = find_voice(voice_id) if voice_id else default_voice()
    if voice is None:
        # The boundary only lets installed voice ids through, so this is the no-voice install.
        raise CallwrightError(
            "no voices are installed on this server; the operator must install a TTS voice",
            code="no_voices_installed",
            status_code=503,
        )
    return voice


def _set_language(settings: dict[str, Any], *, explicit: str | None, voice: Voice | None) -> None:
    settings[LANGUAGE_EXPLICIT] = explicit is not None
    if explicit is not None:
        settings["language"] = explicit
    elif voice is not None:
        settings["language"] = rules.effective_language(explicit=None, voice_language=voice.language)
    # else: the stored voice is no longer installed; keep the language it had.


def _check_transfer(settings: Mapping[str, Any]) -> None:
    try:
        rules.check_transfer(
            transfer_enabled=bool(settings.get("transfer_enabled")),
            transfer_number=settings.get("transfer_number"),
        )
    except ValueError as exc:
        raise ValidationFailed("transfer_number", f"transfer_number {exc}") from None


async def _flush_or_name_taken(session: AsyncSession, agent_name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        if "agent_name" not in str(exc.orig):
            raise
        raise Conflict(
            f"an agent named {agent_name!r} already exists in this account; agent names are unique",
            code="agent_name_taken",
        ) from None


def _canonical_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
