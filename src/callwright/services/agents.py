"""Agent use cases: create, list, get, update, delete — always within one partner.

``fields``/``changes`` are already validated field by field at the boundary (snake_case keys,
JSON-ready values) and parsed here into an ``AgentSpec``; the rules that span fields or need the
store (voice default and language, transfer target, project, unique name, agent limit) are
applied here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.domain import agents as rules
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.errors import (
    CallwrightError,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from callwright.services import background_audio, functions, partners, projects
from callwright.store.models import Agent, Partner, utcnow
from callwright.voice.catalog import Voice, default_voice, find_voice


async def create_agent(
    *, session: AsyncSession, partner: Partner, fields: Mapping[str, Any], llm_configured: bool
) -> Agent:
    """``llm_configured``: whether the server has an LLM (``extraction.endpoint_of``), which the
    agent's ``kb_enable_llm_processing`` needs."""
    spec = AgentSpec.parse(fields)
    _check_kb_processing(spec, llm_configured=llm_configured)
    project_id = await resolve_project_id(session=session, partner=partner, project_id=spec.project_id)
    spec = replace(spec, project_id=project_id)
    voice = _voice_or_default(spec.voice_id)
    spec = _with_language(replace(spec, voice_id=voice.voice_id), explicit=spec.language, voice=voice)
    _check_transfer(spec)
    await functions.check_attachable(session=session, partner_id=partner.id, function_ids=spec.function_ids)
    await functions.check_script_functions(session=session, partner_id=partner.id, spec=spec)
    await background_audio.check_attachable(session=session, partner_id=partner.id, asset_id=spec.background_audio_id)
    agent_limit = partner.agent_limit

    # Serialise agent creation per partner so the limit holds under concurrency: PostgreSQL locks
    # the partner row; SQLite ignores FOR UPDATE but holds its single write lock from the INSERT
    # until commit, and the count below runs after the INSERT.
    await session.execute(select(Partner.id).where(Partner.id == partner.id).with_for_update())
    agent = Agent(
        partner_id=partner.id, project_id=project_id, agent_name=spec.agent_name, settings=spec.settings()
    )
    session.add(agent)
    await _flush_or_name_taken(session, spec.agent_name)
    await functions.attach(session=session, agent_id=agent.id, function_ids=spec.function_ids)
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


def agent_spec(agent: Agent) -> AgentSpec:
    """The stored agent as one typed value, with its defaults."""
    return AgentSpec.parse(
        agent.settings or {}, agent_name=agent.agent_name, status=agent.status, project_id=agent.project_id
    )


async def resolve_project_id(*, session: AsyncSession, partner: Partner, project_id: str | None) -> str:
    """The project an agent goes in: the partner's project named, or its Default project for None
    (another partner's id answers like a missing one: 404 naming project_id)."""
    return await session.run_sync(projects.resolve_project_id, partner.id, project_id)


async def list_agents(
    *, session: AsyncSession, partner: Partner, limit: int, offset: int, project_id: str | None = None
) -> tuple[list[Agent], int]:
    """One page of the partner's agents (of one of its projects, when ``project_id`` is given;
    404 if it names none), newest first, and their total."""
    where = [Agent.partner_id == partner.id]
    if project_id is not None:
        where.append(Agent.project_id == await resolve_project_id(session=session, partner=partner, project_id=project_id))
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
    *, session: AsyncSession, partner: Partner, agent_id: str, changes: Mapping[str, Any], llm_configured: bool
) -> Agent:
    """Apply ``changes`` (the validated fields the client sent, snake_case) to the agent."""
    agent = await get_agent(session=session, partner=partner, agent_id=agent_id)
    current = agent_spec(agent)
    spec = current.updated(changes)
    if "kb_enable_llm_processing" in changes:
        _check_kb_processing(spec, llm_configured=llm_configured)
    if "project_id" in changes:
        project_id = await resolve_project_id(session=session, partner=partner, project_id=spec.project_id)
        spec = replace(spec, project_id=project_id)

    voice: Voice | None
    if "voice_id" in changes:
        voice = _voice_or_default(spec.voice_id)
        spec = replace(spec, voice_id=voice.voice_id)
    else:
        voice = find_voice(spec.voice_id or "")
    if "language" in changes:
        spec = _with_language(spec, explicit=spec.language, voice=voice)
    elif "voice_id" in changes and not current.language_explicit:
        spec = _with_language(spec, explicit=None, voice=voice)
    _check_transfer(spec)
    if "function_ids" in changes:
        await functions.check_attachable(session=session, partner_id=partner.id, function_ids=spec.function_ids)
        await functions.attach(session=session, agent_id=agent.id, function_ids=spec.function_ids)
    if "background_audio_id" in changes:
        await background_audio.check_attachable(
            session=session, partner_id=partner.id, asset_id=spec.background_audio_id
        )
    if "function_ids" in changes or "script" in changes:
        await functions.check_script_functions(session=session, partner_id=partner.id, spec=spec)

    agent.agent_name = spec.agent_name
    if spec.project_id is not None:
        agent.project_id = spec.project_id
    agent.settings = spec.settings()
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


def _with_language(spec: AgentSpec, *, explicit: str | None, voice: Voice | None) -> AgentSpec:
    if explicit is not None:
        return replace(spec, language=explicit, language_explicit=True)
    if voice is not None:
        language = rules.effective_language(explicit=None, voice_language=voice.language)
        return replace(spec, language=language, language_explicit=False)
    # The stored voice is no longer installed; keep the language it had.
    return replace(spec, language_explicit=False)


def _check_kb_processing(spec: AgentSpec, *, llm_configured: bool) -> None:
    # Refused rather than accepted and left off: the calls would get raw passages.
    if spec.kb_enable_llm_processing and not llm_configured:
        raise ValidationFailed(
            "kb_enable_llm_processing",
            "kb_enable_llm_processing needs an LLM on this server and none is configured: "
            "send false, or ask the operator to configure one",
        )


def _check_transfer(spec: AgentSpec) -> None:
    try:
        rules.check_transfer(transfer_enabled=spec.transfer_enabled, transfer_number=spec.transfer_number)
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
