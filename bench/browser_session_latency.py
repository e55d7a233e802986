"""Browser session: the browser's offer → the agent's first audible audio (budget: p95 ≤ 1 s on
loopback).

The platform runs in this process (SQLite in a temporary folder, voice models preloaded as
``callwright serve`` does); an aiortc peer stands in for the browser, in the same event loop. Each
session: ``POST /sessions/webrtc``, the peer's offer (ICE gathered first, as the console sends it),
the answer, then the time until the first received Opus frame whose level is audible. The peer
then hangs up and the next session waits for the previous one to be stored. Prints a table and one
JSON line. The same figure in Chromium is printed by tests/e2e/test_console_browser.py.

    .venv/bin/python bench/browser_session_latency.py [--sessions 10]
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


async def main(sessions: int) -> None:
    import httpx

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
                agent = await client.post(
                    "/api/v2/agent", json={"agent_name": "Bench", "intro_message": INTRO}, headers=headers
                )
                agent_id = agent.json()["data"]["id"]
                await one_session(client, headers, agent_id)  # warm-up: first imports, first Opus encoder
                firsts, answers = [], []
                for _ in range(sessions):
                    first, answer = await one_session(client, headers, agent_id)
                    firsts.append(first)
                    answers.append(answer)
        finally:
            await platform.close()

    print(f"{'measure':<34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, values in (("offer → first audible agent audio", firsts), ("offer → answer (HTTP)", answers)):
        print(f"{name:<34} {pct(values, 50):8.0f} {pct(values, 95):8.0f} {max(values):8.0f}")
    print(
        json.dumps(
            {
                "bench": "browser_session_latency",
                "sessions": sessions,
                "first_audio_p50_ms": round(pct(firsts, 50)),
                "first_audio_p95_ms": round(pct(firsts, 95)),
                "first_audio_max_ms": round(max(firsts)),
                "answer_p50_ms": round(pct(answers, 50)),
                "answer_p95_ms": round(pct(answers, 95)),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    asyncio.run(main(parser.parse_args().sessions))
