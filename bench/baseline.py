"""The plain Pipecat bot (bench/baseline_bot.py) as a benchmark target, dialled by the simulator."""

from __future__ import annotations

import sys

from bench.common import ROOT, Child, free_port
from bench.stack import Latencies, Sim


class Baseline:
    name = "baseline"

    def __init__(self, sim: Sim, latencies: Latencies) -> None:
        self.sim = sim
        self.port = free_port()
        argv = [sys.executable, str(ROOT / "bench" / "baseline_bot.py"), "--port", str(self.port)]
        argv += ["--stt-ms", str(latencies.stt_ms), "--llm-ms", str(latencies.llm_ms)]
        argv += ["--tts-ms", str(latencies.tts_ms)]
        self.child = Child("baseline", argv)
        self.twiml = (
            f'<Response><Connect><Stream url="ws://127.0.0.1:{self.port}/ws"/></Connect></Response>'
        )

    async def start(self) -> None:
        await self.child.start()
        await self.child.wait_http(f"http://127.0.0.1:{self.port}/docs")

    async def stop(self) -> None:
        await self.child.stop()

    def pids(self) -> list[int]:
        return self.child.pids()

    async def place(self, number: str) -> None:
        await self.sim.dial_twiml(number, self.twiml)
