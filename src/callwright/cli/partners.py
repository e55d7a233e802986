"""``callwright partners …``, ``callwright keys …`` and ``callwright connections …``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from callwright.cli.runtime import (
    fail,
    load_settings,
    note,
    open_store,
    print_json,
    print_table,
    run,
)
from callwright.domain.errors import ValidationFailed
from callwright.domain.partners import parse_provider_list
from callwright.domain.providers import Provider, parse_provider
from callwright.services import operator, partners

partners_app = typer.Typer(help="Partners (tenants): create, list, allow providers, limits, status.")
keys_app = typer.Typer(help="Partner API keys: issue, list, revoke.")
connections_app = typer.Typer(help="Operator-only switches on a partner's carrier connections.")

PartnerArg = Annotated[str, typer.Argument(help="The partner's slug, like acme-corp.")]
ProviderArg = Annotated[str, typer.Argument(help="twilio, plivo, vobiz, exotel or mcube.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _provider(value: str) -> Provider:
    provider = parse_provider(value)
    if provider is None:
        fail(f"unknown provider {value!r}; known: " + ", ".join(p.value for p in Provider))
    return provider


def _allowed_line(partner: Any) -> str:
    allowed = ", ".join(partner.allowed_providers) or "(none)"
    return f"{partner.name} may call through: {allowed}"


# --- partners -------------------------------------------------------------------------------


@partners_app.command("create")
def partners_create(
    name: PartnerArg,
    display_name: Annotated[str | None, typer.Option(help="Shown to humans; defaults to NAME.")] = None,
    providers: Annotated[
        str, typer.Option(help="Comma-separated providers to allow, e.g. twilio,vobiz.")
    ] = "",
    concurrency_limit: Annotated[
        int | None, typer.Option(help="Simultaneous calls; default from settings.")
    ] = None,
    agent_limit: Annotated[int | None, typer.Option(help="Agents; default from settings.")] = None,
    requests_per_minute: Annotated[
        int | None,
        typer.Option(help="Per API key, other than /calls/*; 0 = no limit; default from settings."),
    ] = None,
    calls_per_minute: Annotated[
        int | None,
        typer.Option(help="Per API key, on /calls/*; 0 = no limit; default from settings."),
    ] = None,
) -> None:
    """Create a partner and print its first live API key as JSON (shown this once only)."""
    settings = load_settings()
    try:
        allowed = parse_provider_list(providers)
    except ValidationFailed as exc:
        fail(exc.message.replace("providers has", "--providers has", 1))

    async def _create() -> dict[str, str]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            partner, key = await partners.create_partner(
                session=session,
                name=name,
                display_name=display_name,
                providers=allowed,
                concurrency_limit=(
                    settings.default_concurrency_limit
                    if concurrency_limit is None
                    else concurrency_limit
                ),
                agent_limit=settings.default_agent_limit if agent_limit is None else agent_limit,
                requests_per_minute=(
                    settings.default_requests_per_minute
                    if requests_per_minute is None
                    else requests_per_minute
                ),
                calls_per_minute=(
                    settings.default_calls_per_minute
                    if calls_per_minute is None
                    else calls_per_minute
                ),
            )
            return {"partner_id": partner.id, "name": partner.name, "api_key": key.api_key}

    created = run(_create(), settings=settings)
    print_json(created)
    note("Store this API key now: it is shown only once.")


@partners_app.command("list")
def partners_list(as_json: JsonOpt = False) -> None:
    """List every partner."""
    settings = load_settings()

    async def _list() -> list[dict[str, Any]]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            return [partners.partner_summary(p) for p in await partners.list_partners(session=session)]

    rows = run(_list(), settings=settings)
    if as_json:
        print_json(rows)
        return
    table = Table(
        "name", "display name", "status", "providers", "concurrency", "agents", "req/min",
        "calls/min", "created",
    )
    for row in rows:
        table.add_row(
            row["name"],
            row["display_name"],
            row["status"],
            ", ".join(row["allowed_telephony_providers"]) or "-",
            str(row["concurrency_limit"]),
            str(row["agent_limit"]),
            _per_minute(row["requests_per_minute"]),
            _per_minute(row["calls_per_minute"]),
            str(row["created_at"])[:10],
        )
    if rows:
        print_table(table)
    else:
        note("No partners yet: `callwright partners create NAME`.")


@partners_app.command("show")
def partners_show(name: PartnerArg) -> None:
    """Print one partner as JSON, with its agent count, key count and carrier connections."""
    settings = load_settings()

    async def _show() -> dict[str, Any]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            return await operator.partner_detail(session=session, partner_name=name)

    print_json(run(_show(), settings=settings))


def _set_allowed(name: str, provider: Provider, allowed: bool) -> None:
    settings = load_settings()

    async def _set() -> str:
        async with open_store(settings) as (_, sessions), sessions() as session:
            partner = await partners.set_provider_allowed(
                session=session, partner_name=name, provider=provider, allowed=allowed
            )
            return _allowed_line(partner)

    typer.echo(run(_set(), settings=settings))


@partners_app.command("allow")
def partners_allow(name: PartnerArg, provider: ProviderArg) -> None:
    """Allow a partner to place calls through PROVIDER."""
    _set_allowed(name, _provider(provider), True)


@partners_app.command("disallow")
def partners_disallow(name: PartnerArg, provider: ProviderArg) -> None:
    """Stop a partner placing calls through PROVIDER (stored credentials stay)."""
    _set_allowed(name, _provider(provider), False)


def _per_minute(value: int) -> str:
    return "no limit" if value == 0 else str(value)


def _update(name: str, **changes: Any) -> None:
    settings = load_settings()

    async def _apply() -> dict[str, Any]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            partner = await partners.update_partner(session=session, partner_name=name, **changes)
            return partners.partner_summary(partner)

    row = run(_apply(), settings=settings)
    typer.echo(
        f"{row['name']}: status {row['status']}, concurrency limit {row['concurrency_limit']}, "
        f"agent limit {row['agent_limit']}, requests per minute "
        f"{_per_minute(row['requests_per_minute'])}, calls per minute "
        f"{_per_minute(row['calls_per_minute'])} (per API key)"
    )


@partners_app.command("set-limits")
def partners_set_limits(
    name: PartnerArg,
    concurrency_limit: Annotated[int | None, typer.Option(help="Simultaneous calls.")] = None,
    agent_limit: Annotated[int | None, typer.Option(help="Agents.")] = None,
    requests_per_minute: Annotated[
        int | None, typer.Option(help="Per API key, endpoints other than /calls/*; 0 = no limit.")
    ] = None,
    calls_per_minute: Annotated[
        int | None, typer.Option(help="Per API key, on /calls/*; 0 = no limit.")
    ] = None,
) -> None:
    """Change a partner's concurrency, agent and per-API-key request limits."""
    changes = {
        "concurrency_limit": concurrency_limit,
        "agent_limit": agent_limit,
        "requests_per_minute": requests_per_minute,
        "calls_per_minute": calls_per_minute,
    }
    if all(value is None for value in changes.values()):
        fail(
            "give --concurrency-limit, --agent-limit, --requests-per-minute and/or "
            "--calls-per-minute"
        )
    _update(name, **changes)


