"""``POST /calls/start`` under a fixed offered load, and the dialer's pacing as the carrier sees it.

The load is open-loop: request ``i`` leaves at ``i / rate`` whatever the earlier ones are doing,
as independent partners' clients would send them, so a slow server shows as latency and a lower
completed rate rather than as a politely slower client.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass

import aiohttp
from bench.common import UsageMeter, paced, pct
from bench.stack import Callwright, Sim

from callwright.sim.scenarios import Scenario


@dataclass
class StartLoad:
    offered_rps: float
    completed_rps: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    requests: int
    server_cpu_pct: float


async def calls_start_load(
    platform: Callwright, sim: Sim, *, rate: float, secs: float, number: str
) -> StartLoad:
    """Offer ``rate`` calls/start a second for ``secs``; the calls go to a number that fails at
    once, so the dialer's work stays small next to the API's."""
    await sim.set_scenario(number, Scenario.failed())
    body = {"agent_id": platform.agent_id, "to_number": number, "provider": "twilio"}
    url = platform.base_url + "/api/v2/calls/start"
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, headers=platform.headers) as http:

        async def one() -> None:
            nonlocal errors
            sent = time.perf_counter()
            try:
                async with http.post(url, json=body) as response:
                    await response.read()
                    ok = response.status == 200
            except aiohttp.ClientError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - sent) * 1000)
            else:
                errors += 1

        await asyncio.gather(*(one() for _ in range(20)))  # warm the pool and the server
        latencies.clear()
        meter = UsageMeter(platform.pids())
        meter.start()
        count = int(rate * secs)
        # This process is the clock: after the voice benchmarks it holds every call's timings, and
        # a full collection walking them stalled the requests it was timing (p99 +100s of ms).
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            start = time.monotonic()
            await paced(count, rate, one)
            elapsed = time.monotonic() - start
        finally:
            gc.enable()
            gc.unfreeze()
        usage = await meter.stop()
    return StartLoad(
        offered_rps=rate,
        completed_rps=len(latencies) / elapsed,
        p50_ms=pct(latencies, 50),
        p99_ms=pct(latencies, 99),
        errors=errors,
        requests=count,
        server_cpu_pct=usage.cpu_pct,
    )


@dataclass
class DialPacing:
    cps: float
    calls: int
    max_in_any_second: int
    accounts: int


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` inside any half-open window ``[t, t + window)``."""
    ordered = sorted(times)
    best, j = 0, 0
    for i, start in enumerate(ordered):
        j = max(j, i)
        while j < len(ordered) and ordered[j] < start + window:
            j += 1
        best = max(best, j - i)
    return best


async def dialer_pacing(
    platform: Callwright, sim: Sim, *, cps: float, calls: int, number: str
) -> DialPacing:
    """Start ``calls`` calls at once with the account paced to ``cps``; count, per carrier
    account, the dial requests the simulator received in every 1 s window."""
    await sim.set_scenario(number, Scenario.busy(ring_secs=0.1))
    await platform.set_cps(cps)
    await asyncio.gather(*(platform.place(number) for _ in range(calls)))
    await sim.wait_for_calls(number, calls, timeout=calls / cps + 30)
    timings = await sim.timings(number)
    by_account: dict[str, list[float]] = {}
    for timing in timings:
        by_account.setdefault(timing["account_id"], []).append(timing["t0"])
    await sim.clear_calls()
    worst = max((max_in_window(times) for times in by_account.values()), default=0)
    return DialPacing(cps, len(timings), worst, len(by_account))
