"""What a command on a call costs across processes: broadcast to all, or sent to its holder.

    make bench-control      # or: .venv/bin/python bench/call_control.py [--processes 6] [--commands 300]

A private ``redis-server`` and ``--processes`` CallControl instances, each with its own Redis
connections and subscription (to Redis, separate processes; here in one Python process, so the
CPU figure is all of them together). Calls are spread over all but the first instance; the first
sends ``--commands`` END commands, one after another, to calls held by the others:

- ``broadcast``: no holder records (what every command did before, and what a command still does
  when the record is missing): the command goes to every process, every one answers;
- ``direct``: each holder recorded itself (``<namespace>:call-holder:<call id>``): one GET, one
  publish to the holder's own channel, the holder's two answers.

Prints, per mode and per command delivered: Redis commands (``INFO stats``), pub/sub messages
delivered to the processes, handler tasks run, CPU of the processes and of Redis (ms), and the
commands' latency (p50/p99, ms). Then one JSON line per mode. The figures feed docs/scaling.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cluster import PrivateRedis
from bench.common import fmt, pct

from callwright.domain.call_commands import ControlCommand
from callwright.domain.end_reasons import EndReason
from callwright.services.call_control import CallControl

if TYPE_CHECKING:
    from callwright.platform import Platform


class Session:
    """A call's media session as far as a command sees it: ending it is instant."""

    async def end(self, reason: Any) -> None:
        return None


def host() -> Platform:
    # What CallControl reads of its Platform: the sessions, the dialer's wake-up, the dialer.
    return cast("Platform", SimpleNamespace(media_sessions={}, dial_wakeup=asyncio.Event(), dialer=None))


async def redis_stats(url: str) -> tuple[int, float]:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        stats, cpu = await client.info("stats"), await client.info("cpu")
        return int(stats["total_commands_processed"]), float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
    finally:
        await client.aclose()


async def until_up(url: str) -> None:
    from redis.asyncio import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    client = Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                await client.ping()
                return
            except RedisConnectionError:
                await asyncio.sleep(0.1)
        raise SystemExit("redis-server did not start")
    finally:
        await client.aclose()


async def measure(mode: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    controls = [CallControl(host(), url, namespace=namespace) for _ in range(args.processes)]
    for control in controls:
        await control.start()
    try:
        asker, holders = controls[0], controls[1:]
        calls = []
        for index in range(args.commands):
            holder, call_id = holders[index % len(holders)], str(uuid.uuid4())
            holder.platform.media_sessions[call_id] = Session()
            if mode == "direct":
                holder.session_started(call_id)
            calls.append(call_id)
        for control in controls:
            await control.holders_written()
        await asyncio.sleep(0.2)  # the subscriptions settle
        heard0 = sum(control.messages_heard for control in controls)
        answered0 = sum(control.requests_answered for control in controls)
        commands0, redis_cpu0 = await redis_stats(url)
        cpu0 = time.process_time()
        latencies = []
        for call_id in calls:
            started = time.perf_counter()
            assert await asker.run(call_id, ControlCommand.END, reason=EndReason.ENDED_BY_PLATFORM)
            latencies.append((time.perf_counter() - started) * 1000)
        # The last answers may still be in flight to processes that were not asked to wait.
        await asyncio.sleep(0.2)
        cpu = time.process_time() - cpu0
        commands1, redis_cpu1 = await redis_stats(url)
        heard = sum(control.messages_heard for control in controls) - heard0
        answered = sum(control.requests_answered for control in controls) - answered0
    finally:
        for control in controls:
            await control.close()
    n = args.commands
    return {
        "mode": mode,
        "processes": args.processes,
        "commands": n,
        "direct": asker.sent_direct,
        "broadcast": asker.sent_broadcast,
        "redis_commands_per_command": round((commands1 - commands0 - 1) / n, 2),  # less the first INFO's
        "messages_per_command": round(heard / n, 2),
        "handler_tasks_per_command": round(answered / n, 2),
        "cpu_ms_per_command_processes": round(cpu * 1000 / n, 3),
        "cpu_ms_per_command_redis": round((redis_cpu1 - redis_cpu0) * 1000 / n, 3),
        "latency_ms_p50": round(pct(latencies, 50) or 0, 2),
        "latency_ms_p99": round(pct(latencies, 99) or 0, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=6)
    parser.add_argument("--commands", type=int, default=300)
    args = parser.parse_args()
    if args.processes < 2:
        raise SystemExit("--processes must be at least 2 (one asks, the others hold calls)")
    with tempfile.TemporaryDirectory(prefix="bench-control-") as workdir:
        redis = PrivateRedis(Path(workdir))
        try:
            await until_up(redis.url)
            results = [await measure(mode, redis.url, args) for mode in ("broadcast", "direct")]
        finally:
            redis.stop()
    head = ("mode", "redis cmds/cmd", "messages/cmd", "handlers/cmd", "CPU ms/cmd (procs)", "CPU ms/cmd (redis)",
            "p50 ms", "p99 ms")  # fmt: skip
    print(f"{args.processes} processes, {args.commands} END commands each way")
    print(" | ".join(head))
    for r in results:
        print(" | ".join([r["mode"], *(fmt(v, 2) for v in (
            r["redis_commands_per_command"], r["messages_per_command"], r["handler_tasks_per_command"],
            r["cpu_ms_per_command_processes"], r["cpu_ms_per_command_redis"], r["latency_ms_p50"], r["latency_ms_p99"],
        ))]))  # fmt: skip
    for r in results:
        print(json.dumps(r))


if __name__ == "__main__":
    asyncio.run(main())
