"""Answer → first greeting audio, timed the way the carrier sees it (budget: p95 ≤ 150 ms).

A child process serves the media route stand-in from tests/voice under uvicorn (models preloaded
at start-up, as ``callwright serve`` should); this process plays the carrier: it opens Twilio media
WebSockets and times ``start`` sent → first audible agent audio received. Scenarios:

- baseline: a route that answers ``start`` with one audio message (socket + server floor)
- cached:   the intro is in the rendered-speech cache (one agent, many calls)
- uncached: a different intro on every call ({{name}} substituted), rendered by Piper on the call
- burst:    ``--concurrent`` calls dialled at once with the cached intro; also gives the server's
            RSS per extra concurrent call

Calls are dialled one after another; each hangs up once the greeting is heard, and the next one
waits for the previous call's last Piper sentence to finish. Also reports model load times and the
per-call pipeline construction cost. Prints a table and one JSON line.

    .venv/bin/python bench/greeting_latency.py [--calls 20] [--concurrent 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi import WebSocket  # noqa: E402  (module level: FastAPI resolves the annotation here)

from tests.voice.media_caller import TWILIO, MediaCaller  # noqa: E402

VOICE = "piper-joe-us"
INTRO = "Hello, this is Joe from Acme Dental. Do you have a minute to talk about your appointment?"
NAMES = ["Priya", "Rahul", "Anita", "Vikram", "Meera", "Arjun", "Kavya", "Rohan", "Sneha", "Aditya"]
DAYS = ["Monday", "Tuesday", "Friday"]
SETTLE_SECS = 0.3


def rss_mb(pid: str = "self") -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096 / 1e6


def cpu_secs(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 10 ms


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ---- the server (child process) ----


def script_for(call_id: str):
    from callwright.voice.session import AgentScript

    if call_id.startswith("u"):
        i = int(call_id[1:])
        line = f"Hello {NAMES[i % len(NAMES)]}, this is Joe from Acme Dental about {DAYS[i % 3]}."
        return AgentScript(line, VOICE)
    return AgentScript(INTRO, VOICE)


async def construction_ms(n: int) -> float:
    """Building one call's pipeline objects, without socket I/O, averaged over ``n``."""
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.serializers.twilio import TwilioFrameSerializer
    from pipecat.workers.runner import WorkerRunner

    from callwright.voice.engines import TTS_ENGINES
    from callwright.voice.pipeline import build_call_pipeline, carrier_transport
    from callwright.voice.vad import silero_vad

    start = time.perf_counter()
    for _ in range(n):
        tts = await TTS_ENGINES["piper"].create_tts(VOICE, cached_texts=[INTRO])
        serializer = TwilioFrameSerializer(
            "MZ1", "CA1", params=TwilioFrameSerializer.InputParams(auto_hang_up=False)
        )
        call = build_call_pipeline(
            carrier_transport(SimpleNamespace(headers={}), serializer=serializer),
            tts=tts,
            vad=silero_vad().new_analyzer(),
        )
        worker = PipelineWorker(
            call.pipeline,
            params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000),
            enable_rtvi=False,
            enable_turn_tracking=False,
            idle_timeout_secs=None,
        )
        await WorkerRunner(handle_sigint=False).add_workers(worker)
    return (time.perf_counter() - start) * 1000 / n


