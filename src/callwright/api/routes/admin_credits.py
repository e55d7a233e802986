"""Operator API for billing (``/admin/v1/partners/{name}/…``): balance and ledger, top-ups and
adjustments, call rates at each level of the cascade, and the usage report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from callwright.api.deps import AdminDep, PlatformDep, SessionDep
from callwright.api.envelope import error_responses, ok, ok_list
from callwright.api.path_ids import AgentId, PartnerName, ProjectId
from callwright.api.routes.usage import USAGE_EXAMPLE
from callwright.api.schemas.admin import CreditEntryCreate, RateBody
from callwright.domain.credits import EntryKind, parse_rupees, rupees
from callwright.domain.usage import report_range, to_csv
from callwright.services import credits, partners, usage

router = APIRouter(tags=["admin: credits"], dependencies=[AdminDep])

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]

_ENTRY = {
    "id": "7a1c9e2b-3d4f-4a5b-8c6d-9e0f1a2b3c4d",
    "kind": "top_up",
    "amount": 5000.0,
    "call_id": None,
    "agent_id": None,
    "billed_seconds": None,
    "rate_per_minute": None,
    "note": "invoice 2026-114",
    "created_at": "2026-12-01T09:00:00Z",
}


def _example(data: Any, status: int = 200, *errors: int) -> dict[int | str, Any]:
    return {status: {"content": {"application/json": {"example": {"success": True, "data": data}}}}} | (
        error_responses(401, *errors)
    )


@router.get(
    "/partners/{name}/credits",
    summary="A partner's balance and rates",
    description="`credits` is the ₹ balance; `rate_per_minute` the partner's own rate (null: the "
    "operator's default applies); `minimum_balance_to_start` what a call needs at that rate.",
    responses=_example(
        {
            "partner": "acme-corp",
            "credits": 4998.2,
            "rate_per_minute": 3.6,
            "default_rate_per_minute": 0.0,
            "effective_rate_per_minute": 3.6,
            "minimum_balance_to_start": 0.9,
        },
        200,
        404,
    ),
)
async def get_credits(session: SessionDep, platform: PlatformDep, name: PartnerName) -> dict[str, Any]:
    return ok(
        await credits.credits_view(
            session=session, partner_name=name, default_rate=platform.settings.default_rate_paise
        )
    )


@router.get(
    "/partners/{name}/credits/ledger",
    summary="A partner's ledger, newest first",
    description="Every change of the balance: top-ups, adjustments and one charge per billed call.",
    responses=_example([_ENTRY], 200, 404),
)
async def list_ledger(
    session: SessionDep, name: PartnerName, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    rows, total = await credits.ledger_page(session=session, partner_name=name, limit=limit, offset=offset)
    return ok_list([credits.entry_view(r) for r in rows], limit=limit, offset=offset, total=total)


async def _add(session: SessionDep, name: str, kind: EntryKind, body: CreditEntryCreate) -> dict[str, Any]:
    amount = parse_rupees(body.amount, field="amount", allow_negative=kind is EntryKind.ADJUSTMENT)
    entry, balance = await credits.add_entry(
        session=session, partner_name=name, kind=kind, amount_paise=amount, note=body.note
    )
    return ok({"entry": credits.entry_view(entry), "credits": rupees(balance)})


@router.post(
    "/partners/{name}/credits/top-ups",
    status_code=201,
    summary="Add to a partner's balance",
    responses=_example({"entry": _ENTRY, "credits": 5000.0}, 201, 400, 404),
)
async def top_up(session: SessionDep, name: PartnerName, body: CreditEntryCreate) -> dict[str, Any]:
    return await _add(session, name, EntryKind.TOP_UP, body)


@router.post(
    "/partners/{name}/credits/adjustments",
    status_code=201,
    summary="Correct a partner's balance (either sign, with a note)",
    responses=_example(
        {
            "entry": _ENTRY | {"kind": "adjustment", "amount": -12.5, "note": "refund of a test call"},
            "credits": 4987.5,
        },
        201,
        400,
        404,
    ),
)
async def adjust(session: SessionDep, name: PartnerName, body: CreditEntryCreate) -> dict[str, Any]:
    return await _add(session, name, EntryKind.ADJUSTMENT, body)


@router.put(
    "/partners/{name}/rate",
    summary="Set a partner's call rate",
    description="₹ per minute, billed in 15-second buckets, for calls started from now on whose "
    "agent and project have no rate of their own. null: the operator's default.",
    responses=_example({"partner": "acme-corp", "rate_per_minute": 3.6}, 200, 400, 404),
)
async def set_partner_rate(session: SessionDep, name: PartnerName, body: RateBody) -> dict[str, Any]:
    rate = body.paise()
    partner = await credits.set_partner_rate(session=session, partner_name=name, rate_paise=rate)
    return ok({"partner": partner.name, "rate_per_minute": credits.rate_text(partner.rate_paise_per_minute)})


@router.put(
    "/partners/{name}/agents/{agent_id}/rate",
    summary="Set one agent's call rate",
    description="Overrides the project's and the partner's rate for calls on this agent started "
    "from now on. null: inherit.",
    responses=_example({"agent_id": _ENTRY["id"], "rate_per_minute": 4.6}, 200, 400, 404),
)
async def set_agent_rate(
    session: SessionDep, name: PartnerName, agent_id: AgentId, body: RateBody
) -> dict[str, Any]:
    rate = body.paise()
    agent = await credits.set_agent_rate(
        session=session, partner_name=name, agent_id=agent_id, rate_paise=rate
    )
    return ok({"agent_id": agent.id, "rate_per_minute": credits.rate_text(agent.rate_paise_per_minute)})


@router.put(
    "/partners/{name}/projects/{project_id}/rate",
    summary="Set one project's call rate",
    description="Overrides the partner's rate for calls on the project's agents (those without a "
    "rate of their own) started from now on. null: inherit.",
    responses=_example({"project_id": _ENTRY["id"], "rate_per_minute": 4.0}, 200, 400, 404),
)
async def set_project_rate(
    session: SessionDep, name: PartnerName, project_id: ProjectId, body: RateBody
) -> dict[str, Any]:
    rate = body.paise()
    project = await credits.set_project_rate(
        session=session, partner_name=name, project_id=project_id, rate_paise=rate
    )
    return ok({"project_id": project.id, "rate_per_minute": credits.rate_text(project.rate_paise_per_minute)})


@router.get(
    "/partners/{name}/usage",
    summary="A partner's usage report",
    description="Finished calls summed per UTC day (the day each ended), agent and project: calls, "
    "connected calls, connected and billed seconds, ₹ used. `from`/`to` are UTC dates, both "
    "included (default: the last 30 days); `format=csv` answers a CSV file.",
    responses=_example(
        {"partner": "acme-corp"} | USAGE_EXAMPLE,
        200,
        400,
        404,
    ),
)
async def usage_report(
    session: SessionDep,
    name: PartnerName,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    await partners.get_partner_by_name(session=session, name=name)  # 404 before the range checks
    since, until = report_range(since, until, today=datetime.now(UTC).date())
    rows = await usage.usage_report(session=session, partner_name=name, since=since, until=until)
    if format == "csv":
        filename = f"usage-{name}-{since.isoformat()}-{until.isoformat()}.csv"
        return Response(
            to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return ok(
        {
            "partner": name,
            "from": since.isoformat(),
            "to": until.isoformat(),
            "rows": usage.usage_view(rows),
            "totals": usage.usage_totals(rows),
        }
    )
