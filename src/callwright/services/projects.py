"""Project use cases for a partner: create, list, get, update, delete; resolving an agent's project."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.domain import projects as rules
from callwright.domain.errors import NotFound
from callwright.store.models import Agent, Partner, Project, utcnow

_AGENT_COUNTS = (
    select(Agent.project_id, func.count())
    .where(Agent.partner_id == bindparam("partner_id"))
    .group_by(Agent.project_id)
)
_RATE = select(Project.rate_paise_per_minute).where(Project.id == bindparam("project_id"))


def add_default_project(session: AsyncSession | Session, partner: Partner) -> Project:
    """The Default project of a partner being created, in the same transaction."""
    project = Project(partner_id=partner.id, name=rules.DEFAULT_PROJECT_NAME, is_default=True)
    session.add(project)
    return project


async def create_project(
    *, session: AsyncSession, partner: Partner, name: str, description: str | None
) -> Project:
    name, description = rules.check_name(name), rules.check_description(description)
    # One at a time per partner, so the count below holds (as for agents).
    await session.execute(select(Partner.id).where(Partner.id == partner.id).with_for_update())
    existing = await session.scalar(select(func.count()).select_from(Project).where(Project.partner_id == partner.id))
    rules.check_room(existing or 0)
    project = Project(partner_id=partner.id, name=name, description=description, is_default=False)
    session.add(project)
    await session.commit()
    return project


async def list_projects(
    *, session: AsyncSession, partner: Partner, limit: int, offset: int
) -> tuple[list[Project], int, dict[str, int]]:
    """One page of the partner's projects (Default first, then oldest first), the total, and the
    agent count of every project."""
    where = Project.partner_id == partner.id
    total = await session.scalar(select(func.count()).select_from(Project).where(where)) or 0
    rows = await session.scalars(
        select(Project)
        .where(where)
        .order_by(Project.is_default.desc(), Project.created_at, Project.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total, await agent_counts(session=session, partner_id=partner.id)


async def agent_counts(*, session: AsyncSession, partner_id: str) -> dict[str, int]:
    result = await session.execute(_AGENT_COUNTS, {"partner_id": partner_id})
    return {project_id: count for project_id, count in result}


async def get_project(*, session: AsyncSession, partner: Partner, project_id: str) -> Project:
    """The partner's project. Another partner's id answers exactly like an id that does not exist."""
    return await session.run_sync(partner_project, partner.id, project_id)


def partner_project(session: Session, partner_id: str, project_id: str, *, field: str | None = None) -> Project:
    """``get_project`` on a synchronous session; ``field`` names the request field that gave the id."""
    project = None
    canonical = _canonical_id(project_id)
    if canonical is not None:
        project = session.scalar(select(Project).where(Project.id == canonical, Project.partner_id == partner_id))
    if project is None:
        prefix = f"{field}: " if field else ""
        raise NotFound(
            f"{prefix}no project with id {project_id[:64]!r}",
            code="project_not_found",
            details=[{"field": field, "message": f"no project with id {project_id[:64]!r}"}] if field else None,
        )
    return project


async def update_project(
    *, session: AsyncSession, partner: Partner, project_id: str, changes: dict[str, Any]
) -> Project:
    project = await get_project(session=session, partner=partner, project_id=project_id)
    if "name" in changes:
        project.name = rules.check_name(changes["name"])
    if "description" in changes:
        project.description = rules.check_description(changes["description"])
    project.updated_at = utcnow()
    await session.commit()
    return project


async def delete_project(*, session: AsyncSession, partner: Partner, project_id: str) -> str:
    project = await get_project(session=session, partner=partner, project_id=project_id)
    # Lock the partner, as agent creation does, so no agent lands in the project while it goes.
    await session.execute(select(Partner.id).where(Partner.id == partner.id).with_for_update())
    count = await session.scalar(
        select(func.count()).select_from(Agent).where(Agent.partner_id == partner.id, Agent.project_id == project.id)
    )
    rules.check_deletable(is_default=project.is_default, agent_count=count or 0)
    deleted = project.id
    await session.delete(project)
    await session.commit()
    return deleted


def resolve_project_id(session: Session, partner_id: str, project_id: str | None) -> str:
    """The project an agent goes into: the one named by ``project_id`` (404 naming the field when
    it is unknown or another partner's), or the partner's Default project when it is None."""
    if project_id is not None:
        return partner_project(session, partner_id, project_id, field="project_id").id
    default = session.scalar(select(Project.id).where(Project.partner_id == partner_id, Project.is_default))
    if default is None:  # every partner has one, made with it (and by migration 0005e)
        raise NotFound("this account has no Default project", code="project_not_found")
    return default


def project_rate(session: Session, project_id: str) -> int | None:
    """A project's operator-set rate (paise per minute), or None."""
    return session.scalar(_RATE, {"project_id": project_id})


def _canonical_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
