"""Resources that agents attach by id (functions, dictionaries): a join table and a list of ids
in the agent's stored settings, kept in step."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from callwright.store.models import Agent


async def detach_from_agents(
    session: AsyncSession,
    *,
    partner_id: str,
    resource_id: str,
    link_agent_id: InstrumentedAttribute[str],
    link_resource_id: InstrumentedAttribute[str],
    settings_key: str,
) -> None:
    """Take ``resource_id`` off every agent of the partner that has it attached: out of the
    agent's ``settings_key`` list and out of the join table (``link_*`` are its columns).
    The caller commits."""
    agent_ids = list(await session.scalars(select(link_agent_id).where(link_resource_id == resource_id)))
    for agent in await session.scalars(select(Agent).where(Agent.id.in_(agent_ids), Agent.partner_id == partner_id)):
        settings = dict(agent.settings or {})
        settings[settings_key] = [i for i in settings.get(settings_key) or [] if i != resource_id]
        agent.settings = settings
    await session.execute(delete(link_resource_id.class_).where(link_resource_id == resource_id))