async def serve() -> None:
    from callwright.voice.engines import TTS_ENGINES
    from callwright.voice.vad import silero_vad
    from tests.voice.media_server import MediaServer, serving

    report: dict[str, float] = {}
    rss0 = rss_mb()
    start = time.perf_counter()
    _ = silero_vad().session
    report["silero_load_ms"] = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    await TTS_ENGINES["piper"].load(VOICE)
    report["piper_load_ms"] = (time.perf_counter() - start) * 1000
    report["models_rss_mb"] = rss_mb() - rss0
    start = time.perf_counter()
    await TTS_ENGINES["piper"].prerender(VOICE, INTRO, sample_rate=8000)
    report["prerender_ms"] = (time.perf_counter() - start) * 1000
    report["construction_ms"] = await construction_ms(50)

    server = MediaServer(script_for=script_for)
    app = server.app()
    payload = base64.b64encode(bytes([0x10, 0x90] * 80)).decode()  # 20 ms of loud µ-law

    @app.websocket("/baseline/twilio")
    async def baseline(websocket: WebSocket) -> None:
        await websocket.accept()
        while json.loads(await websocket.receive_text())["event"] != "start":
            pass
        await websocket.send_text(json.dumps({"event": "media", "media": {"payload": payload}}))
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    async with serving(server, app):
        print(json.dumps({"port": server.port, **report}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# ---- the carrier (this process) ----


async def dial(port: int, path: str, call_id: str) -> float:
    """Milliseconds from ``start`` sent to the first audible agent audio received."""
    async with MediaCaller(TWILIO, f"ws://127.0.0.1:{port}/{path}", call_id) as caller:
        while (heard := caller.first_audible_at()) is None:
            await asyncio.sleep(0.001)
    await asyncio.sleep(SETTLE_SECS)
    return (heard - caller.start_sent_at) * 1000


async def burst(port: int, server_pid: int, n: int) -> tuple[list[float], float, float]:
    """Greeting latencies, server RSS per extra call (MB), server CPU per call (% of a core)."""
    before = rss_mb(str(server_pid))
    cpu0, wall0 = cpu_secs(server_pid), time.monotonic()
    callers = [MediaCaller(TWILIO, f"ws://127.0.0.1:{port}/media/twilio", f"b{i}") for i in range(n)]
    await asyncio.gather(*(c.__aenter__() for c in callers))
    await asyncio.gather(*(c.wait_for_agent_audio(quiet_secs=0.2, timeout=60) for c in callers))
    during = rss_mb(str(server_pid))
    cpu = (cpu_secs(server_pid) - cpu0) / (time.monotonic() - wall0) / n * 100
    await asyncio.gather(*(c.hang_up() for c in callers))
    latencies = [((c.first_audible_at() or 0) - c.start_sent_at) * 1000 for c in callers]
    return latencies, (during - before) / n, cpu


async def main(calls: int, concurrent: int) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    server = json.loads(await child.stdout.readline())
    port = server["port"]
    results: dict[str, list[float]] = {"baseline": [], "cached": [], "uncached": []}
    try:
        for i in range(calls):
            results["baseline"].append(await dial(port, "baseline/twilio", f"x{i}"))
        for i in range(calls):
            results["cached"].append(await dial(port, "media/twilio", f"c{i}"))
        for i in range(calls):
            results["uncached"].append(await dial(port, "media/twilio", f"u{i}"))
        results[f"burst x{concurrent}"], per_call_rss, per_call_cpu = await burst(
            port, child.pid, concurrent
        )
    finally:
        child.stdin.close()
        await child.wait()

    floor = statistics.median(results["baseline"])
    print(f"{'scenario':<12} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'p50-baseline':>13}")
    for scenario, values in results.items():
        p50 = pct(values, 50)
        print(
            f"{scenario:<12} {p50:8.1f} {pct(values, 95):8.1f} {max(values):8.1f} "
            f"{p50 - floor:13.1f}"
        )
    print(
        f"loads: Silero {server['silero_load_ms']:.0f} ms, Piper voice {server['piper_load_ms']:.0f}"
        f" ms (+{server['models_rss_mb']:.0f} MB RSS for both); prerender intro "
        f"{server['prerender_ms']:.0f} ms; per-call construction {server['construction_ms']:.2f}"
        f" ms; per extra concurrent call: server RSS {per_call_rss:.2f} MB, server CPU "
        f"{per_call_cpu:.1f}% of a core (greeting and playout)"
    )
    summary = {
        scenario: {"p50_ms": pct(v, 50), "p95_ms": pct(v, 95), "max_ms": max(v), "n": len(v)}
        for scenario, v in results.items()
    }
    summary |= {k: v for k, v in server.items() if k != "port"}
    summary["rss_per_call_mb"] = per_call_rss
    summary["cpu_per_call_pct"] = per_call_cpu
    print(json.dumps({"bench": "greeting_latency", **summary}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    asyncio.run(serve() if args.serve else main(args.calls, args.concurrent))
