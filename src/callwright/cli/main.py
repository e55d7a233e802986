"""The ``callwright`` command: run the platform and operate it (partners, keys, schema, secrets).

Every command reads the same settings as the server (``CALLWRIGHT_*``). Only ``serve`` and
``db upgrade`` migrate the database; the others refuse an unmigrated one. Operator mistakes print
one ``error:`` line on stderr and exit 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from callwright.cli.campaigns import campaigns_app
from callwright.cli.credits import credits_app
from callwright.cli.partners import connections_app, keys_app, partners_app
from callwright.cli.runtime import fail, load_settings, note, open_store, run
from callwright.services.partners import IssuedKey
from callwright.settings import Settings, get_settings

app = typer.Typer(
    name="callwright",
    help="Callwright: self-hostable AI phone agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
secrets_app = typer.Typer(help="Encrypted carrier credentials.", no_args_is_help=True)

app.add_typer(partners_app, name="partners", no_args_is_help=True)
app.add_typer(keys_app, name="keys", no_args_is_help=True)
app.add_typer(connections_app, name="connections", no_args_is_help=True)
app.add_typer(credits_app, name="credits", no_args_is_help=True)
app.add_typer(campaigns_app, name="campaigns", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(secrets_app, name="secrets")

# The carrier simulator's CLI (`callwright sim`) ships separately; only its absence is tolerated.
try:
    from callwright.cli.sim import sim_app
except ModuleNotFoundError as exc:
    if exc.name != "callwright.cli.sim":  # the simulator exists but one of its imports is broken
        raise
else:
    app.add_typer(sim_app, name="sim")


# --- serve ----------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: CALLWRIGHT_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: CALLWRIGHT_PORT]")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes [default: CALLWRIGHT_WORKERS, 1]")
    ] = None,
) -> None:
    """Migrate the database, create the `dev` partner on a first development start, then serve."""
    import uvicorn

    from callwright.services.master_keys import interrupted_dev_rotation
    from callwright.serving import restrict_new_files, uvicorn_options

    restrict_new_files()  # before the store, var/ or a recording is created
    settings = load_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    workers = workers or settings.workers
    if workers > 1 and not settings.redis_url:
        fail(
            f"{workers} workers need CALLWRIGHT_REDIS_URL: a call's media lives in one worker, and "
            "the others reach it (and elect the one dialer) through Redis"
        )
    key = run(_prepare_store(settings), settings=settings)
    if key is not None:
        local_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        _print_key_box(key, base_url=f"http://{local_host}:{port}")
    leftover = interrupted_dev_rotation(settings.var_dir) if settings.secret_key is None else None
    if leftover is not None:
        note(
            f"warning: {leftover} is left from an interrupted `callwright secrets rotate --generate`; "
            "run it again to finish, or stored carrier credentials may not open"
        )
    if "CALLWRIGHT_PUBLIC_URL" not in os.environ:
        # Carriers must reach us where we listen; the workers read settings from the environment.
        local_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        os.environ["CALLWRIGHT_PUBLIC_URL"] = f"http://{local_host}:{port}"
        get_settings.cache_clear()
    sys.stdout.flush()
    # The app factory builds its own store per worker; start-up work stays here, done once.
    app = "callwright.api.app:create_served_app"
    from callwright.balancer import balancing_supported, serve_balanced

    if workers > 1:
        from callwright.metrics import MULTIPROC_ENV, prepare_multiprocess_dir

        # Each worker writes its metrics to files here, and /metrics in any of them sums them all.
        prepare_multiprocess_dir(Path(os.environ.get(MULTIPROC_ENV) or settings.var_dir / "metrics"))
    if workers > 1 and balancing_supported():
        config = uvicorn.Config(
            app, factory=True, host=host, port=port, workers=workers, **uvicorn_options(settings)
        )
        serve_balanced(config, settings.var_dir / "workers.board")
        return
    if workers > 1:  # uvicorn's own supervisor: its workers shut down without a drain
        uvicorn.run(app, factory=True, host=host, port=port, workers=workers, **uvicorn_options(settings))
        return
    from callwright.serving import DrainingServer

    DrainingServer(uvicorn.Config(app, factory=True, host=host, port=port, **uvicorn_options(settings))).run()


async def _prepare_store(settings: Settings) -> IssuedKey | None:
    from callwright.services.bootstrap import ensure_dev_partner
    from callwright.store.migrate import upgrade

    async with open_store(settings, require_schema=False) as (engine, sessions):
        await upgrade(engine)
        async with sessions() as session:
            return await ensure_dev_partner(session=session, settings=settings)


def _print_key_box(key: IssuedKey, *, base_url: str) -> None:
    lines = [
        f"Development partner '{key.partner_name}' created. Its API key, shown only this once:",
        "",
        f"    {key.api_key}",
        "",
        "Try it:",
        f'    curl -H "Authorization: Bearer <the key above>" {base_url}/api/v2/config',
        "",
        "More keys: callwright keys create dev",
    ]
    width = max(len(line) for line in lines)
    out = ["╔" + "═" * (width + 2) + "╗"]
    out += [f"║ {line.ljust(width)} ║" for line in lines]
    out.append("╚" + "═" * (width + 2) + "╝")
    typer.echo("\n".join(out))


# --- db -------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database schema to the newest revision and print it."""
    from callwright.cli.runtime import safe_url
    from callwright.store.migrate import current_revision, upgrade

    settings = load_settings()

    async def _upgrade() -> tuple[str | None, str | None]:
        async with open_store(settings, require_schema=False) as (engine, _):
            before = await current_revision(engine)
            await upgrade(engine)
            return before, await current_revision(engine)

    before, after = run(_upgrade(), settings=settings)
    where = safe_url(settings.resolved_database_url)
    if before == after:
        typer.echo(f"{where}: already at revision {after} (head)")
    else:
        typer.echo(f"{where}: upgraded from {before or 'empty'} to revision {after} (head)")


