"""Campaign dispatch: a campaign of many contacts with mixed outcomes, fake engines, short calls.

Runs the platform (uvicorn on a thread) and the carrier simulator in this process, on a fresh
SQLite file (or ``--database-url``). Every number follows one outcome mix (busy, no answer,
answered after a short call), retried by the campaign's rules. Measures:

- time to drain: start → the campaign completed;
- dials per second as the carrier saw them: the most dials in any one-second window (each
  call's ``started_at``, when the carrier took its dial), against the connection's CPS;
- slot free → next dial: from a call's end to the next admission of the campaign while contacts
  were due (the scheduler's reaction), p50/p99;
- the scheduler's passes (wall time each, p50/p99, and in total per contact) and this process's
  CPU per contact (platform, simulator and all: an upper bound for the scheduler's share).

    .venv/bin/python -m bench.campaign_dispatch --contacts 2000 --cps 20

Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable as a script, as bench/run.py is
from bench.common import pct

from callwright.api.app import create_app
from callwright.services import campaign_scheduler
from callwright.settings import Settings
from callwright.sim import CarrierSimulator, OutcomeMix, Scenario
from callwright.store.db import create_engine, session_factory
from callwright.store.migrate import upgrade
from callwright.store.models import Call, CampaignAttempt

ADMIN_TOKEN = "bench-admin-token-" + "a" * 32
SECRET_KEY = "bench-master-key-" + "k" * 32
TWILIO = {"account_sid": "AC" + "b" * 32, "auth_token": "bench-token"}


def _serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, port


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def most_in_one_second(times: list[float]) -> int:
    ordered, best, first = sorted(times), 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


async def run(contacts: int, cps: float, concurrency: int, database_url: str | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="cw-campaign-bench-"))
    url = database_url or f"sqlite:///{work / 'bench.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    passes: list[float] = []
    original = campaign_scheduler.CampaignScheduler.run_once

    async def timed(self: campaign_scheduler.CampaignScheduler) -> int:
        began = time.perf_counter()
        try:
            return await original(self)
        finally:
            passes.append(time.perf_counter() - began)

    campaign_scheduler.CampaignScheduler.run_once = timed  # type: ignore[method-assign]
    sim = CarrierSimulator()
    with sim.running():
        sim.add_account("twilio", **TWILIO)
        sim.set_mix(
            OutcomeMix.of(
                (25, Scenario.busy(ring_secs=0.05)),
                (15, Scenario.no_answer(after_secs=0.1)),
                (60, Scenario.caller_hangs_up_after(0.3, ring_secs=0.05)),
                seed=2000,
            )
        )
        settings = Settings(
            var_dir=work / "var",
            database_url=url,
            secret_key=SECRET_KEY,
            admin_token=ADMIN_TOKEN,
            twilio_api_url=sim.api_urls()["twilio"],
            fake_engines=True,
            silence_timeout_secs=0,
            default_requests_per_minute=0,  # the polling below is not a partner's traffic
            default_calls_per_minute=0,
        )
        server, thread, port = _serve(settings)
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as api:
                created = await api.post(
                    "/admin/v1/partners",
                    json={"name": "bench", "allowed_telephony_providers": ["twilio"], "concurrency_limit": 100},
                    headers=admin,
                )
                headers = {"Authorization": f"Bearer {created.json()['data']['api_key']}"}
                await api.put(
                    "/api/v2/config/telephony/twilio", json=TWILIO | {"from_number": "+14155550100"}, headers=headers
                )
                await api.patch("/admin/v1/partners/bench/connections/twilio", json={"cps": cps}, headers=admin)
                agent = await api.post(
                    "/api/v2/agent",
                    json={"agent_name": "Bench", "intro_message": "Hi.", "voice_id": "fake-tone",
                          "stt": {"provider": "fake"}, "llm": {"provider": "fake"}},
                    headers=headers,
                )
                campaign = await api.post(
                    "/api/v2/campaigns",
                    json={"name": "Bench", "agent_id": agent.json()["data"]["id"], "provider": "twilio",
                          "concurrency_limit": concurrency,
                          "retry": {"max_attempts": 3, "busy": {"spacing_secs": 1}, "no_answer": {"spacing_secs": 1}}},
                    headers=headers,
                )
                cid = campaign.json()["data"]["campaign_id"]
                numbers = [f"+1646{2000000 + i:07d}" for i in range(contacts)]
                for start in range(0, contacts, 10_000):
                    chunk = [{"phone": n} for n in numbers[start : start + 10_000]]
                    await api.post(f"/api/v2/campaigns/{cid}/contacts", json={"contacts": chunk}, headers=headers)
                cpu_before, began = time.process_time(), time.monotonic()
                await api.post(f"/api/v2/campaigns/{cid}/start", headers=headers)
                while (await api.get(f"/api/v2/campaigns/{cid}", headers=headers)).json()["data"]["status"] != "completed":
                    await asyncio.sleep(0.5)
                drain = time.monotonic() - began
                cpu = time.process_time() - cpu_before
        finally:
            server.should_exit = True
            thread.join(timeout=20)
            campaign_scheduler.CampaignScheduler.run_once = original  # type: ignore[method-assign]

    async with session_factory(engine)() as session:
        attempts = list(await session.execute(
            select(CampaignAttempt.created_at, CampaignAttempt.ended_at, Call.started_at)
            .join(Call, Call.id == CampaignAttempt.call_id)
            .where(CampaignAttempt.campaign_id == cid)
        ))
    await engine.dispose()
    dialled = [started.timestamp() for _, _, started in attempts if started is not None]
    admitted = sorted(created.timestamp() for created, _, _ in attempts)
    reactions = []
    for _, ended, _ in attempts:
        if ended is None:
            continue
        later = [a for a in admitted if a >= ended.timestamp()]
        if later and later[0] - ended.timestamp() < 5.0:  # a contact was due: the slot was refilled
            reactions.append((later[0] - ended.timestamp()) * 1000)
    return {
        "contacts": contacts,
        "dials": len(attempts),
        "concurrency_limit": concurrency,
        "cps": cps,
        "drain_secs": round(drain, 1),
        "max_dials_in_one_second": most_in_one_second(dialled),
        "slot_free_to_next_admission_ms": {"p50": pct(reactions, 50), "p99": pct(reactions, 99), "n": len(reactions)},
        "scheduler_pass_ms": {
            "p50": pct([p * 1000 for p in passes], 50),
            "p99": pct([p * 1000 for p in passes], 99),
            "n": len(passes),
            "total_per_contact": round(sum(passes) * 1000 / contacts, 2),
        },
        "process_cpu_ms_per_contact": round(cpu * 1000 / contacts, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--cps", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args.contacts, args.cps, args.concurrency, args.database_url))
    for key, value in result.items():
        print(f"{key:34} {value}")
    print(json.dumps({"metric": "campaign_dispatch", **result}))


if __name__ == "__main__":
    main()
