"""A partner's own usage report (``GET /api/v2/usage``), the report the operator reads at
``/admin/v1/partners/{name}/usage``, for the key's partner only. A Callwright addition."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from callwright.api.deps import CurrentPartner, SessionDep
from callwright.api.envelope import error_responses, ok
from callwright.domain.usage import report_range
from callwright.services import usage

router = APIRouter(tags=["usage"])

USAGE_EXAMPLE = {
    "from": "2026-11-01",
    "to": "2026-11-30",
    "rows": [
        {
            "day": "2026-11-24",
            "agent_id": "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "agent_name": "Reminder bot",
            "project_id": None,
            "project_name": None,
            "calls": 12,
            "connected_calls": 9,
            "connected_seconds": 431,
            "billed_seconds": 525,
            "credits_used": 31.5,
        }
    ],
    "totals": {"calls": 12, "connected_seconds": 431, "billed_seconds": 525, "credits_used": 31.5},
}


@router.get(
    "/usage",
    summary="Your usage report",
    description="Finished calls summed per UTC day (the day each ended), agent and project: calls, "
    "connected calls, connected and billed seconds, ₹ used. `from`/`to` are UTC dates, both "
    "included (default: the last 30 days). A Callwright addition.",
    responses={200: {"content": {"application/json": {"example": {"success": True, "data": USAGE_EXAMPLE}}}}}
    | error_responses(400, 401),
)
async def usage_report(
    partner: CurrentPartner,
    session: SessionDep,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    since, until = report_range(since, until, today=datetime.now(UTC).date())
    rows = await usage.usage_report(session=session, partner_name=partner.name, since=since, until=until)
    return ok(
        {
            "from": since.isoformat(),
            "to": until.isoformat(),
            "rows": usage.usage_view(rows),
            "totals": usage.usage_totals(rows),
        }
    )
