"""What the cluster machinery costs: one node alone, one node with Redis behind nginx, two nodes.

    make bench-cluster      # or: .venv/bin/python bench/cluster.py [--calls 20] [--idle-secs 10]

Each configuration runs ``callwright serve`` (fake engines, realistic latencies) on a fresh
PostgreSQL database, the carrier simulator (``callwright sim serve``) dialling through the
configuration's public URL:

- ``embedded``: one node, no Redis: no node registry, no elections, commands in process;
- ``1 node``: one node with a private Redis and the shipped nginx config in front (the cluster
  machinery on: heartbeats, the dialer's and the scheduler's leases, control over pub/sub);
- ``2 nodes``: two nodes sharing that Redis and the database behind nginx.

For each: CPU of the nodes, Redis and nginx at idle (``--idle-secs``), then while ``--calls``
calls of two turns run at once: CPU per live call (% of one core), Redis commands and PostgreSQL
transactions per call, and the frame gaps the callers heard. The overhead of the cluster
machinery is ``1 node`` against ``embedded``. Prints a table, then one JSON line per
configuration. The figures feed docs/scaling.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
import httpx
from bench.common import cpu_secs, fmt, free_port
from bench.postgres import scratch_database
from bench.stack import REALISTIC, Callwright, Sim
from bench.voice import conversation, run_calls

from tests.cluster.support import find_binary, nginx_config


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        binary = find_binary("redis-server", "/usr/bin")
        if binary is None:
            raise SystemExit("bench/cluster.py needs redis-server (scripts/ensure-redis)")
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def commands(self) -> int:
        from redis.asyncio import Redis

        client = Redis.from_url(self.url)
        try:
            return int((await client.info("stats"))["total_commands_processed"])
        finally:
            await client.aclose()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)


class Nginx:
    def __init__(self, workdir: Path, node_ports: list[int], port: int) -> None:
        binary = find_binary("nginx", "/usr/sbin")
        if binary is None:
            raise SystemExit("bench/cluster.py needs nginx (scripts/ensure-nginx)")
        self.port = port
        config = nginx_config(workdir, self.port, node_ports)
        self.process = subprocess.Popen(
            [binary, "-c", str(config), "-p", str(workdir), "-e", str(workdir / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        from bench.common import process_tree

        return process_tree(self.process.pid)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(timeout=10)


@dataclass
class Through:
    """The calls' target: placed through ``url`` (nginx, or the one node), CPU of ``nodes``."""

    name: str
    url: str
    nodes: list[Callwright]
    http: httpx.AsyncClient

    async def place(self, number: str) -> None:
        first = self.nodes[0]
        response = await self.http.post(
            f"{self.url}/api/v2/calls/start",
            json={"agent_id": first.agent_id, "to_number": number, "provider": "twilio"},
            headers=first.headers,
        )
        response.raise_for_status()

    def pids(self) -> list[int]:
        return [pid for node in self.nodes for pid in node.pids()]


async def xacts(database_url: str) -> int:
    name = database_url.rsplit("/", 1)[1].split("?", 1)[0]
    admin = await asyncpg.connect(database_url.split("?", 1)[0].rsplit("/", 1)[0] + "/postgres", timeout=5)
    try:
        row = await admin.fetchrow(
            "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1", name
        )
        return int(row["n"]) if row else 0
    finally:
        await admin.close()


