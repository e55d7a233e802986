"""``callwright sim``: run the carrier simulator in the foreground."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError

from callwright.sim import Scenario, SimAccount, SimState, api_urls, create_sim_app, parse_account

sim_app = typer.Typer(
    help="The carrier simulator: Vobiz, Plivo, Twilio, Exotel and MCube, locally: REST APIs, "
    "callbacks, media streams and a scripted far end.",
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


def _problem(error: Any, *, skip: int = 1) -> str:
    # For accounts, the first part of the location is the provider tag the account was parsed as.
    field = ".".join(str(part) for part in error["loc"][skip:])
    return f"{field}: {error['msg']}" if field else str(error["msg"])


SCENARIOS_HELP = (
    'A JSON file of far-end scenarios: {"default": {…}, "+9198…": {…}} (see '
    'callwright.sim.Scenario; e.g. {"outcome": "busy"}).'
)


def scenarios_from_file(path: Path) -> dict[str | None, Scenario]:
    """``{number or None (the default): scenario}`` from a JSON file."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{path}: {exc}", param_hint="--scenarios") from None
    if not isinstance(raw, dict):
        raise typer.BadParameter(f"{path}: not a JSON object", param_hint="--scenarios")
    scenarios: dict[str | None, Scenario] = {}
    for number, fields in raw.items():
        try:
            scenarios[None if number == "default" else number] = Scenario.model_validate(fields)
        except ValidationError as exc:
            errors = exc.errors(include_input=False)
            problems = "; ".join(_problem(error, skip=0) for error in errors)
            message = f"{path}: {number}: {problems}"
            raise typer.BadParameter(message, param_hint="--scenarios") from None
    return scenarios


@sim_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9090,
    account: Annotated[list[str] | None, typer.Option("--account", help=ACCOUNT_HELP)] = None,
    scenarios: Annotated[Path | None, typer.Option(help=SCENARIOS_HELP)] = None,
    max_calls: Annotated[int, typer.Option(min=1, help="Calls kept on record.")] = 500,
    callback_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for the platform to answer a callback.")
    ] = 10.0,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve every carrier's simulated API and far end until interrupted."""
    state = SimState(max_calls=max_calls)
    for spec in account or []:
        state.add_account(account_from_spec(spec))
    for number, scenario in (scenarios_from_file(scenarios) if scenarios else {}).items():
        state.scenarios.set(number, scenario)
    for provider, url in api_urls(f"http://{host}:{port}").items():
        typer.echo(f"{provider:<7} {url}")
    typer.echo(f"control http://{host}:{port}/_sim")
    app = create_sim_app(state, callback_timeout_secs=callback_timeout, steady_clock=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


if __name__ == "__main__":
    sim_app()
