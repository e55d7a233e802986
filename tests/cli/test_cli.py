"""The `callwright` command against a throw-away SQLite database and var dir.

A few tests spawn the real command (each spawn costs seconds of imports); the rest invoke the same
Typer app in-process, which parses the same argv and prints to the same streams.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from callwright.cli.main import app
from callwright.services import partners
from callwright.settings import dev_secret_path, load_or_create_dev_secret
from callwright.store.db import create_engine, session_factory
from callwright.store.secretbox import SecretBoxError
from tests.connection_rows import VOBIZ_SECRETS, open_connection, store_connection
from tests.ports import free_port

KEY_A = "cli-master-key-a-" + "a" * 32
KEY_B = "cli-master-key-b-" + "b" * 32
KEY_C = "cli-master-key-c-" + "c" * 32


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "CALLWRIGHT_VAR_DIR": str(tmp_path / "var"),
        "CALLWRIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'callwright.db'}",
        "CALLWRIGHT_SECRET_KEY": KEY_A,
    }


@pytest.fixture
def dev_env(env: dict[str, str]) -> dict[str, str]:
    """Development settings: the master key lives in var/secret_key."""
    return {k: v for k, v in env.items() if k != "CALLWRIGHT_SECRET_KEY"}


def _only(env: dict[str, str]) -> dict[str, str | None]:
    """``env`` and nothing else of the caller's CALLWRIGHT_* settings."""
    inherited: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CALLWRIGHT_")}
    return inherited | env


