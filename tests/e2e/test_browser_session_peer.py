"""A whole browser session with a real WebRTC peer (aiortc standing in for the browser): the
offer is answered, the agent's intro arrives as audible Opus audio, the caller's spoken sentence
reaches the agent's transcript through the offline STT, the scripted reply comes back, and closing
the peer completes the session with ``session.completed`` (no ``call``). The same in Chromium is
tests/e2e/test_console_browser.py."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from sqlalchemy import select

from callwright.store.models import WebhookEvent
from callwright.voice.preload import preload_voice_models
from tests.conftest import error_of
from tests.voice.test_whisper_stt import word_error_rate
from tests.webrtc_support import microphone, spoken_sentence

pytestmark = pytest.mark.e2e

SENTENCE = "I would like to book a table for two"
INTRO = "Hello, this is the front desk."
REPLY = "Sure, I can book that for you."
AUDIBLE_RMS = 300.0  # int16 RMS well above Opus's comfort noise and silence


async def _session_reads(client, partner, session_id: str, until, *, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        data = (await client.get(f"/api/v2/sessions/{session_id}", headers=partner.headers)).json()["data"]
        if until(data) or time.monotonic() > deadline:
            return data
        await asyncio.sleep(0.2)


async def test_a_browser_peer_talks_to_the_agent_and_the_session_completes(client, platform, partner):
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    agent = await client.post(
        "/api/v2/agent",
        json={"agent_name": "Front desk", "intro_message": INTRO, "script": {"replies": [{"text": REPLY}]}},
        headers=partner.headers,
    )
    assert agent.status_code == 201, agent.text
    started = await client.post(
        "/api/v2/sessions/webrtc", json={"agent_id": agent.json()["data"]["id"]}, headers=partner.headers
    )
    session_id = started.json()["data"]["session_id"]
    offer_path = started.json()["data"]["offer_url"].removeprefix("http://127.0.0.1:8080")

    await preload_voice_models()  # as `callwright serve` does at start-up
    peer = RTCPeerConnection()
    speak = asyncio.Event()
    peer.addTrack(microphone(spoken_sentence(SENTENCE, lead_secs=0.5), speak=speak))
    audible_at: list[float] = []  # when each audible frame of the agent's voice arrived
    readers: list[asyncio.Task] = []

    async def listen(track) -> None:  # type: ignore[no-untyped-def]
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if float(np.sqrt(np.mean(frame.to_ndarray().astype(np.float64) ** 2))) > AUDIBLE_RMS:
                audible_at.append(time.monotonic())

    async def audible_after(moment: float, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if later := [at for at in audible_at if at > moment]:
                return later[0]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no audible agent audio within {timeout} s")

    async def quiet_for(secs: float) -> None:
        while not audible_at or time.monotonic() - audible_at[-1] < secs:
            await asyncio.sleep(0.05)

    @peer.on("track")
    def _on_track(track) -> None:  # type: ignore[no-untyped-def]
        readers.append(asyncio.create_task(listen(track)))

    try:
        await peer.setLocalDescription(await peer.createOffer())  # gathers the candidates first
        offered_at = time.monotonic()
        answered = await client.post(
            offer_path, json={"sdp": peer.localDescription.sdp, "type": "offer"}, headers=partner.headers
        )
        assert answered.status_code == 200, answered.text
        answer = answered.json()["data"]
        assert answer["type"] == "answer" and answer["sdp"].startswith("v=0")
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))

        heard_at = await audible_after(offered_at)
        print(f"\noffer → first audible agent audio: {(heard_at - offered_at) * 1000:.0f} ms (aiortc peer)")

        again = await client.post(
            offer_path, json={"sdp": peer.localDescription.sdp, "type": "offer"}, headers=partner.headers
        )
        assert (again.status_code, error_of(again)["reason"]) == (409, "offer_already_answered")
        live = (await client.get(f"/api/v2/sessions/{session_id}", headers=partner.headers)).json()["data"]
        assert live["status"] == "in_progress"

        # The caller speaks once the intro is over, then the reply comes and plays out.
        await quiet_for(1.0)
        speak.set()
        spoke_until = time.monotonic() + len(spoken_sentence(SENTENCE, lead_secs=0.5, tail_secs=0)) / 48_000
        await audible_after(spoke_until)
        await quiet_for(1.5)
    finally:
        await peer.close()
        for reader in readers:
            reader.cancel()

    done = await _session_reads(client, partner, session_id, lambda d: d["status"] in ("completed", "failed"))
    assert done["status"] == "completed", done
    assert done["end_reason"] == "caller hung up"
    assert done["first_agent_audio_at"] is not None and done["duration_seconds"] is not None
    said = [(t["role"], t["content"]) for t in done["transcript"]]
    assert said[0] == ("bot", INTRO) and ("bot", REPLY) in said, said
    # Whisper may hear "the table" for "a table": the sentence within a 30 % word error rate.
    assert any(role == "user" and word_error_rate(SENTENCE, line) <= 0.3 for role, line in said), said
    async with platform.sessions() as session:
        events = (await session.scalars(select(WebhookEvent).where(WebhookEvent.partner_id == partner.id))).all()
    assert [e.type for e in events] == ["session.completed"]
    data = events[0].data
    assert data["session_id"] == session_id and "call" not in data
    assert any(word_error_rate(SENTENCE, t["content"]) <= 0.3 for t in data["transcript"] if t["role"] == "user")
