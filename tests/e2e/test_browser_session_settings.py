"""A browser session uses the agent's background audio, dictionaries and knowledge-base documents as
a phone call does, on both databases, with a real WebRTC peer (aiortc standing in for the browser):

- background audio: the browser hears the bed in the agent's silence (and nothing before the
  greeting); without it the silence is silent;
- dictionaries: the written form goes to the STT as a keyterm, the spoken form to the TTS (local
  Deepgram and Cartesia servers record what they get), and the transcript keeps the written form;
- knowledge: the caller's question reaches the model (a local OpenAI-compatible server that
  records it) with the linked document's passage just before it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import numpy as np
import pytest

from callwright.services.kb_ingest import IngestWorker
from callwright.settings import CLOUD_SPEECH_PROVIDERS, Settings
from callwright.voice.ambience import CURATED
from callwright.voice.engines.cloud import configure_cloud_engines
from callwright.voice.engines.fake import FakeLatencies, disable_fake_engines, enable_fake_engines
from callwright.voice.preload import preload_voice_models
from tests.conftest import PartnerHandle
from tests.e2e.helpers import FAKE_ENGINE_FIELDS
from tests.kb_support import DOCX_FACT, DOCX_MIME, FILLER, PDF_FACT, PDF_MIME, make_docx, make_pdf, upload
from tests.voice.openai_server import FakeOpenAIServer, local_llm_settings
from tests.voice.openai_server import serving_in_thread as serving_llm
from tests.voice.speech_servers import CartesiaServer, DeepgramServer, serving_in_thread
from tests.webrtc_support import BROWSER_RATE, microphone, spoken_sentence

pytestmark = pytest.mark.e2e

KEY = "cloud-test-key-4242-do-not-log"
CARTESIA_VOICE = "cartesia-d46abd1d-2d02-43e8-819f-51fb652c1c61"
FAKE = FAKE_ENGINE_FIELDS
SOFT_NOISE = next(a for a in CURATED if a.slug == "soft-noise")
QUESTION = "What time does the Pune branch open?"
WINDOW = BROWSER_RATE // 50  # 20 ms at 48 kHz: 8 whole cycles of the fake voice's 400 Hz
AUDIBLE_RMS = 300.0  # int16 RMS well above Opus's comfort noise and silence
GUARD_SECS = 60.0  # a hang guard, not a latency bound


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(pieces=["It opens", " at nine thirty."])
    with serving_llm(server):
        yield server


@pytest.fixture
def settings(settings: Settings, llm_server: FakeOpenAIServer) -> Settings:
    return settings.model_copy(update=local_llm_settings(llm_server))


@dataclass
class Speech:
    deepgram: DeepgramServer
    cartesia: CartesiaServer


@pytest.fixture
def speech() -> Iterator[Speech]:
    """The fake engines, and Deepgram and Cartesia served locally (as ``callwright serve`` would
    configure them from its settings at start-up)."""
    none: dict[str, Any] = {f"{name}_{what}": None for name in CLOUD_SPEECH_PROVIDERS for what in ("api_key", "url")}
    with serving_in_thread(DeepgramServer(transcript=QUESTION)) as deepgram, serving_in_thread(CartesiaServer()) as cartesia:
        configure_cloud_engines(Settings(**{  # type: ignore[arg-type]
            **none, "deepgram_api_key": KEY, "deepgram_url": deepgram.base_url,
            "cartesia_api_key": KEY, "cartesia_url": cartesia.base_url,
        }))
        enable_fake_engines(FakeLatencies())
        try:
            yield Speech(deepgram, cartesia)
        finally:
            disable_fake_engines()
            configure_cloud_engines(Settings(**none))  # type: ignore[arg-type]


async def until(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + GUARD_SECS
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {GUARD_SECS:.0f} s")
        await asyncio.sleep(0.02)


@dataclass
class BrowserPeer:
    session_id: str
    speak: asyncio.Event
    heard: list[np.ndarray] = field(default_factory=list)  # the agent's audio, mono int16 at 48 kHz

    def samples(self) -> int:
        return sum(len(frame) for frame in self.heard)

    def audio(self) -> np.ndarray:
        return np.concatenate(self.heard) if self.heard else np.zeros(0, dtype=np.int16)

    def audible(self) -> bool:
        return any(rms(frame) > AUDIBLE_RMS for frame in self.heard)


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


async def make_agent(client: httpx.AsyncClient, partner: PartnerHandle, **fields: Any) -> str:
    name = f"Browser agent {uuid.uuid4().hex[:8]}"
    made = await client.post("/api/v2/agent", json={"agent_name": name} | fields, headers=partner.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["data"]["id"])


@asynccontextmanager
async def browser_peer(
    client: httpx.AsyncClient, partner: PartnerHandle, agent_id: str, *, says: np.ndarray | None = None
) -> AsyncIterator[BrowserPeer]:
    """A browser session with an aiortc peer: it hears the agent, says ``says`` (48 kHz) once
    ``speak`` is set, and hangs up when the block ends; the session is completed after it."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    started = await client.post("/api/v2/sessions/webrtc", json={"agent_id": agent_id}, headers=partner.headers)
    assert started.status_code == 200, started.text
    data = started.json()["data"]
    speak = asyncio.Event()
    peer = BrowserPeer(data["session_id"], speak)
    connection = RTCPeerConnection()
    quiet = np.zeros(BROWSER_RATE, dtype=np.int16)
    connection.addTrack(microphone(says if says is not None else quiet, speak=speak))
    readers: list[asyncio.Task[None]] = []

    async def listen(track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            channels = len(frame.layout.channels)
            peer.heard.append(frame.to_ndarray().reshape(-1)[::channels].astype(np.int16))

    @connection.on("track")
    def _on_track(track: Any) -> None:
        readers.append(asyncio.create_task(listen(track)))

    try:
        await connection.setLocalDescription(await connection.createOffer())
        answered = await client.post(
            data["offer_url"].removeprefix("http://127.0.0.1:8080"),
            json={"sdp": connection.localDescription.sdp, "type": "offer"}, headers=partner.headers,
        )
        assert answered.status_code == 200, answered.text
        answer = answered.json()["data"]
        await connection.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        yield peer
    finally:
        await connection.close()
        for reader in readers:
            reader.cancel()
    await ended(client, partner, peer.session_id)


async def ended(client: httpx.AsyncClient, partner: PartnerHandle, session_id: str) -> dict[str, Any]:
    done: dict[str, Any] = {}

    async def read() -> None:
        nonlocal done
        done = (await client.get(f"/api/v2/sessions/{session_id}", headers=partner.headers)).json()["data"]

    deadline = time.monotonic() + GUARD_SECS
    await read()
    while done["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        await read()
    assert done["status"] == "completed", done
    return done


# --- background audio ---------------------------------------------------------------------------


def tone_amplitude(pcm: np.ndarray) -> float:
    """The 400 Hz component's amplitude in a 20 ms window (the fake voice's tone: about 9800)."""
    phase = 2 * np.pi * 400 * np.arange(len(pcm)) / BROWSER_RATE
    samples = pcm.astype(np.float64)
    return float(2 / len(pcm) * np.hypot(samples @ np.sin(phase), samples @ np.cos(phase)))


def windows(pcm: np.ndarray) -> np.ndarray:
    return pcm[: len(pcm) // WINDOW * WINDOW].reshape(-1, WINDOW)


def voiced(pcm: np.ndarray) -> np.ndarray:
    """The indices of the 20 ms windows where the fake voice speaks."""
    return np.flatnonzero(np.array([tone_amplitude(w) for w in windows(pcm)]) > 3000)


async def heard_in_a_silent_session(client: httpx.AsyncClient, partner: PartnerHandle, **agent: Any) -> np.ndarray:
    """What the browser heard: the agent's intro (0.8 s of the fake voice) and 2.5 s after it."""
    agent_id = await make_agent(client, partner, intro_message="Hello there.", **FAKE, **agent)

    def enough(peer: BrowserPeer) -> bool:
        # Counted in samples received, not in time: the intro, then 2.5 s after its end.
        pcm = peer.audio()
        found = voiced(pcm)
        return len(found) > 0 and len(pcm) >= (found[0] + 40 + 125) * WINDOW

    async with browser_peer(client, partner, agent_id) as peer:
        await until(lambda: enough(peer), "the intro and 2.5 s after it")
    return peer.audio()


async def test_the_browser_hears_the_bed_in_the_agents_silence(client, platform, partner, speech):
    figures = {}
    for name, agent in (
        ("on", {"background_audio_id": SOFT_NOISE.id, "background_audio_volume": 1.0}),
        ("off", {}),
    ):
        pcm = await heard_in_a_silent_session(client, partner, **agent)
        found = voiced(pcm)
        frames = windows(pcm)
        # From 0.5 s after the voice's last window: the agent is quiet, waiting for the caller.
        silence = frames[found[-1] + 25 :]
        before = frames[: max(0, found[0] - 1)]
        figures[name] = (
            float(np.median([rms(w) for w in silence])),
            max((rms(w) for w in before), default=0.0),
            len(silence),
        )
    print(f"\nbrowser: median RMS in silence / max RMS before the greeting (windows): {figures}")
    silence_on, before_on, _ = figures["on"]
    silence_off, _, _ = figures["off"]
    # The bed (RMS about 600 at volume 1.0 at 8 kHz) flows through the silence …
    assert silence_on > 200
    # … and nothing of it was sent ahead of the greeting (Opus's silence is near zero) …
    assert before_on < 50
    # … and without background audio the silence is silent.
    assert silence_off < 20


# --- dictionaries -------------------------------------------------------------------------------


async def test_the_dictionary_reaches_the_stt_and_the_tts(client, platform, partner, speech):
    agent_id = await make_agent(
        client, partner, intro_message="Please hold for Meera Iyer.", voice_id=CARTESIA_VOICE,
        stt={"provider": "deepgram"}, script={"replies": [{"text": "Thank you."}]},
    )
    made = await client.post(
        "/api/v2/dictionaries", json={"name": "Names", "terms": ["Meera Iyer => Meera Eye-er", "Zyntrax"]},
        headers=partner.headers,
    )
    assert made.status_code == 201, made.text
    attached = await client.put(
        f"/api/v2/agent/{agent_id}/dictionaries", json={"dictionary_ids": [made.json()["data"]["id"]]},
        headers=partner.headers,
    )
    assert attached.status_code == 200, attached.text

    def spoken() -> str:
        return "".join(
            m.get("transcript", "") for c in speech.cartesia.connections for m in c.json_messages()
        ).strip()

    async with browser_peer(client, partner, agent_id) as peer:
        await until(lambda: spoken().endswith(".") and len(speech.deepgram.connections) > 0, "the intro at Cartesia")
        await until(peer.audible, "the intro in the browser")
    done = await ended(client, partner, peer.session_id)

    (listen,) = speech.deepgram.connections
    assert parse_qs(listen.raw_query)["keyterm"] == ["Meera Iyer", "Zyntrax"]
    assert spoken() == "Please hold for Meera Eye-er."  # the TTS is given the spoken form …
    # … and the transcript keeps the written one.
    assert (done["transcript"][0]["role"], done["transcript"][0]["content"]) == ("bot", "Please hold for Meera Iyer.")


# --- knowledge base -----------------------------------------------------------------------------


async def test_the_model_gets_the_linked_documents_passage(client, platform, partner, speech, llm_server):
    pdf = await upload(client, partner.headers, "Branches.pdf", make_pdf(PDF_FACT, *FILLER), PDF_MIME)
    docx = await upload(client, partner.headers, "Refunds.docx", make_docx(DOCX_FACT), DOCX_MIME)
    worker = IngestWorker(platform)
    while await worker.run_due():
        pass
    agent_id = await make_agent(
        client, partner, intro_message="Sunrise Bank, hello.", prompt="You answer questions about Sunrise Bank.",
        voice_id=CARTESIA_VOICE, stt={"provider": "deepgram"},
    )
    linked = await client.post(
        f"/api/v2/agent/{agent_id}/documents", json={"document_ids": [pdf, docx]}, headers=partner.headers
    )
    assert linked.status_code == 200, linked.text

    await preload_voice_models()  # the VAD, as `callwright serve` loads it at start-up
    before = len(llm_server.requests)

    def asked() -> bool:
        return any(r.body.get("stream") for r in llm_server.requests[before:])

    async with browser_peer(client, partner, agent_id, says=spoken_sentence(QUESTION, lead_secs=0.2)) as peer:
        await until(peer.audible, "the intro in the browser")
        heard = peer.samples()
        await until(lambda: peer.samples() >= heard + BROWSER_RATE, "1 s after the intro began")
        peer.speak.set()
        await until(asked, "the caller's turn at the model")

    turns = [r for r in llm_server.requests[before:] if r.body.get("stream")]
    messages = turns[0].body["messages"]
    user_at = max(i for i, m in enumerate(messages) if m["role"] == "user")
    knowledge = messages[user_at - 1]
    assert knowledge["role"] == "system" and "Knowledge base" in knowledge["content"], messages
    assert PDF_FACT in knowledge["content"] and "[Branches.pdf]" in knowledge["content"]
    assert DOCX_FACT not in knowledge["content"]
    assert messages[user_at]["content"] == QUESTION
