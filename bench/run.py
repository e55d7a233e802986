"""Callwright's benchmarks, against the carrier simulator and a plain Pipecat baseline, in one run.

    make bench        # or: .venv/bin/python bench/run.py [--quick] [--workers N]
    .venv/bin/python bench/run.py --only calls_start [--rate 300] [--load-secs 4]
    .venv/bin/python bench/run.py --only turns [--load-calls 40] [--no-baseline]
    .venv/bin/python bench/run.py --only capacity [--steps 30,40,50]

Everything runs locally in separate processes: the carrier simulator (``callwright sim serve``),
Callwright (``callwright serve`` with the fake engines on, carriers pointed at the simulator) and
the baseline bot (bench/baseline_bot.py). Progress goes to stderr; stdout gets a table, then one
JSON line per metric: ``{"metric": NAME, ...figures..., "baseline": {...}, "ratio": {...}}`` with
``ratio`` = Callwright / baseline per figure. Children's logs: $BENCH_LOG_DIR (default: the
temporary directory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.api_load import calls_start_load, dialer_pacing
from bench.baseline import Baseline
from bench.common import fmt, pct
from bench.postgres import scratch_database
from bench.stack import (
    DEFAULT_REDIS_URL,
    REALISTIC,
    ZERO,
    Callwright,
    Sim,
    redis_answers,
)
from bench.voice import (
    Step,
    Target,
    caller_line,
    conversation,
    describe_step,
    find_capacity,
    greeting_only,
    run_calls,
    talks_over_greeting,
)

BUDGETS = {
    "platform_turn_latency_ms": {"p50": 20, "p99": 60},
    "answer_to_greeting_ms": {"p95": 150},
    "capacity_calls": {"calls": 50, "rss_mb_per_call": 40, "gap_p99_ms": 30},
    "calls_start_rps": {"rps": 300, "p99_ms": 50},
    "barge_in_ms": {"p95": 230},  # VAD start window (0.2 s) + 30 ms
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _round(value: Any) -> Any:
    return round(value, 2) if isinstance(value, float) else value


def _ratio(ours: dict[str, Any], theirs: dict[str, Any] | None) -> dict[str, float] | None:
    if not theirs:
        return None
    ratios = {}
    for key, value in ours.items():
        other = theirs.get(key)
        if isinstance(value, (int, float)) and isinstance(other, (int, float)) and other:
            ratios[key] = round(value / other, 3)
    return ratios


def loaded_step_calls(capacity: Step | None) -> int:
    """80% of the capacity found: the loaded step of the turn latency."""
    return max(1, round(0.8 * (capacity.calls if capacity else 1)))


async def voice_suite(sim: Sim, target: Target, *, quick: bool, load_calls: int) -> dict[str, Any]:
    """Greeting, turn latency at 1 call and at ``load_calls`` (zero-latency engines)."""
    greet = await run_calls(
        sim, target, calls=10 if quick else 20, scenario=greeting_only(ZERO), dial_rate=4
    )
    log(
        f"  {target.name}: greeting p50 {fmt(pct(greet.greeting_ms, 50))} ms"
        f" over {len(greet.greeting_ms)} calls"
    )
    barge = await run_calls(
        sim, target, calls=6 if quick else 12, scenario=talks_over_greeting(ZERO), dial_rate=4
    )
    log(
        f"  {target.name}: barge-in (onset -> clear) p50 {fmt(pct(barge.barge_in_ms, 50))} ms"
        f" over {len(barge.barge_in_ms)} calls"
    )
    one = await run_calls(sim, target, calls=1, scenario=conversation(3 if quick else 10, ZERO))
    log(f"  {target.name}: 1 call: turn latency {[round(t) for t in one.turn_ms]} ms")
    loaded = await run_calls(
        sim, target, calls=load_calls, scenario=conversation(2 if quick else 3, ZERO)
    )
    log(f"  {target.name}: {load_calls} calls: turn latency p50 {fmt(pct(loaded.turn_ms, 50))} ms")
    return {"greeting": greet, "barge_in": barge, "one": one, "loaded": loaded}


def turn_figures(suite: dict[str, Any]) -> dict[str, Any]:
    one, loaded = suite["one"].turn_ms, suite["loaded"].turn_ms
    return {
        "p50": pct(one, 50), "p95": pct(one, 95), "p99": pct(one, 99), "n": len(one),
        "load_calls": suite["loaded"].calls,
        "load_p50": pct(loaded, 50), "load_p95": pct(loaded, 95), "load_p99": pct(loaded, 99),
        "load_n": len(loaded), "missing": suite["one"].missing + suite["loaded"].missing,
    }  # fmt: skip


def _spread(ms: list[float]) -> dict[str, Any]:
    return {"p50": pct(ms, 50), "p95": pct(ms, 95), "max": max(ms, default=None), "n": len(ms)}


def greeting_figures(suite: dict[str, Any]) -> dict[str, Any]:
    return _spread(suite["greeting"].greeting_ms)


def barge_in_figures(suite: dict[str, Any]) -> dict[str, Any]:
    step = suite["barge_in"]
    return {**_spread(step.barge_in_ms), "calls": step.calls}


def capacity_figures(best: Step | None, history: list[Step]) -> dict[str, Any]:
    """The largest step that kept real time; with none, the figures of the smallest step tried."""
    shown = best or min(history, key=lambda step: step.calls)
    return {
        "calls": best.calls if best else 0,
        "step_calls": shown.calls,
        "gap_p99_ms": shown.gap_p99,
        "gap_max_ms": shown.gap_max,
        "cpu_pct_per_call": shown.cpu_pct_per_call(),
        "rss_mb_per_call": shown.rss_mb_per_call(),
        "rss_mb_total": shown.target.rss_mb,
        "sim_cpu_pct": shown.sim.cpu_pct,
    }


async def callwright_suite(sim: Sim, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    store = work / "sqlite"
    log(
        f"Callwright ({args.workers} worker(s)), fake engines at STT 150 / LLM 300 / TTS 100 ms:"
        " capacity"
    )
    platform = Callwright(sim, var_dir=store, latencies=REALISTIC, workers=args.workers)
    await platform.start()
    try:
        await platform.set_up_partner(cps=100)
        best, history = await find_capacity(
            sim, platform, REALISTIC, log=log, budget_secs=60 if args.quick else 150
        )
        results["capacity"] = capacity_figures(best, history)
    finally:
        await platform.stop()

    log("Callwright, zero-latency fake engines: greeting, turn latency, dialer pacing, calls/start")
    zero = Callwright(sim, var_dir=store, latencies=ZERO, workers=args.workers)
    await zero.start()
    try:
        zero.adopt_partner(platform)
        suite = await voice_suite(sim, zero, quick=args.quick, load_calls=loaded_step_calls(best))
        results["turn"], results["greeting"] = turn_figures(suite), greeting_figures(suite)
        results["barge_in"] = barge_in_figures(suite)
        pacing = await dialer_pacing(
            zero, sim, cps=5, calls=15 if args.quick else 25, number="+919800000005"
        )
        log(
            f"  dialer: {pacing.max_in_any_second} dials in the busiest second"
            f" at {pacing.cps:g} CPS"
        )
        results["pacing"] = pacing
        await zero.set_cps(None)
        load = await calls_start_load(
            zero, sim, rate=args.rate, secs=args.load_secs, number="+919800000006"
        )
        log(f"  calls/start on SQLite: {load.completed_rps:.0f} rps, p99 {fmt(load.p99_ms)} ms")
        results["start_sqlite"] = load
    finally:
        await zero.stop()

    async with scratch_database() as postgres_url:
        if postgres_url is None:
            log("PostgreSQL not reachable: calls/start measured on SQLite only")
            return results
        pg = Callwright(
            sim,
            var_dir=work / "pg",
            latencies=ZERO,
            database_url=postgres_url,
            workers=args.workers,
            name="callwright-pg",
        )
        await pg.start()
        try:
            await pg.set_up_partner(cps=1)
            load = await calls_start_load(
                pg, sim, rate=args.rate, secs=args.load_secs, number="+919800000007"
            )
            log(
                f"  calls/start on PostgreSQL: {load.completed_rps:.0f} rps,"
                f" p99 {fmt(load.p99_ms)} ms"
            )
            results["start_postgres"] = load
        finally:
            await pg.stop()
    return results


async def baseline_suite(sim: Sim, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    log("Baseline (plain Pipecat bot), fake engines at STT 150 / LLM 300 / TTS 100 ms: capacity")
    bot = Baseline(sim, REALISTIC)
    await bot.start()
    try:
        best, history = await find_capacity(
            sim, bot, REALISTIC, log=log, budget_secs=60 if args.quick else 120
        )
        results["capacity"] = capacity_figures(best, history)
    finally:
        await bot.stop()
    log("Baseline, zero-latency fake engines: greeting, turn latency")
    bot = Baseline(sim, ZERO)
    await bot.start()
    try:
        suite = await voice_suite(sim, bot, quick=args.quick, load_calls=loaded_step_calls(best))
        results["turn"], results["greeting"] = turn_figures(suite), greeting_figures(suite)
        results["barge_in"] = barge_in_figures(suite)
    finally:
        await bot.stop()
    return results


def metric_line(
    name: str, figures: dict[str, Any], baseline: dict[str, Any] | None, ratio: Any = "auto"
) -> dict[str, Any]:
    """One metric's JSON line: its figures, the baseline's, their ratio and the budget."""
    line = {"metric": name, **{k: _round(v) for k, v in figures.items()}}
    line["baseline"] = {k: _round(v) for k, v in baseline.items()} if baseline else None
    line["ratio"] = _ratio(figures, baseline) if ratio == "auto" else ratio
    line["budget"] = BUDGETS.get(name)
    return line


def report(ours: dict[str, Any], theirs: dict[str, Any], wall_secs: float) -> None:
    lines: list[dict[str, Any]] = []

    def metric(
        name: str, figures: dict[str, Any], baseline: dict[str, Any] | None, ratio: Any = "auto"
    ) -> None:
        lines.append(metric_line(name, figures, baseline, ratio))

    metric("platform_turn_latency_ms", ours["turn"], theirs.get("turn"))
    metric("answer_to_greeting_ms", ours["greeting"], theirs.get("greeting"))
    metric("barge_in_ms", ours["barge_in"], theirs.get("barge_in"))
    metric("capacity_calls", ours["capacity"], theirs.get("capacity"))
    start = {}
    for db in ("sqlite", "postgres"):
        load = ours.get(f"start_{db}")
        if load is not None:
            start[db] = {
                "offered_rps": load.offered_rps, "rps": round(load.completed_rps, 1),
                "p50_ms": _round(load.p50_ms), "p99_ms": _round(load.p99_ms),
                "errors": load.errors, "cpu_pct": round(load.server_cpu_pct),
            }  # fmt: skip
    metric("calls_start_rps", start, None, ratio=None)
    pacing = ours["pacing"]
    metric(
        "dialer_cps_max",
        {
            "max_dials_in_1s": pacing.max_in_any_second,
            "calls": pacing.calls,
            "accounts": pacing.accounts,
        },
        {"configured_cps": pacing.cps},
        ratio=round(pacing.max_in_any_second / pacing.cps, 3),
    )

    rows = [("metric", "figure", "callwright", "baseline", "ratio", "budget")]
    for line in lines:
        baseline, ratio, budget = line["baseline"] or {}, line["ratio"], line["budget"] or {}
        skip = {"metric", "baseline", "ratio", "budget"}
        for key, value in line.items():
            if key in skip:
                continue
            if isinstance(value, dict):
                for sub, subvalue in value.items():
                    rows.append(
                        (
                            line["metric"],
                            f"{key}.{sub}",
                            _cell(subvalue),
                            "",
                            "",
                            _cell(budget.get(sub)),
                        )
                    )
                continue
            r = (
                ratio.get(key)
                if isinstance(ratio, dict)
                else (ratio if key == "max_dials_in_1s" else None)
            )
            other = baseline.get(
                key, baseline.get("configured_cps") if key == "max_dials_in_1s" else None
            )
            rows.append(
                (line["metric"], key, _cell(value), _cell(other), _cell(r), _cell(budget.get(key)))
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * width for width in widths))
    print(f"(whole run: {wall_secs:.0f} s on {os.cpu_count()} CPUs)")
    for line in lines:
        print(json.dumps(line))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


async def calls_start_only(sim: Sim, work: Path, args: argparse.Namespace) -> None:
    """``--only calls_start``: the calls/start load alone, on SQLite then PostgreSQL."""
    figures: dict[str, Any] = {}
    for db in ("sqlite", "postgres"):
        store = scratch_database() if db == "postgres" else contextlib.nullcontext(None)
        async with store as postgres_url:
            if db == "postgres" and postgres_url is None:
                log("PostgreSQL not reachable: calls/start measured on SQLite only")
                continue
            url = postgres_url if db == "postgres" else None
            platform = Callwright(
                sim, var_dir=work / db, latencies=ZERO, database_url=url, workers=args.workers
            )
            await platform.start()
            try:
                # As in the full run: SQLite's dialer unpaced, PostgreSQL's at 1 CPS.
                await platform.set_up_partner(cps=1)
                if db == "sqlite":
                    await platform.set_cps(None)
                log(f"  {db}: server pids {platform.pids()}")
                load = await calls_start_load(
                    platform, sim, rate=args.rate, secs=args.load_secs, number="+919800000006"
                )
            finally:
                await platform.stop()
        figures[db] = {
            "offered_rps": load.offered_rps, "rps": round(load.completed_rps, 1),
            "p50_ms": _round(load.p50_ms), "p99_ms": _round(load.p99_ms),
            "errors": load.errors, "cpu_pct": round(load.server_cpu_pct),
        }  # fmt: skip
        log(f"  calls/start on {db}: {figures[db]}")
    print(json.dumps({"metric": "calls_start_rps", **figures, "budget": BUDGETS["calls_start_rps"]}))


async def turns_only(sim: Sim, work: Path, args: argparse.Namespace) -> None:
    """``--only turns``: greeting, barge-in and turn latency (zero-latency engines) at 1 call and at
    ``--load-calls`` calls, no capacity search; the baseline too, unless ``--no-baseline``."""
    suites: dict[str, dict[str, Any]] = {}
    targets = [("ours", Callwright(sim, var_dir=work, latencies=ZERO, workers=args.workers))]
    if not args.no_baseline:
        targets.append(("theirs", Baseline(sim, ZERO)))
    for key, target in targets:
        await target.start()
        try:
            if isinstance(target, Callwright):
                await target.set_up_partner(cps=100)
            suites[key] = await voice_suite(
                sim, target, quick=args.quick, load_calls=args.load_calls
            )
        finally:
            await target.stop()
    theirs = suites.get("theirs")
    for name, figures in (
        ("platform_turn_latency_ms", turn_figures),
        ("barge_in_ms", barge_in_figures),
    ):
        baseline = figures(theirs) if theirs else None
        print(json.dumps(metric_line(name, figures(suites["ours"]), baseline)))


async def capacity_only(sim: Sim, work: Path, args: argparse.Namespace) -> None:
    """``--only capacity``: Callwright at each of ``--steps`` simultaneous calls (realistic engine
    delays), every step run whatever the one before measured; no search, no baseline."""
    platform = Callwright(sim, var_dir=work, latencies=REALISTIC, workers=args.workers)
    await platform.start()
    try:
        await platform.set_up_partner(cps=100)
        for calls in args.steps:
            step = await run_calls(sim, platform, calls=calls, scenario=conversation(2, REALISTIC))
            log(describe_step(platform.name, step))
            figures = capacity_figures(step if step.keeps_real_time() else None, [step])
            print(json.dumps(metric_line("capacity_step", figures, None, ratio=None)), flush=True)
    finally:
        await platform.stop()


async def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    if args.workers > 1 and not await redis_answers(DEFAULT_REDIS_URL):
        log(f"no Redis at {DEFAULT_REDIS_URL}: Callwright runs 1 worker (several need Redis)")
        args.workers = 1
    if args.only:
        if args.only in ("turns", "capacity"):
            await asyncio.to_thread(caller_line)
        only = {"calls_start": calls_start_only, "turns": turns_only, "capacity": capacity_only}[
            args.only
        ]
        sim = Sim()
        await sim.start()
        try:
            with tempfile.TemporaryDirectory(prefix="callwright-bench-") as work:
                await only(sim, Path(work), args)
        finally:
            await sim.stop()
        return
    await asyncio.to_thread(caller_line)  # render the caller's line before anything is timed
    sim = Sim()
    await sim.start()
    try:
        with tempfile.TemporaryDirectory(prefix="callwright-bench-") as work:
            ours = await callwright_suite(sim, Path(work), args)
        theirs = {} if args.no_baseline else await baseline_suite(sim, args)
    finally:
        await sim.stop()
    report(ours, theirs, time.monotonic() - started)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and turns (a smoke run)")
    parser.add_argument(
        "--workers", type=int, default=2, help="Callwright worker processes (more than 1 needs Redis)"
    )
    parser.add_argument("--rate", type=float, default=300.0, help="calls/start offered per second")
    parser.add_argument("--load-secs", type=float, default=4.0)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--only",
        choices=["calls_start", "turns", "capacity"],
        help="just this: the calls/start load (no baseline), greeting and turn latency, or the"
        " capacity steps of --steps (no baseline)",
    )
    parser.add_argument(
        "--load-calls", type=int, default=40, help="with --only turns: calls in the loaded step"
    )
    parser.add_argument(
        "--steps",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[30, 40, 50],
        help="with --only capacity: the simultaneous calls of each step, comma-separated",
    )
    asyncio.run(main(parser.parse_args()))