# --- models ---------------------------------------------------------------------------------


@app.command("models")
def models_check() -> None:
    """Load every model the platform ships (Silero VAD, each Piper voice, Whisper, WordLlama) from
    the installed packages, never a hub, and print each; exits 1 if one is missing. The image runs
    it at build time."""
    import asyncio
    import os
    import time

    # What a node has at start: no hub to fall back on.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from callwright.knowledge.embedding import MODEL_NAME, Embedder
    from callwright.voice.catalog import installed_voices
    from callwright.voice.engines import STT_ENGINES
    from callwright.voice.preload import preload_voice_models

    voices = [v.voice_id for v in installed_voices()]
    if not voices:
        typer.echo("no voice installed (the Piper voice packages are missing)", err=True)
        raise typer.Exit(1)
    started = time.perf_counter()
    try:
        asyncio.run(preload_voice_models(voices))
        Embedder.load()
    except Exception as exc:
        typer.echo(f"a model did not load: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("Silero VAD")
    typer.echo(f"voices: {', '.join(voices)}")
    typer.echo(f"speech-to-text: {', '.join(STT_ENGINES)}")
    typer.echo(f"embeddings: {MODEL_NAME}")
    typer.echo(f"loaded in {time.perf_counter() - started:.1f} s")


# --- secrets --------------------------------------------------------------------------------


@secrets_app.command("rotate")
def secrets_rotate(
    generate: Annotated[
        bool,
        typer.Option(
            "--generate",
            help="Development only: generate a new var/secret_key and rotate to it.",
        ),
    ] = False,
) -> None:
    """Re-encrypt every stored carrier credential under the current master key.

    \b
    With configured keys (production):
      1. set the new key as CALLWRIGHT_SECRET_KEY and the old one in
         CALLWRIGHT_PREVIOUS_SECRET_KEYS (comma-separated); restart the
         servers, so they open values under either key and seal new
         ones under the new key;
      2. run `callwright secrets rotate` (or POST /admin/v1/secrets/rotate);
      3. remove CALLWRIGHT_PREVIOUS_SECRET_KEYS and restart.
    If any value opens with none of the keys, nothing is changed.
    Re-running is safe.

    \b
    With --generate (development key in var/secret_key):
      the new key is written to var/secret_key.next (0600) first, everything is
      re-sealed under it in one transaction, the old key is copied to
      var/secret_key.previous, .next is renamed over var/secret_key, a second pass
      re-seals anything written meanwhile, and only then .previous is deleted.
      A key that may be in use is never overwritten or removed before the data no
      longer needs it; if interrupted, run the command again to finish.
      Stop `callwright serve` first: it holds the old key in memory and
      would keep sealing new credentials under it.
    """
    from callwright.services import master_keys
    from callwright.store.secretbox import SecretBox

    settings = load_settings()
    if generate:
        if settings.secret_key is not None:
            fail(
                "--generate manages the development key file, but CALLWRIGHT_SECRET_KEY is set: "
                "put the new key there and the old one in CALLWRIGHT_PREVIOUS_SECRET_KEYS instead"
            )
        extra = [k.strip() for k in (settings.previous_secret_keys or "").split(",") if k.strip()]

        async def _generate() -> master_keys.RotationResult:
            async with open_store(settings) as (_, sessions):
                return await master_keys.rotate_dev_master_key(
                    sessions=sessions, var_dir=settings.var_dir, extra_keys=extra
                )

        result = run(_generate(), settings=settings)
        if result.resumed:
            note("finished a rotation an earlier run had started")
        typer.echo(
            f"re-sealed {result.resealed} stored secret(s) under a new development key "
            f"(key id {result.key_id}); start `callwright serve` again to use it"
        )
        return

    if settings.secret_key is None:
        leftover = master_keys.interrupted_dev_rotation(settings.var_dir)
        if leftover is not None:
            fail(f"{leftover} is left from an interrupted rotation; run with --generate to finish it")

    async def _rotate() -> master_keys.RotationResult:
        async with open_store(settings) as (_, sessions), sessions() as session:
            box = SecretBox(settings.master_keys())
            return await master_keys.rotate_master_key(session=session, secretbox=box)

    result = run(_rotate(), settings=settings)
    typer.echo(
        f"re-sealed {result.resealed} stored secret(s) under key id {result.key_id} "
        f"({result.already_current} already current)"
    )
    if settings.previous_secret_keys:
        note("everything is under the current key: CALLWRIGHT_PREVIOUS_SECRET_KEYS can be removed")


# --- demo -----------------------------------------------------------------------------------


@app.command()
def demo(
    out: Annotated[
        str | None, typer.Option(help="Directory for the demo's store and WAV [default: a temp dir]")
    ] = None,
) -> None:
    """One whole call, offline: simulator, platform, partner, Vobiz, scripted agent, two sentences."""
    from pathlib import Path

    from callwright.cli.demo import default_out_dir, run_demo

    run_demo(Path(out) if out else default_out_dir(), echo=typer.echo)


if __name__ == "__main__":
    app()
