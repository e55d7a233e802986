"""``callwright sim``: run the carrier simulator in the foreground."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError

from callwright.sim import SimAccount, SimState, api_urls, create_sim_app, parse_account

sim_app = typer.Typer(
    help="The carrier simulator: Vobiz, Plivo, Twilio, Exotel and MCube's REST APIs, locally.",
    no_args_is_help=True,
)

ACCOUNT_HELP = (
    "An account to accept, as PROVIDER:FIELD=VALUE,FIELD=VALUE "
    "(e.g. vobiz:auth_id=MA_ABCD1234,auth_token=secret). Repeatable; "
    "repeat a field for a list (exotel:…,exophones=+91…,exophones=+91…)."
)


@sim_app.callback()
def sim_group() -> None:
    """Run the carrier simulator."""


def account_from_spec(spec: str) -> SimAccount:
    """``PROVIDER:FIELD=VALUE,…`` as an account; a field given twice becomes a list."""
    provider, colon, pairs = spec.partition(":")
    if not colon or not pairs:
        raise typer.BadParameter(f"{spec!r} is not PROVIDER:FIELD=VALUE,…", param_hint="--account")
    fields: dict[str, str | list[str]] = {}
    for pair in pairs.split(","):
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise typer.BadParameter(f"{pair!r} is not FIELD=VALUE", param_hint="--account")
        name = name.strip()
        if name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[name] = value
    try:
        return parse_account(provider.strip().lower(), fields)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors(include_input=False))
        raise typer.BadParameter(f"{provider}: {problems}", param_hint="--account") from None


def _problem(error: Any) -> str:
    # The first part of the location is the provider tag the account was parsed as.
    field = ".".join(str(part) for part in error["loc"][1:])
    return f"{field}: {error['msg']}" if field else str(error["msg"])


@sim_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9090,
    account: Annotated[list[str] | None, typer.Option("--account", help=ACCOUNT_HELP)] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve every carrier's simulated REST API until interrupted."""
    state = SimState()
    for spec in account or []:
        state.add_account(account_from_spec(spec))
    for provider, url in api_urls(f"http://{host}:{port}").items():
        typer.echo(f"{provider:<7} {url}")
    typer.echo(f"control http://{host}:{port}/_sim")
    uvicorn.run(create_sim_app(state), host=host, port=port, log_level=log_level)


if __name__ == "__main__":
    sim_app()
