"""What every benchmark module shares: percentiles, child processes and their CPU and memory."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def pct(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (nearest rank); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[min(len(ordered), int(rank)) - 1]


async def paced(count: int, rate: float, start_one: Callable[[], Awaitable[object]]) -> None:
    """Start ``count`` tasks at ``rate`` per second (an open-loop load), then await them all."""
    start = time.monotonic()
    tasks = []
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(start_one()))
    await asyncio.gather(*tasks)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def cpu_secs(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def rss_mb(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
    return total * PAGE_BYTES / 1e6


@dataclass
class Usage:
    """CPU (% of one core) and memory of some processes over a stretch of wall time."""

    cpu_pct: float
    rss_mb: float  # the largest total seen
    rss_before_mb: float


@dataclass
class UsageMeter:
    """Samples the processes' RSS every ``every`` seconds while running; CPU from start to stop."""

    pids: list[int]
    every: float = 0.5
    _cpu0: float = 0.0
    _wall0: float = 0.0
    _peak: float = 0.0
    _before: float = 0.0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._cpu0, self._wall0 = cpu_secs(self.pids), time.monotonic()
        self._before = self._peak = rss_mb(self.pids)
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self._peak = max(self._peak, rss_mb(self.pids))

    async def stop(self) -> Usage:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        wall = max(1e-6, time.monotonic() - self._wall0)
        cpu = (cpu_secs(self.pids) - self._cpu0) / wall * 100
        return Usage(cpu, max(self._peak, rss_mb(self.pids)), self._before)


class Child:
    """A child process in its own process group, stopped (SIGINT, then SIGKILL) on ``stop``."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **(env or {})}
        self.proc: asyncio.subprocess.Process | None = None
        logs = Path(os.environ.get("BENCH_LOG_DIR") or tempfile.gettempdir())
        self.log_path = logs / f"callwright-bench-{name}.log"

    async def start(self) -> None:
        log = self.log_path.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> list[int]:
        return process_tree(self.pid) if self.proc is not None else []

    async def wait_http(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self.proc is not None and self.proc.returncode is not None:
                    raise RuntimeError(f"{self.name} exited; see {self.log_path}")
                try:
                    await client.get(url)
                    return
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{self.name} did not answer {url}; see {self.log_path}") from None
                    await asyncio.sleep(0.2)

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 15)
        except (TimeoutError, ProcessLookupError):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await proc.wait()


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
