"""``callwright credits …``: balances, top-ups, adjustments, call rates and the usage report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from callwright.cli.runtime import fail, load_settings, open_store, print_json, print_table, run
from callwright.domain.credits import EntryKind, parse_rate, parse_rupees, rupees
from callwright.domain.usage import report_range, to_csv
from callwright.services import credits, usage

credits_app = typer.Typer(help="Credits: a partner's ₹ balance, top-ups, call rates, usage.")

PartnerArg = Annotated[str, typer.Argument(help="The partner's slug, like acme-corp.")]
NoteOpt = Annotated[str | None, typer.Option(help="Why (kept on the ledger row).")]


@credits_app.command("show")
def credits_show(
    name: PartnerArg,
    entries: Annotated[int, typer.Option(min=0, max=100, help="Latest ledger rows to show.")] = 10,
) -> None:
    """Print a partner's balance, rates and latest ledger rows as JSON."""
    settings = load_settings()

    async def _show() -> dict[str, Any]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            view = await credits.credits_view(
                session=session, partner_name=name, default_rate=settings.default_rate_paise
            )
            rows, total = await credits.ledger_page(
                session=session, partner_name=name, limit=max(entries, 1), offset=0
            )
            return view | {"ledger": [credits.entry_view(r) for r in rows[:entries]], "ledger_total": total}

    print_json(run(_show(), settings=settings))


def _add(name: str, kind: EntryKind, amount: str, note: str | None) -> None:
    settings = load_settings()

    async def _apply() -> tuple[dict[str, Any], int]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            paise = parse_rupees(amount, field="AMOUNT", allow_negative=kind is EntryKind.ADJUSTMENT)
            entry, balance = await credits.add_entry(
                session=session, partner_name=name, kind=kind, amount_paise=paise, note=note
            )
            return credits.entry_view(entry), balance

    entry, balance = run(_apply(), settings=settings)
    typer.echo(
        f"{name}: {kind.value.replace('_', '-')} of ₹{entry['amount']:.2f}; balance ₹{rupees(balance):.2f}"
    )


@credits_app.command("top-up", context_settings={"ignore_unknown_options": True})
def credits_top_up(
    name: PartnerArg,
    amount: Annotated[str, typer.Argument(help="₹ to add, like 5000 or 1250.50.")],
    note: NoteOpt = None,
) -> None:
    """Add ₹ to a partner's balance."""
    _add(name, EntryKind.TOP_UP, amount, note)


# A negative AMOUNT (-12.50) is an argument, not an unknown option.
@credits_app.command("adjust", context_settings={"ignore_unknown_options": True})
def credits_adjust(
    name: PartnerArg,
    amount: Annotated[str, typer.Argument(help="₹, negative to take away, like -12.50.")],
    note: Annotated[str, typer.Option(help="Why (required).")],
) -> None:
    """Correct a partner's balance by AMOUNT (either sign); the note is required."""
    _add(name, EntryKind.ADJUSTMENT, amount, note)


@credits_app.command("set-rate")
def credits_set_rate(
    name: PartnerArg,
    rate: Annotated[str | None, typer.Argument(help="₹ per minute, like 3.60.")] = None,
    agent: Annotated[str | None, typer.Option(help="Set this agent's rate instead.")] = None,
    project: Annotated[str | None, typer.Option(help="Set this project's rate instead.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the rate: the next level applies.")] = False,
) -> None:
    """Set the call rate of a partner (or one of its agents or projects), billed in 15-second
    buckets; an agent's rate wins over its project's, a project's over the partner's."""
    if (rate is None) == (not clear):
        fail("give a RATE or --clear")
    if agent is not None and project is not None:
        fail("give --agent or --project, not both")
    settings = load_settings()

    async def _set() -> str:
        paise = None if clear else parse_rate(rate, field="RATE")
        async with open_store(settings) as (_, sessions), sessions() as session:
            if agent is not None:
                await credits.set_agent_rate(
                    session=session, partner_name=name, agent_id=agent, rate_paise=paise
                )
                target = f"agent {agent} of {name}"
            elif project is not None:
                await credits.set_project_rate(
                    session=session, partner_name=name, project_id=project, rate_paise=paise
                )
                target = f"project {project} of {name}"
            else:
                await credits.set_partner_rate(session=session, partner_name=name, rate_paise=paise)
                target = name
        shown = "inherited" if paise is None else f"₹{rupees(paise):.2f}/min"
        return f"{target}: call rate {shown}"

    typer.echo(run(_set(), settings=settings))


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date like 2026-11-30")


@credits_app.command("usage")
def credits_usage(
    name: PartnerArg,
    since: Annotated[str | None, typer.Option("--from", help="First UTC day, like 2026-11-01.")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Last UTC day (default: today).")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A partner's finished calls per UTC day, agent and project: calls, seconds, ₹ used."""
    settings = load_settings()
    first, last = _day(since, "--from"), _day(until, "--to")

    async def _report() -> tuple[date, date, list[Any]]:
        start, end = report_range(first, last, today=datetime.now(UTC).date())
        async with open_store(settings) as (_, sessions), sessions() as session:
            return (
                start,
                end,
                await usage.usage_report(session=session, partner_name=name, since=start, until=end),
            )

    start, end, rows = run(_report(), settings=settings)
    if as_csv:
        typer.echo(to_csv(rows), nl=False)
        return
    if as_json:
        print_json(
            {
                "partner": name,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "rows": usage.usage_view(rows),
                "totals": usage.usage_totals(rows),
            }
        )
        return
    table = Table("day", "agent", "project", "calls", "connected", "billed s", "₹ used")
    for row in rows:
        table.add_row(
            row.day.isoformat(),
            row.agent_name or row.agent_id,
            row.project_name or row.project_id or "-",
            str(row.calls),
            str(row.connected_calls),
            str(row.billed_seconds),
            f"{rupees(row.credits_used_paise):.2f}",
        )
    totals = usage.usage_totals(rows)
    table.add_row(
        "total",
        "",
        "",
        str(totals["calls"]),
        str(totals["connected_calls"]),
        str(totals["billed_seconds"]),
        f"{totals['credits_used']:.2f}",
    )
    print_table(table)
