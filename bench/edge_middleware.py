"""What the edge layers (``api.guard``, ``api.headers``) cost a request, in process.

The same app is built twice on one SQLite store, with and without the edge middleware, and
driven in alternating rounds through httpx's ASGI transport (no sockets), so the difference is
the layers' own work: ``GET /healthz`` (no credential, no body), ``GET /api/v2/config`` (a
partner's key) and ``POST /api/v2/calls/start`` with a body (the bounded receive) that fails
validation after authentication. On a busy machine the whole-request figures drown in noise,
so the layers are also timed alone, around an app that does nothing (``layers_alone``). Prints
tables and a JSON line; asserts nothing.

    .venv/bin/python -m bench.edge_middleware [requests_per_round] [rounds]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from callwright.api.app import create_app
from callwright.api.auth_throttle import AuthThrottle
from callwright.api.guard import RequestGuard
from callwright.api.headers import SecurityHeaders
from callwright.domain.partners import parse_provider_list
from callwright.platform import Platform
from callwright.services import partners
from callwright.settings import Settings
from callwright.store.db import create_engine
from callwright.store.migrate import upgrade


async def _partner_key(platform: Platform) -> str:
    async with platform.sessions() as session:
        _, key = await partners.create_partner(
            session=session, name="bench", display_name="Bench", providers=parse_provider_list(["twilio"]),
            concurrency_limit=10, agent_limit=50,
        )
        return key.api_key


def _client(platform: Platform, *, edge: bool) -> httpx.AsyncClient:
    app = create_app(platform=platform)
    if not edge:
        app.user_middleware.clear()  # before the first request builds the stack
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://callwright.test")


async def _round(client: httpx.AsyncClient, request: dict, n: int) -> float:
    """Mean microseconds per request over ``n`` sequential requests."""
    started = time.perf_counter()
    for _ in range(n):
        response = await client.request(**request)
        assert response.status_code < 500, response.text
    return (time.perf_counter() - started) / n * 1e6


async def _nothing(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["method"] == "POST":
        while (await receive()).get("more_body"):
            pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def layers_alone(settings: Settings, n: int = 50_000) -> list[dict[str, object]]:
    """Microseconds the edge layers add around an app that does nothing."""
    edge = SecurityHeaders(RequestGuard(_nothing, settings=settings, throttle=AuthThrottle.from_settings(settings)))
    key = b"Bearer rg_live_" + b"x" * 32
    scopes = {
        "GET /healthz": [(b"host", b"x")],
        "GET /api/v2/config": [(b"host", b"x"), (b"authorization", key)],
        "POST /api/v2/calls/start": [(b"host", b"x"), (b"authorization", key), (b"content-length", b"80")],
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"x" * 80, "more_body": False}

    async def send(_message: object) -> None:
        pass

    rows = []
    for name, headers in scopes.items():
        method, path = name.split(" ")
        scope = {"type": "http", "method": method, "path": path, "headers": headers, "client": ("192.0.2.1", 5)}
        took = {}
        for label, app in (("without", _nothing), ("with", edge)):
            started = time.perf_counter()
            for i in range(n):
                await app(dict(scope), receive, send)
                if i % 50 == 0:
                    await asyncio.sleep(0)  # let the loop drop cancelled timers, as a server's would
            took[label] = (time.perf_counter() - started) / n * 1e6
        rows.append({"request": name, "without_us": round(took["without"], 1), "with_us": round(took["with"], 1),
                     "added_us": round(took["with"] - took["without"], 1)})
    return rows


def _table(title: str, rows: list[dict[str, object]]) -> None:
    print(f"{title:34} {'without µs':>11} {'with µs':>9} {'added µs':>9}")
    for row in rows:
        print(f"{row['request']:34} {row['without_us']:>11} {row['with_us']:>9} {row['added_us']:>9}")


async def main(per_round: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        settings = Settings(
            var_dir=Path(directory) / "var", database_url=url, secret_key="bench-" + "k" * 40,
            admin_token="bench-" + "a" * 40, workers_enabled=False, preload_voice_models=False,
        )
        platform = Platform.from_settings(settings)
        headers = {"Authorization": f"Bearer {await _partner_key(platform)}"}
        requests = {
            "GET /healthz": {"method": "GET", "url": "/healthz"},
            "GET /api/v2/config": {"method": "GET", "url": "/api/v2/config", "headers": headers},
            "POST /api/v2/calls/start (400)": {
                "method": "POST", "url": "/api/v2/calls/start", "headers": headers,
                "json": {"agent_id": "nope", "to_number": "not a number", "provider": "twilio"},
            },
        }
        rows = []
        async with _client(platform, edge=False) as bare, _client(platform, edge=True) as guarded:
            for name, request in requests.items():
                await _round(bare, request, 50)  # warm both
                await _round(guarded, request, 50)
                without, with_ = [], []
                for _ in range(rounds):
                    without.append(await _round(bare, request, per_round))
                    with_.append(await _round(guarded, request, per_round))
                base, edged = statistics.median(without), statistics.median(with_)
                rows.append({"request": name, "without_us": round(base, 1), "with_us": round(edged, 1),
                             "added_us": round(edged - base, 1)})
        await platform.close()
    alone = await layers_alone(settings)
    _table("whole request (ASGI transport)", rows)
    _table("layers alone", alone)
    print(json.dumps({"bench": "edge_middleware", "requests_per_round": per_round, "rounds": rounds,
                      "rows": rows, "layers_alone": alone}))

if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [1000, 5][len(args):])))
