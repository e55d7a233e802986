"""The operator's usage report of one partner: finished calls per UTC day, agent and project."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.credits import rupees
from callwright.domain.usage import FinishedCall, UsageRow, aggregate, day_bounds
from callwright.services import partners
from callwright.store.models import Agent, Call, Project


async def usage_report(
    *, session: AsyncSession, partner_name: str, since: date, until: date
) -> list[UsageRow]:
    """Calls that ended between ``since`` and ``until`` (UTC days, both included)."""
    partner = await partners.get_partner_by_name(session=session, name=partner_name)
    start, end = day_bounds(since, until)
    result = await session.execute(
        select(
            Call.ended_at,
            Call.agent_id,
            Call.project_id,
            Call.answered_at,
            Call.duration_seconds,
            Call.credits_used_paise,
        ).where(
            Call.partner_id == partner.id,
            Call.ended_at >= start,
            Call.ended_at < end,
            Call.credits_used_paise.is_not(None),  # terminal since billing began
        )
    )
    rows = aggregate(
        [
            FinishedCall(
                ended_at=ended_at,
                agent_id=agent_id,
                project_id=project_id,
                answered_at=answered_at,
                duration_seconds=duration,
                credits_used_paise=used or 0,
            )
            for ended_at, agent_id, project_id, answered_at, duration, used in result
            if ended_at is not None  # the query asks for a range of it
        ]
    )
    await _name_agents_and_projects(session, partner.id, rows)
    return rows


async def _name_agents_and_projects(session: AsyncSession, partner_id: str, rows: list[UsageRow]) -> None:
    """Today's names of the rows' agents and projects (None for one deleted since)."""
    agent_ids = {row.agent_id for row in rows}
    project_ids = {row.project_id for row in rows if row.project_id}
    if not agent_ids:
        return
    found = await session.execute(
        select(Agent.id, Agent.agent_name).where(Agent.partner_id == partner_id, Agent.id.in_(agent_ids))
    )
    agent_names = {agent_id: name for agent_id, name in found}
    found = await session.execute(
        select(Project.id, Project.name).where(Project.partner_id == partner_id, Project.id.in_(project_ids))
    )
    project_names = {project_id: name for project_id, name in found}
    for row in rows:
        row.agent_name = agent_names.get(row.agent_id)
        row.project_name = project_names.get(row.project_id) if row.project_id else None


def usage_view(rows: list[UsageRow]) -> list[dict[str, Any]]:
    return [
        {
            "day": row.day.isoformat(),
            "agent_id": row.agent_id,
            "agent_name": row.agent_name,
            "project_id": row.project_id,
            "project_name": row.project_name,
            "calls": row.calls,
            "connected_calls": row.connected_calls,
            "connected_seconds": row.connected_seconds,
            "billed_seconds": row.billed_seconds,
            "credits_used": rupees(row.credits_used_paise),
        }
        for row in rows
    ]


def usage_totals(rows: list[UsageRow]) -> dict[str, Any]:
    return {
        "calls": sum(r.calls for r in rows),
        "connected_calls": sum(r.connected_calls for r in rows),
        "connected_seconds": sum(r.connected_seconds for r in rows),
        "billed_seconds": sum(r.billed_seconds for r in rows),
        "credits_used": rupees(sum(r.credits_used_paise for r in rows)),
    }