async def measure(name: str, *, nodes: int, redis: bool, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="cw-bench-cluster-"))
    workdir.chmod(0o755)
    db_name = f"cw_bench_cluster_{uuid.uuid4().hex[:8]}"
    sim = Sim()
    await sim.start()
    private_redis = PrivateRedis(workdir) if redis else None
    nginx: Nginx | None = None
    started: list[Callwright] = []
    http = httpx.AsyncClient(timeout=60)
    try:
        async with scratch_database(db_name) as database_url:
            if database_url is None:
                raise SystemExit("bench/cluster.py needs PostgreSQL (scripts/ensure-postgres)")
            nginx_port = free_port()
            public = f"http://127.0.0.1:{nginx_port}" if redis else None
            namespace = f"bench-{uuid.uuid4().hex[:8]}"
            built = [
                Callwright(
                    sim, var_dir=workdir / f"node-{index}", latencies=REALISTIC, database_url=database_url,
                    redis_url=private_redis.url if private_redis else None, name=f"cluster-node-{index}",
                    public_url=public, redis_namespace=namespace, node_name=f"node-{index}",
                )
                for index in range(nodes)
            ]
            if redis:
                nginx = Nginx(workdir, [node.port for node in built], nginx_port)
            for node in built:
                await node.start()  # one at a time: model loads at once only take longer
                started.append(node)
            await started[0].set_up_partner(cps=100)
            for node in started[1:]:
                node.adopt_partner(started[0])
            target = Through(name, nginx.url if nginx else started[0].base_url, started, http)
            others = (nginx.pids() if nginx else []) + ([private_redis.process.pid] if private_redis else [])
            await asyncio.sleep(3)  # elections settled, models warm
            # Idle: what the nodes (and Redis, nginx) burn with no call.
            cpu0, others0, wall0 = cpu_secs(target.pids()), cpu_secs(others), time.monotonic()
            await asyncio.sleep(args.idle_secs)
            idle_wall = time.monotonic() - wall0
            idle_nodes = (cpu_secs(target.pids()) - cpu0) / idle_wall * 100
            idle_others = (cpu_secs(others) - others0) / idle_wall * 100
            # Warm-up (first calls load caches), then the measured step.
            await run_calls(sim, target, calls=2, scenario=conversation(1, REALISTIC))
            commands0 = await private_redis.commands() if private_redis else 0
            xacts0 = await xacts(database_url)
            others0 = cpu_secs(others)
            step = await run_calls(sim, target, calls=args.calls, scenario=conversation(2, REALISTIC))
            commands = (await private_redis.commands() - commands0) if private_redis else 0
            transactions = await xacts(database_url) - xacts0
            others_pct = (cpu_secs(others) - others0) / step.wall_secs * 100
    finally:
        for node in started:
            await node.stop()
        if nginx is not None:
            nginx.stop()
        if private_redis is not None:
            private_redis.stop()
        await sim.stop()
        await http.aclose()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "config": name,
        "nodes": nodes,
        "calls": args.calls,
        "missing": step.missing,
        "idle_cpu_pct_nodes": round(idle_nodes, 2),
        "idle_cpu_pct_redis_nginx": round(idle_others, 2),
        "cpu_pct_nodes": round(step.target.cpu_pct, 1),
        "cpu_pct_per_call": round(step.cpu_pct_per_call(), 2),
        "cpu_pct_redis_nginx": round(others_pct, 2),
        "redis_commands_per_call": round(commands / args.calls, 1),
        "pg_transactions_per_call": round(transactions / args.calls, 1),
        "wall_secs": round(step.wall_secs, 1),
        "gap_p99_ms": None if step.gap_p99 is None else round(step.gap_p99, 1),
        "rss_mb_per_call": round(step.rss_mb_per_call(), 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20, help="calls at once in the measured step")
    parser.add_argument("--idle-secs", type=float, default=10.0)
    args = parser.parse_args()
    os.environ.setdefault("BENCH_LOG_DIR", tempfile.gettempdir())
    results = []
    for name, nodes, redis in (("embedded", 1, False), ("1 node", 1, True), ("2 nodes", 2, True)):
        print(f"[cluster bench] {name} ...", file=sys.stderr, flush=True)
        results.append(await measure(name, nodes=nodes, redis=redis, args=args))
    head = ("config", "idle CPU % (nodes)", "idle CPU % (redis+nginx)", "CPU %/call", "redis cmds/call",
            "pg xacts/call", "gap p99 ms", "missing")  # fmt: skip
    print(" | ".join(head))
    for r in results:
        print(" | ".join([
            r["config"], fmt(r["idle_cpu_pct_nodes"], 2), fmt(r["idle_cpu_pct_redis_nginx"], 2),
            fmt(r["cpu_pct_per_call"], 2), fmt(r["redis_commands_per_call"]), fmt(r["pg_transactions_per_call"]),
            fmt(r["gap_p99_ms"]), str(r["missing"]),
        ]))  # fmt: skip
    for r in results:
        print(json.dumps({"metric": "cluster"} | r))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
