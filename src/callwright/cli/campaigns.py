"""``callwright campaigns …``: every partner's campaigns, their live counters, pause and resume."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from callwright.api.schemas.campaigns import campaign_public
from callwright.cli.runtime import fail, load_settings, note, open_store, print_json, print_table, run
from callwright.domain.campaigns import CampaignAction, CampaignStatus
from callwright.services import campaign_lifecycle
from callwright.services import campaigns as campaign_service

campaigns_app = typer.Typer(help="Campaigns of every partner: list, show live progress, pause, resume.")

CampaignArg = Annotated[str, typer.Argument(help="The campaign's id.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


async def _views(rows: list[Any], session: Any) -> list[dict[str, Any]]:
    counts = await campaign_service.contact_counts(session, [c.id for c, _ in rows])
    views = []
    for campaign, partner in rows:
        names = await campaign_service.agent_names(session, partner.id, [campaign.agent_id])
        view = campaign_public(campaign, agent_name=names.get(campaign.agent_id), counts=counts[campaign.id])
        views.append(view | {"partner": partner.name})
    return views


def finished_share(view: dict[str, Any]) -> float:
    total = view["total_contacts"]
    done = view["completed_count"] + view["failed_count"] + view["skipped_count"]
    return done / total if total else 0.0


def progress_line(view: dict[str, Any], width: int = 30) -> str:
    """``[███████░░░] 62% 620/1000`` — contacts finished (completed, failed or skipped)."""
    share = finished_share(view)
    filled = round(share * width)
    done = view["completed_count"] + view["failed_count"] + view["skipped_count"]
    return f"[{'█' * filled}{'░' * (width - filled)}] {share:4.0%} {done}/{view['total_contacts']}"


@campaigns_app.command("list")
def campaigns_list(
    partner: Annotated[str | None, typer.Option(help="Only this partner's (its slug).")] = None,
    status: Annotated[CampaignStatus | None, typer.Option(help="Only campaigns in this status.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The newest 100 campaigns, with their counters."""
    settings = load_settings()

    async def _list() -> list[dict[str, Any]]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            rows = await campaign_service.operator_campaigns(session=session, partner_name=partner, status=status)
            return await _views(rows, session)

    views = run(_list(), settings=settings)
    if as_json:
        print_json(views)
        return
    if not views:
        note("No campaigns.")
        return
    table = Table("id", "partner", "name", "status", "progress", "completed", "failed", "skipped", "calling")
    for view in views:
        table.add_row(
            view["campaign_id"],
            view["partner"],
            view["name"],
            view["status"],
            progress_line(view, width=12),
            str(view["completed_count"]),
            str(view["failed_count"]),
            str(view["skipped_count"]),
            str(view["calling_count"]),
        )
    print_table(table)


async def _one(settings: Any, campaign_id: str) -> dict[str, Any]:
    async with open_store(settings) as (_, sessions), sessions() as session:
        row = await campaign_service.find_campaign(session=session, campaign_id=campaign_id)
        return (await _views([row], session))[0]


def _panel(view: dict[str, Any]) -> Group:
    table = Table.grid(padding=(0, 2))
    table.add_row("campaign", f"{view['name']} ({view['campaign_id']})")
    table.add_row("partner", view["partner"])
    table.add_row("status", view["status"] + (f" — {view['pause_reason']}" if view["pause_reason"] else ""))
    table.add_row("agent", f"{view['agent_name'] or '(deleted)'} via {view['provider']}, {view['concurrency_limit']} at once")
    table.add_row(
        "contacts",
        f"{view['total_contacts']} total: {view['pending_count']} pending, {view['calling_count']} calling, "
        f"{view['completed_count']} completed, {view['failed_count']} failed, {view['skipped_count']} skipped",
    )
    bar = ProgressBar(total=max(view["total_contacts"], 1), completed=view["total_contacts"] * finished_share(view), width=40)
    return Group(table, Text(""), bar, Text(progress_line(view).split("] ", 1)[1]))


@campaigns_app.command("show")
def campaigns_show(
    campaign_id: CampaignArg,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh every second until it finishes (Ctrl-C stops).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """One campaign's live counters and progress."""
    settings = load_settings()
    view = run(_one(settings, campaign_id), settings=settings)
    if as_json:
        print_json(view)
        return
    console = Console()
    if not watch:
        console.print(_panel(view))
        return
    try:
        with Live(_panel(view), console=console, refresh_per_second=4) as live:
            while not CampaignStatus(view["status"]).is_finished:
                time.sleep(1.0)
                view = run(_one(settings, campaign_id), settings=settings)
                live.update(_panel(view))
    except KeyboardInterrupt:
        pass


def _act(campaign_id: str, action: CampaignAction) -> None:
    settings = load_settings()

    async def _apply() -> dict[str, Any]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            campaign, partner = await campaign_service.find_campaign(session=session, campaign_id=campaign_id)
            await campaign_lifecycle.change_status(
                session=session, partner=partner, campaign_id=campaign.id, action=action, by="the operator"
            )
            return (await _views([await campaign_service.find_campaign(session=session, campaign_id=campaign.id)], session))[0]

    view = run(_apply(), settings=settings)
    typer.echo(f"{view['name']} ({view['campaign_id']}) of {view['partner']} is {view['status']}")
    if action is CampaignAction.PAUSE and view["status"] != "paused":
        fail("the campaign could not be paused")


@campaigns_app.command("pause")
def campaigns_pause(campaign_id: CampaignArg) -> None:
    """Pause a campaign now: nothing more of it is dialled (calls under way finish)."""
    _act(campaign_id, CampaignAction.PAUSE)


@campaigns_app.command("resume")
def campaigns_resume(campaign_id: CampaignArg) -> None:
    """Resume a paused campaign."""
    _act(campaign_id, CampaignAction.RESUME)
