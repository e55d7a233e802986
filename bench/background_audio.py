"""Background audio on vs off: CPU and memory per call, frame gaps and greeting/turn latency at a
fixed load, and optionally the capacity search (budget: capacity with background audio on within
10 % of off).

One ``callwright serve`` (fake zero-latency engines) and one simulator; two agents on the same
partner, identical but for ``background_audio_id`` (the curated office hum, volume 0.3: quiet
enough that the simulator's "agent is audible" threshold, −40 dBFS per 20 ms, still times the
voice and not the bed). Steps alternate off/on so drift in the machine's load hits both alike.
Prints a table and one JSON line.

    .venv/bin/python bench/background_audio.py [--calls 30] [--rounds 2] [--capacity]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import pct  # noqa: E402
from bench.stack import ZERO, Callwright, Sim  # noqa: E402
from bench.voice import Step, conversation, find_capacity, run_calls  # noqa: E402

from callwright.voice.ambience import CURATED  # noqa: E402

OFFICE_HUM = next(a for a in CURATED if a.slug == "office-hum")
VOLUME = 0.3


async def agent_with_background(platform: Callwright) -> str:
    response = await platform.http.post(
        "/api/v2/agent",
        json={
            "agent_name": "Bench agent with background audio",
            "intro_message": "Hello, this is a quick call from the benchmark.",
            "voice_id": "fake-tone",
            "stt": {"provider": "fake"},
            "llm": {"provider": "fake"},
            "background_audio_id": OFFICE_HUM.id,
            "background_audio_volume": VOLUME,
        },
        headers=platform.headers,
    )
    response.raise_for_status()
    return str(response.json()["data"]["id"])


def figures(steps: list[Step]) -> dict[str, Any]:
    cpu = [s.cpu_pct_per_call() for s in steps]
    rss = [s.rss_mb_per_call() for s in steps]
    gaps = [g for s in steps for g in s.gaps_ms]
    greet = [g for s in steps for g in s.greeting_ms]
    turns = [t for s in steps for t in s.turn_ms]
    return {
        "calls": steps[0].calls,
        "cpu_pct_per_call": round(statistics.mean(cpu), 2),
        "rss_mb_per_call": round(statistics.mean(rss), 2),
        "gap_p99_ms": round(pct(gaps, 99) or 0, 1),
        "greeting_p50_ms": round(pct(greet, 50) or 0, 1),
        "greeting_p95_ms": round(pct(greet, 95) or 0, 1),
        "turn_p50_ms": round(pct(turns, 50) or 0, 1),
        "missing": sum(s.missing for s in steps),
    }


async def mixer_cost_us() -> dict[str, float]:
    """The mixer's own work per 20 ms frame, in this process: the bed alone and under a voice."""
    import time

    import numpy as np

    from callwright.voice.background import BackgroundLoop, BackgroundMixer

    mixer = BackgroundMixer(BackgroundLoop.curated(OFFICE_HUM.id, 8000), volume=VOLUME, hold_secs=0)
    await mixer.start(8000)
    idle = bytes(320)
    voice = (np.sin(np.arange(160) / 3) * 8000).astype(np.int16).tobytes()
    cost = {}
    for name, frame in (("bed_only", idle), ("under_voice", voice)):
        for _ in range(1000):
            await mixer.mix(frame)
        started, n = time.perf_counter(), 20000
        for _ in range(n):
            await mixer.mix(frame)
        cost[name] = round((time.perf_counter() - started) / n * 1e6, 2)
    return cost


async def main(args: argparse.Namespace) -> None:
    cost = await mixer_cost_us()
    print(f"mixer cost per 20 ms frame: {cost['bed_only']} µs bed only, {cost['under_voice']} µs under the voice "
          f"({cost['under_voice'] / 20000 * 100:.3f} % of a core per call)", flush=True)
    sim = Sim()
    await sim.start()
    try:
        with tempfile.TemporaryDirectory(prefix="callwright-bench-") as work:
            platform = Callwright(sim, var_dir=Path(work), latencies=ZERO)
            await platform.start()
            try:
                await platform.set_up_partner(cps=100)
                plain, with_bed = platform.agent_id, await agent_with_background(platform)
                scenario = conversation(2, ZERO)
                steps: dict[str, list[Step]] = {"off": [], "on": []}
                for round_ in range(args.rounds):
                    for name, agent_id in (("off", plain), ("on", with_bed)):
                        platform.agent_id = agent_id
                        step = await run_calls(sim, platform, calls=args.calls, scenario=scenario)
                        steps[name].append(step)
                        print(f"round {round_ + 1} background {name}: {step.calls} calls, "
                              f"{step.cpu_pct_per_call():.2f} % CPU/call, gap p99 {step.gap_p99 or 0:.1f} ms", flush=True)
                result: dict[str, Any] = {name: figures(s) for name, s in steps.items()}
                if args.capacity:
                    for name, agent_id in (("off", plain), ("on", with_bed)):
                        platform.agent_id = agent_id
                        best, _ = await find_capacity(sim, platform, ZERO)
                        result[name]["capacity_calls"] = best.calls if best else 0
            finally:
                await platform.stop()
    finally:
        await sim.stop()

    off, on = result["off"], result["on"]
    cpu_ratio = on["cpu_pct_per_call"] / off["cpu_pct_per_call"] if off["cpu_pct_per_call"] else None
    print()
    print(f"{'':28}{'off':>12}{'on':>12}")
    for key in off:
        print(f"{key:28}{off[key]!s:>12}{on[key]!s:>12}")
    if cpu_ratio is not None:
        print(f"{'CPU per call, on / off':28}{cpu_ratio:>24.3f}")
    line = {
        "metric": "background_audio", "off": off, "on": on, "cpu_ratio": cpu_ratio,
        "mixer_us_per_frame": cost, "budget": "capacity within 10 %",
    }
    print(json.dumps(line))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30, help="simultaneous calls per step")
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs of steps")
    parser.add_argument("--capacity", action="store_true", help="also search each one's capacity (slow)")
    asyncio.run(main(parser.parse_args()))