@partners_app.command("suspend")
def partners_suspend(name: PartnerArg) -> None:
    """Suspend a partner: its API keys answer 403 until it is activated again."""
    _update(name, status="suspended")


@partners_app.command("activate")
def partners_activate(name: PartnerArg) -> None:
    """Re-activate a suspended partner."""
    _update(name, status="active")


# --- keys -----------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    name: PartnerArg,
    test: Annotated[bool, typer.Option("--test", help="Issue an rg_test_… key.")] = False,
) -> None:
    """Issue an API key for a partner and print it as JSON (shown this once only)."""
    settings = load_settings()

    async def _create() -> dict[str, str]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            key = await partners.create_api_key(session=session, partner_name=name, test_mode=test)
            return {
                "key_id": key.key_id,
                "partner": key.partner_name,
                "api_key": key.api_key,
                "mode": "test" if key.test_mode else "live",
            }

    print_json(run(_create(), settings=settings))
    note("Store this API key now: it is shown only once.")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (see `keys list`).")]) -> None:
    """Revoke an API key: requests with it answer 401 from now on."""
    settings = load_settings()

    async def _revoke() -> tuple[dict[str, Any], bool]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            return await operator.revoke_api_key(session=session, key_id=key_id)

    view, already = run(_revoke(), settings=settings)
    state = "was already revoked" if already else "revoked"
    typer.echo(f"key {view['key_id']} ({view['display_prefix']}…) of {view['partner']} {state}")


@keys_app.command("list")
def keys_list(name: PartnerArg, as_json: JsonOpt = False) -> None:
    """List a partner's API keys (display prefix only; a key is never shown again)."""
    settings = load_settings()

    async def _list() -> list[dict[str, Any]]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            keys = await partners.list_api_keys(session=session, partner_name=name)
            return [operator.api_key_view(k, partner_name=name) for k in keys]

    rows = run(_list(), settings=settings)
    if as_json:
        print_json(rows)
        return
    table = Table()
    for column in ("prefix", "mode", "status", "created"):
        table.add_column(column, no_wrap=True)
    # The id is what `keys revoke` takes: never truncate it.
    table.add_column("key id", no_wrap=True, min_width=36)
    for row in rows:
        table.add_row(
            row["display_prefix"] + "…",
            row["mode"],
            row["status"],
            str(row["created_at"])[:10],
            row["key_id"],
        )
    print_table(table)


# --- connections ----------------------------------------------------------------------------


@connections_app.command("set")
def connections_set(
    name: PartnerArg,
    provider: ProviderArg,
    carrier_voicemail_detection: Annotated[
        bool | None,
        typer.Option(
            "--carrier-voicemail-detection/--no-carrier-voicemail-detection",
            help="Ask the carrier to detect answering machines.",
        ),
    ] = None,
    cps: Annotated[float | None, typer.Option(help="Pace this account to N calls per second.")] = None,
    clear_cps: Annotated[bool, typer.Option("--clear-cps", help="Use the carrier's pacing.")] = False,
) -> None:
    """Set the operator-only switches on a partner's connection for PROVIDER."""
    parsed = _provider(provider)
    if carrier_voicemail_detection is None and cps is None and not clear_cps:
        fail(
            "give --carrier-voicemail-detection/--no-carrier-voicemail-detection, "
            "--cps or --clear-cps"
        )
    if cps is not None and clear_cps:
        fail("give either --cps or --clear-cps, not both")
    settings = load_settings()

    async def _set() -> dict[str, Any]:
        async with open_store(settings) as (_, sessions), sessions() as session:
            connection = await operator.set_connection_switches(
                session=session,
                partner_name=name,
                provider=parsed,
                carrier_voicemail_detection=(
                    operator.KEEP
                    if carrier_voicemail_detection is None
                    else carrier_voicemail_detection
                ),
                cps=None if clear_cps else (operator.KEEP if cps is None else cps),
            )
            return operator.connection_view(connection)

    print_json(run(_set(), settings=settings))
