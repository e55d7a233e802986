"""A cluster on loopback: `callwright serve` nodes behind Debian's nginx, on a PostgreSQL and a
Redis of their own (private servers on free ports, so a test may stop and restart them without
touching the machine's shared ones)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from callwright.services.node_registry import NodeRecord, list_nodes
from tests.e2e.server_process import ServerProcess
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"


def find_binary(name: str, *more: str) -> str | None:
    for candidate in (shutil.which(name), *(str(Path(d) / name) for d in more)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


async def until(
    condition: Callable[[], Awaitable[bool]], *, timeout: float, what: str, every: float = 0.1
) -> float:
    """Wait for ``condition``; returns the seconds it took. ``timeout`` is a hang guard only."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not met in {timeout:.0f} s")
        await asyncio.sleep(every)
    return time.monotonic() - started


class PrivateRedis:
    """A redis-server of this test's own on a free port (no persistence): stopped and started at will."""

    def __init__(self, workdir: Path) -> None:
        self.binary = find_binary("redis-server", "/usr/bin")
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        _wait_port(self.port, what="redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb in a temporary directory, a free port);
    run as the ``postgres`` user when the test runs as root, as PostgreSQL requires."""

    def __init__(self) -> None:
        bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
        self.initdb = find_binary("initdb", *map(str, bindirs))
        self.pg_ctl = find_binary("pg_ctl", *map(str, bindirs))
        self.port = free_port()
        self.datadir: Path | None = None
        self._user: str | None = None

    def available(self) -> str | None:
        """Why this cannot run here, or None."""
        if self.initdb is None or self.pg_ctl is None:
            return "no initdb/pg_ctl on this machine"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no postgres user to run PostgreSQL as"
            self._user = "postgres"
        return None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/callwright"

    def _run(self, *argv: str) -> None:
        command = [*argv] if self._user is None else ["runuser", "-u", self._user, "--", *argv]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def init(self) -> None:
        assert self.initdb is not None
        self.datadir = Path(tempfile.mkdtemp(prefix="cw-cluster-pg-"))
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.datadir, entry.pw_uid, entry.pw_gid)
        self._run(self.initdb, "-D", str(self.datadir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", "CREATE DATABASE callwright"
        )

    def start(self) -> None:
        assert self.pg_ctl is not None and self.datadir is not None
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run(self.pg_ctl, "-D", str(self.datadir / "data"), "-l", str(self.datadir / "pg.log"),
                  "-o", options, "-w", "start")  # fmt: skip

    def stop(self) -> None:
        assert self.pg_ctl is not None and self.datadir is not None
        self._run(self.pg_ctl, "-D", str(self.datadir / "data"), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        if self.datadir is None:
            return
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)


def nginx_config(workdir: Path, port: int, node_ports: list[int]) -> Path:
    """deploy/nginx/nginx.conf as shipped, its upstream the given nodes on loopback, its files in
    ``workdir``: every proxy setting the tests exercise is the shipped one."""
    shipped = NGINX_CONF.read_text()
    servers = "".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n" for p in node_ports)
    upstream = f"    upstream callwright_nodes {{\n{servers}    }}\n\n"
    temp = "".join(
        f"    {name}_temp_path {workdir / name};\n" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config, count = re.subn(r"\n    resolver [^\n]*\n", "\n" + temp, shipped)
    assert count == 1, "the shipped nginx.conf's resolver line moved"
    config, count = re.subn(r"\n    server \{", "\n" + upstream + "    server {", config)
    assert count == 1
    config, count = re.subn(r"listen 80;", f"listen 127.0.0.1:{port};", config)
    assert count == 1
    config, count = re.subn(
        r"set \$platform_upstream http://platform:8080;", "set $platform_upstream http://callwright_nodes;", config
    )
    assert count == 1, "the shipped nginx.conf's upstream variable moved"
    config = config.replace("access_log /dev/stdout main;", f"access_log {workdir / 'access.log'} main;")
    config = f"pid {workdir / 'nginx.pid'};\nerror_log {workdir / 'error.log'} info;\ndaemon off;\n" + config
    if os.geteuid() == 0:
        config = "user root root;\n" + config
    path = workdir / "nginx.conf"
    path.write_text(config)
    return path


class Nginx:
    def __init__(self, workdir: Path, node_ports: list[int]) -> None:
        self.binary = find_binary("nginx", "/usr/sbin")
        self.workdir = workdir
        self.port = free_port()
        self.node_ports = node_ports
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.binary is not None
        config = nginx_config(self.workdir, self.port, self.node_ports)
        self.process = subprocess.Popen(
            [self.binary, "-c", str(config), "-p", str(self.workdir), "-e", str(self.workdir / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        _wait_port(self.port, what="nginx")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class Cluster:
    """Three (or more) nodes by name, the balancer in front, the Redis and store behind."""

    def __init__(
        self, nodes: dict[str, ServerProcess], nginx: Nginx, redis: PrivateRedis, postgres: PrivatePostgres
    ) -> None:
        self.nodes, self.nginx, self.redis, self.postgres = nodes, nginx, redis, postgres

    @property
    def url(self) -> str:
        return self.nginx.url

    async def registry(self, *, with_calls: bool = False) -> list[NodeRecord]:
        from redis.asyncio import Redis

        client = Redis.from_url(self.redis.url, socket_connect_timeout=2)
        try:
            return await list_nodes(client, "callwright", with_calls=with_calls)
        finally:
            await client.aclose()

    async def lease_holder(self, role: str = "dialer") -> str | None:
        """The name of the node holding the dialer's (or the campaign scheduler's) lease."""
        from redis.asyncio import Redis

        key = "callwright:dialer-lease" if role == "dialer" else "callwright:campaign-scheduler-lease"
        client = Redis.from_url(self.redis.url, socket_connect_timeout=2)
        try:
            holder = await client.get(key)
        finally:
            await client.aclose()
        if holder is None:
            return None
        node_id = holder.decode()
        for node in await self.registry():
            if node.node_id == node_id:
                return node.name
        return None

    def alive(self) -> list[str]:
        return [name for name, node in self.nodes.items() if node.process is not None and node.process.poll() is None]

    async def ensure_all_up(self) -> None:
        """Every node running and in the registry (a test that killed one starts it again)."""
        for node in self.nodes.values():
            if node.process is None or node.process.poll() is not None:
                await node.start()

        async def registered() -> bool:
            return {n.name for n in await self.registry()} >= set(self.nodes)

        await until(registered, timeout=30, what="every node in the registry")

    async def ready(self, name: str) -> bool:
        async with httpx.AsyncClient(timeout=2) as client:
            try:
                return (await client.get(f"{self.nodes[name].base_url}/readyz")).status_code == 200
            except httpx.TransportError:
                return False


def _wait_port(port: int, *, what: str, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")
