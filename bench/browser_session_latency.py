"""Browser session: the browser's offer → the agent's first audible audio (budget: p95 ≤ 1 s on
loopback).

The platform runs in this process (SQLite in a temporary folder, voice models preloaded as
``callwright serve`` does); an aiortc peer stands in for the browser, in the same event loop. Each
session: ``POST /sessions/webrtc``, the peer's offer (ICE gathered first, as the console sends it),
the answer, then the time until the first received Opus frame whose level is audible. The peer
then hangs up and the next session waits for the previous one to be stored. Prints a table and one
JSON line. The same figure in Chromium is printed by tests/e2e/test_console_browser.py.

With ``--background`` a second agent, identical but for background audio (the curated office hum
at volume 0.3, under the audible threshold), takes every other session, so the two are compared
under the same load; the cost of the bed on the session path is printed too: preparing the loop
at the browser leg's output rate (a curated asset rendered, an upload decoded and resampled with
soxr — at session start, off the event loop) and the mixer's work per outbound frame.

    .venv/bin/python bench/browser_session_latency.py [--sessions 10] [--background]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AUDIBLE_RMS = 300.0
INTRO = "Hello, this is the front desk. How can I help you today?"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def one_session(client, headers: dict[str, str], agent_id: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(offer → first audible audio, answer round trip), in ms."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from tests.webrtc_support import microphone

    started = (await client.post("/api/v2/sessions/webrtc", json={"agent_id": agent_id}, headers=headers)).json()
    session_id = started["data"]["session_id"]
    peer = RTCPeerConnection()
    peer.addTrack(microphone(np.zeros(48_000, dtype=np.int16)))
    heard: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def listen(track) -> None:  # type: ignore[no-untyped-def]
        while not heard.done():
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if float(np.sqrt(np.mean(frame.to_ndarray().astype(np.float64) ** 2))) > AUDIBLE_RMS:
                heard.set_result(time.perf_counter())

    readers = []
    peer.on("track", lambda track: readers.append(asyncio.create_task(listen(track))))
    try:
        await peer.setLocalDescription(await peer.createOffer())
        offered = time.perf_counter()
        answer = (
            await client.post(
                f"/api/v2/sessions/{session_id}/offer",
                json={"sdp": peer.localDescription.sdp, "type": "offer"},
                headers=headers,
            )
        ).json()["data"]
        answered = time.perf_counter()
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        first_audio = await asyncio.wait_for(heard, 30)
    finally:
        await peer.close()
        for reader in readers:
            reader.cancel()
    for _ in range(200):  # the session is stored before the next starts
        status = (await client.get(f"/api/v2/sessions/{session_id}", headers=headers)).json()["data"]["status"]
        if status in ("completed", "failed"):
            break
        await asyncio.sleep(0.05)
    return (first_audio - offered) * 1000, (answered - offered) * 1000


def bed_costs() -> dict[str, float]:
    """Preparing the bed at the browser leg's output rate (ms, best of 3), and the mixer's work
    per 20 ms outbound frame at that rate (µs)."""
    import io
    import wave

    from bench.background_audio import OFFICE_HUM, VOLUME

    from callwright.services.background_audio import _decode
    from callwright.voice import ambience
    from callwright.voice.background import BackgroundLoop, BackgroundMixer
    from callwright.voice.browser_leg import BrowserPeerLeg

    rate = BrowserPeerLeg.output_sample_rate

    def best_ms(work) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(3):
            started = time.perf_counter()
            work()
            times.append((time.perf_counter() - started) * 1000)
        return round(min(times), 1)

    def upload(secs: int) -> bytes:  # a mono 16-bit 44.1 kHz WAV, as a partner would upload
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(44_100)
            noise = np.random.default_rng(7).normal(0, 3000, 44_100 * secs)
            wav.writeframes(np.clip(noise, -32768, 32767).astype("<i2").tobytes())
        return out.getvalue()

    costs = {
        "output_rate_hz": float(rate),
        # Rendered once per process and rate (cached after): timed uncached.
        "curated_loop_ms": best_ms(lambda: (ambience.render.cache_clear(), BackgroundLoop.curated(OFFICE_HUM.id, rate))),
    }
    for secs in (60, 300):
        data = upload(secs)
        costs[f"upload_{secs}s_44k1_ms"] = best_ms(lambda data=data: _decode("bench", data, rate))

    async def mixer_us() -> tuple[float, float]:
        mixer = BackgroundMixer(BackgroundLoop.curated(OFFICE_HUM.id, rate), volume=VOLUME, hold_secs=0)
        await mixer.start(rate)
        n_samples = rate // 50
        idle = bytes(2 * n_samples)
        voice = (np.sin(np.arange(n_samples) / 3) * 8000).astype(np.int16).tobytes()
        result = []
        for frame in (idle, voice):
            for _ in range(1000):
                await mixer.mix(frame)
            started, n = time.perf_counter(), 20000
            for _ in range(n):
                await mixer.mix(frame)
            result.append(round((time.perf_counter() - started) / n * 1e6, 2))
        return result[0], result[1]

    costs["mixer_bed_only_us"], costs["mixer_under_voice_us"] = asyncio.run(mixer_us())
    return costs


async def main(sessions: int, background: bool) -> None:
    import httpx
    from bench.background_audio import OFFICE_HUM, VOLUME

    from callwright.api.app import create_app
    from callwright.platform import Platform
    from callwright.services import partners
    from callwright.settings import Settings
    from callwright.store.db import create_engine
    from callwright.store.migrate import upgrade
    from callwright.voice.preload import preload_voice_models

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/callwright.db"
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        settings = Settings(var_dir=Path(folder) / "var", database_url=url, secret_key="bench-master-key-" + "b" * 32)
        platform = Platform.from_settings(settings)
        await preload_voice_models()
        try:
            async with platform.sessions() as session:
                _, key = await partners.create_partner(
                    session=session, name="bench", concurrency_limit=100, agent_limit=10,
                    requests_per_minute=0, calls_per_minute=0,
                )
            headers = {"Authorization": f"Bearer {key.api_key}"}
            transport = httpx.ASGITransport(app=create_app(platform=platform))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                agents = {}
                for kind, extra in (("off", {}), ("on", {"background_audio_id": OFFICE_HUM.id, "background_audio_volume": VOLUME})):
                    if kind == "on" and not background:
                        continue
                    agent = await client.post(
                        "/api/v2/agent", json={"agent_name": f"Bench {kind}", "intro_message": INTRO} | extra,
                        headers=headers,
                    )
                    agents[kind] = agent.json()["data"]["id"]
                for agent_id in agents.values():  # warm-up: first imports, first Opus encoder, the loop
                    await one_session(client, headers, agent_id)
                firsts: dict[str, list[float]] = {kind: [] for kind in agents}
                answers: list[float] = []
                for _ in range(sessions):
                    for kind, agent_id in agents.items():  # alternating: the machine's drift hits both
                        first, answer = await one_session(client, headers, agent_id)
                        firsts[kind].append(first)
                        answers.append(answer)
        finally:
            await platform.close()

    rows = [(f"offer → first audible audio{'' if kind == 'off' else ', bed on'}", values) for kind, values in firsts.items()]
    rows.append(("offer → answer (HTTP)", answers))
    print(f"{'measure':<40} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, values in rows:
        print(f"{name:<40} {pct(values, 50):8.0f} {pct(values, 95):8.0f} {max(values):8.0f}")
    line = {
        "bench": "browser_session_latency",
        "sessions": sessions,
        "first_audio_p50_ms": round(pct(firsts["off"], 50)),
        "first_audio_p95_ms": round(pct(firsts["off"], 95)),
        "first_audio_max_ms": round(max(firsts["off"])),
        "answer_p50_ms": round(pct(answers, 50)),
        "answer_p95_ms": round(pct(answers, 95)),
    }
    if background:
        line |= {
            "bed_on_first_audio_p50_ms": round(pct(firsts["on"], 50)),
            "bed_on_first_audio_p95_ms": round(pct(firsts["on"], 95)),
            "bed_on_first_audio_max_ms": round(max(firsts["on"])),
        }
    print(json.dumps(line))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--background", action="store_true", help="also sessions with background audio, and its cost")
    args = parser.parse_args()
    if args.background:
        costs = bed_costs()
        print(
            f"bed at the browser leg's {costs['output_rate_hz']:.0f} Hz: curated loop {costs['curated_loop_ms']} ms, "
            f"upload 60 s / 300 s at 44.1 kHz decoded + resampled {costs['upload_60s_44k1_ms']} / "
            f"{costs['upload_300s_44k1_ms']} ms (once per session start, off the loop; uploads cached per process); "
            f"mixer per 20 ms frame {costs['mixer_bed_only_us']} µs bed only, {costs['mixer_under_voice_us']} µs under the voice"
        )
        print(json.dumps({"bench": "browser_session_bed_cost", **costs}))
    asyncio.run(main(args.sessions, args.background))