def spawn(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in (os.environ | _only(env)).items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "callwright", *args],
        env=full | {"PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=_only(env))


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def failed(result: Result, message: str) -> str:
    """The single error line of a failed command, after checking it is one clear line."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]
    return lines[0]


def with_store(env: dict[str, str], fn: Callable[[Any], Awaitable[Any]]) -> Any:
    async def _run() -> Any:
        engine = create_engine(env["CALLWRIGHT_DATABASE_URL"])
        try:
            return await fn(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(_run())


def authenticates(env: dict[str, str], api_key: str) -> str | None:
    async def _check(sessions: Any) -> str | None:
        async with sessions() as session:
            partner = await partners.authenticate(session=session, api_key=api_key)
            return partner.name if partner else None

    return with_store(env, _check)


def create_partner(env: dict[str, str], name: str = "acme-corp", *extra: str) -> dict[str, str]:
    return json.loads(ok(invoke(env, "partners", "create", name, *extra)).stdout)


def partner_list(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in json.loads(ok(invoke(env, "partners", "list", "--json")).stdout)}


# --- real processes ------------------------------------------------------------------------


def test_schema_then_partner_through_the_real_command(env):
    upgraded = spawn(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "(head)" in upgraded.stdout

    created = spawn(env, "partners", "create", "acme-corp", "--providers", "twilio,vobiz")
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)  # only the JSON on stdout; the reminder goes to stderr
    assert set(data) == {"partner_id", "name", "api_key"}
    assert data["name"] == "acme-corp" and data["api_key"].startswith("rg_live_")
    assert "shown only once" in created.stderr
    assert authenticates(env, data["api_key"]) == "acme-corp"

    duplicate = spawn(env, "partners", "create", "acme-corp")
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip() == "error: a partner named 'acme-corp' already exists"
    assert duplicate.stdout == ""


def test_serve_migrates_bootstraps_dev_and_prints_its_key_once(dev_env):
    port = free_port()
    full = {k: v for k, v in (os.environ | _only(dev_env)).items() if v is not None}
    proc = subprocess.Popen(
        [sys.executable, "-m", "callwright", "serve", "--port", str(port)],
        env=full | {"PYTHONIOENCODING": "utf-8"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 300  # a hang guard only: a loaded machine starts slowly
        healthy = False
        while time.monotonic() < deadline and proc.poll() is None and not healthy:
            try:
                healthy = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.2)
        assert healthy, "".join(lines)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)

    output = "".join(lines)
    keys = [word for word in output.split() if word.startswith("rg_live_")]
    assert len(keys) == 1, output
    assert "shown only this once" in output and output.lstrip().startswith("╔")
    assert authenticates(dev_env, keys[0]) == "dev"
    assert stat.S_IMODE(dev_secret_path(Path(dev_env["CALLWRIGHT_VAR_DIR"])).stat().st_mode) == 0o600


# --- in-process ----------------------------------------------------------------------------


def test_commands_refuse_an_unmigrated_database(env, tmp_path):
    missing = tmp_path / "callwright.db"
    failed(
        invoke(env, "partners", "list"),
        f"there is no database at {missing}. The store is found under ./var of the directory you "
        "run in: run from the directory where `make run` keeps var/, or set CALLWRIGHT_VAR_DIR (or "
        "CALLWRIGHT_DATABASE_URL); or run `callwright db upgrade` to start a new, empty one there",
    )
    assert not missing.exists()  # and none was created by asking

    empty = tmp_path / "empty.db"
    empty.touch()
    failed(
        invoke(env | {"CALLWRIGHT_DATABASE_URL": f"sqlite:///{empty}"}, "keys", "list", "x"),
        "the database has no Callwright schema yet; run `callwright db upgrade` first",
    )


def test_invalid_production_settings_are_one_line(env):
    production = {k: v for k, v in env.items() if k != "CALLWRIGHT_SECRET_KEY"}
    failed(
        invoke(production | {"CALLWRIGHT_ENV": "production"}, "partners", "list"),
        "invalid settings: CALLWRIGHT_SECRET_KEY must be set",
    )


def test_partner_management(env):
    ok(invoke(env, "db", "upgrade"))
    create_partner(env, "acme-corp", "--providers", "twilio", "--display-name", "Acme Corp")
    create_partner(env, "globex", "--concurrency-limit", "3", "--agent-limit", "7")

    assert "acme-corp may call through: twilio, vobiz" in ok(
        invoke(env, "partners", "allow", "acme-corp", "vobiz")
    ).stdout
    ok(invoke(env, "partners", "disallow", "acme-corp", "twilio"))
    listed = partner_list(env)
    assert listed["acme-corp"]["allowed_telephony_providers"] == ["vobiz"]
    assert listed["acme-corp"]["display_name"] == "Acme Corp"
    assert listed["globex"]["allowed_telephony_providers"] == []
    assert (listed["globex"]["concurrency_limit"], listed["globex"]["agent_limit"]) == (3, 7)

    ok(invoke(env, "partners", "set-limits", "acme-corp", "--concurrency-limit", "25"))
    ok(invoke(env, "partners", "suspend", "globex"))
    listed = partner_list(env)
    assert listed["acme-corp"]["concurrency_limit"] == 25
    assert listed["globex"]["status"] == "suspended"
    ok(invoke(env, "partners", "activate", "globex"))
    assert partner_list(env)["globex"]["status"] == "active"

    table = ok(invoke(env, "partners", "list")).stdout
    assert "acme-corp" in table and "Acme Corp" in table and "vobiz" in table
    assert json.loads(ok(invoke(env, "partners", "show", "globex")).stdout)["connections"] == []

    failed(invoke(env, "partners", "create", "Bad Name"), "name must be a slug")
    failed(invoke(env, "partners", "create", "x", "--providers", "nokia"), "unknown provider 'nokia'")
    failed(invoke(env, "partners", "allow", "acme-corp", "nokia"), "unknown provider 'nokia'")
    failed(invoke(env, "partners", "allow", "nobody", "vobiz"), "no partner named 'nobody'")
    failed(invoke(env, "partners", "suspend", "nobody"), "no partner named 'nobody'")
    failed(invoke(env, "partners", "set-limits", "acme-corp"), "--requests-per-minute and/or")
    failed(
        invoke(env, "partners", "set-limits", "acme-corp", "--agent-limit", "-1"),
        "agent_limit must be between 0 and",
    )


def test_set_limits_changes_the_per_key_request_limits(env):
    ok(invoke(env, "db", "upgrade"))
    create_partner(env, "acme-corp")
    assert (partner_list(env)["acme-corp"]["requests_per_minute"], partner_list(env)["acme-corp"]["calls_per_minute"]) == (60, 10)

    changed = ok(
        invoke(
            env, "partners", "set-limits", "acme-corp",
            "--requests-per-minute", "0", "--calls-per-minute", "25",
        )
    ).stdout
    assert "requests per minute no limit, calls per minute 25 (per API key)" in changed
    row = partner_list(env)["acme-corp"]
    assert (row["requests_per_minute"], row["calls_per_minute"]) == (0, 25)
    assert "no limit" in ok(invoke(env, "partners", "list")).stdout

    create_partner(env, "bench", "--requests-per-minute", "0", "--calls-per-minute", "0")
    assert partner_list(env)["bench"]["calls_per_minute"] == 0
    failed(
        invoke(env, "partners", "set-limits", "acme-corp", "--calls-per-minute", "-5"),
        "calls_per_minute must be between 0 and",
    )


def test_credits_top_up_adjust_rates_and_usage(env):
    ok(invoke(env, "db", "upgrade"))
    create_partner(env, "acme-corp")

    topped = ok(invoke(env, "credits", "top-up", "acme-corp", "5000", "--note", "invoice 7")).stdout
    assert topped.strip() == "acme-corp: top-up of ₹5000.00; balance ₹5000.00"
    adjusted = ok(invoke(env, "credits", "adjust", "acme-corp", "-12.50", "--note", "test call")).stdout
    assert "balance ₹4987.50" in adjusted
    assert "acme-corp: call rate ₹3.60/min" in ok(invoke(env, "credits", "set-rate", "acme-corp", "3.60")).stdout

    shown = json.loads(ok(invoke(env, "credits", "show", "acme-corp")).stdout)
    assert (shown["credits"], shown["rate_per_minute"], shown["minimum_balance_to_start"]) == (4987.5, 3.6, 0.9)
    assert [(e["kind"], e["amount"], e["note"]) for e in shown["ledger"]] == [
        ("adjustment", -12.5, "test call"), ("top_up", 5000.0, "invoice 7"),
    ]
    assert "inherited" in ok(invoke(env, "credits", "set-rate", "acme-corp", "--clear")).stdout

    usage = ok(invoke(env, "credits", "usage", "acme-corp", "--csv", "--from", "2026-11-01", "--to", "2026-11-30"))
    assert usage.stdout.splitlines() == [
        "day,agent_id,agent_name,project_id,project_name,calls,connected_calls,connected_seconds,"
        "billed_seconds,credits_used"
    ]
    assert json.loads(ok(invoke(env, "credits", "usage", "acme-corp", "--json")).stdout)["rows"] == []

    failed(invoke(env, "credits", "top-up", "acme-corp", "-5"), "AMOUNT must not be negative")
    failed(invoke(env, "credits", "top-up", "acme-corp", "1.001"), "at most two decimal places")
    failed(invoke(env, "credits", "adjust", "acme-corp", "5", "--note", " "), "an adjustment needs a note")
    failed(invoke(env, "credits", "set-rate", "acme-corp"), "give a RATE or --clear")
    failed(invoke(env, "credits", "set-rate", "acme-corp", "1", "--agent", "nope"), "has no agent with id 'nope'")
    failed(invoke(env, "credits", "top-up", "nobody", "5"), "no partner named 'nobody'")
    failed(invoke(env, "credits", "set-rate", "acme-corp", "2", "--project", "nope"), "no project with id 'nope'")
    failed(invoke(env, "credits", "set-rate", "acme-corp", "2", "--project", "p", "--agent", "a"), "not both")
    failed(invoke(env, "credits", "usage", "acme-corp", "--from", "yesterday"), "--from must be a date")


def test_keys_create_list_revoke(env):
    ok(invoke(env, "db", "upgrade"))
    first = create_partner(env)

    result = ok(invoke(env, "keys", "create", "acme-corp", "--test"))
    issued = json.loads(result.stdout)
    assert set(issued) == {"key_id", "partner", "api_key", "mode"}
    assert (issued["partner"], issued["mode"]) == ("acme-corp", "test")
    assert issued["api_key"].startswith("rg_test_")
    assert authenticates(env, issued["api_key"]) == "acme-corp"

    listed = ok(invoke(env, "keys", "list", "acme-corp", "--json")).stdout
    assert [k["mode"] for k in json.loads(listed)] == ["live", "test"]
    table = ok(invoke(env, "keys", "list", "acme-corp")).stdout
    assert issued["key_id"] in table
    for output in (listed, table):
        assert issued["api_key"] not in output and first["api_key"] not in output

    revoked = ok(invoke(env, "keys", "revoke", issued["key_id"])).stdout
    assert "revoked" in revoked and issued["key_id"] in revoked
    assert authenticates(env, issued["api_key"]) is None
    assert authenticates(env, first["api_key"]) == "acme-corp"
    assert "already revoked" in ok(invoke(env, "keys", "revoke", issued["key_id"])).stdout

    failed(invoke(env, "keys", "revoke", "no-such-key"), "no API key with id 'no-such-key'")
    failed(invoke(env, "keys", "create", "nobody"), "no partner named 'nobody'")


def test_connection_switches(env):
    ok(invoke(env, "db", "upgrade"))
    partner_id = create_partner(env)["partner_id"]
    failed(
        invoke(env, "connections", "set", "acme-corp", "vobiz", "--cps", "2"),
        "Vobiz is not configured for partner acme-corp",
    )
    with_store(env, lambda s: store_connection(s, partner_id=partner_id, master_key=KEY_A))

    set_vobiz = ("connections", "set", "acme-corp", "vobiz")
    result = ok(invoke(env, *set_vobiz, "--carrier-voicemail-detection", "--cps", "2"))
    view = json.loads(result.stdout)
    assert (view["carrier_voicemail_detection"], view["cps"]) == (True, 2.0)
    view = json.loads(ok(invoke(env, *set_vobiz, "--clear-cps")).stdout)
    assert (view["carrier_voicemail_detection"], view["cps"]) == (True, None)
    failed(invoke(env, *set_vobiz), "give --carrier-voicemail-detection")
    failed(invoke(env, *set_vobiz, "--cps", "0"), "cps must be greater than 0")


def test_secrets_rotate_to_a_new_configured_key(env):
    ok(invoke(env, "db", "upgrade"))
    partner_id = create_partner(env)["partner_id"]
    row = with_store(env, lambda s: store_connection(s, partner_id=partner_id, master_key=KEY_A))

    rotating = env | {"CALLWRIGHT_SECRET_KEY": KEY_B, "CALLWRIGHT_PREVIOUS_SECRET_KEYS": KEY_A}
    result = ok(invoke(rotating, "secrets", "rotate"))
    assert "re-sealed 1 stored secret(s)" in result.stdout
    assert "CALLWRIGHT_PREVIOUS_SECRET_KEYS can be removed" in result.stderr

    assert with_store(env, lambda s: open_connection(s, row, KEY_B)) == VOBIZ_SECRETS
    with pytest.raises(SecretBoxError):
        with_store(env, lambda s: open_connection(s, row, KEY_A))

    # A key that opens nothing: refused, and the stored value is untouched.
    failed(
        invoke(env | {"CALLWRIGHT_SECRET_KEY": KEY_C}, "secrets", "rotate"),
        "add the key that sealed them to CALLWRIGHT_PREVIOUS_SECRET_KEYS",
    )
    assert with_store(env, lambda s: open_connection(s, row, KEY_B)) == VOBIZ_SECRETS


def test_secrets_rotate_generate_in_development(dev_env):
    var_dir = Path(dev_env["CALLWRIGHT_VAR_DIR"])
    ok(invoke(dev_env, "db", "upgrade"))
    partner_id = create_partner(dev_env)["partner_id"]
    old = load_or_create_dev_secret(var_dir)
    row = with_store(dev_env, lambda s: store_connection(s, partner_id=partner_id, master_key=old))

    result = ok(invoke(dev_env, "secrets", "rotate", "--generate"))
    assert "re-sealed 1 stored secret(s) under a new development key" in result.stdout

    new = dev_secret_path(var_dir).read_text().strip()
    assert new != old
    assert stat.S_IMODE(dev_secret_path(var_dir).stat().st_mode) == 0o600
    assert not (var_dir / "secret_key.next").exists()
    assert not (var_dir / "secret_key.previous").exists()
    assert with_store(dev_env, lambda s: open_connection(s, row, new)) == VOBIZ_SECRETS

    failed(
        invoke(dev_env | {"CALLWRIGHT_SECRET_KEY": KEY_A}, "secrets", "rotate", "--generate"),
        "CALLWRIGHT_SECRET_KEY is set",
    )
    (var_dir / "secret_key.next").write_text("half-done\n")
    failed(invoke(dev_env, "secrets", "rotate"), "run with --generate to finish it")


def test_serve_refuses_several_workers_without_redis(dev_env):
    refused = spawn(dev_env, "serve", "--workers", "2")
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("error: 2 workers need CALLWRIGHT_REDIS_URL")
