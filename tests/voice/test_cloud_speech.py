"""The cloud speech engines, frame in and frame out through Pipecat's own services, each against a
local server speaking the provider's protocol: what we send (path, auth header, query, audio
format) and what Pipecat makes of the provider's answer (transcripts, 8 kHz audio frames)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

import numpy as np
import pytest
from pipecat.frames.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from callwright.settings import CLOUD_SPEECH_PROVIDERS, Settings
from callwright.voice.catalog import default_voice, find_voice, installed_languages, installed_voices
from callwright.voice.engines import STT_ENGINES, TTS_ENGINES, VoiceUnavailable, tts_engine
from callwright.voice.engines.cloud import configure_cloud_engines
from callwright.voice.engines.cloud_base import CLOUD_SAMPLE_RATE
from callwright.voice.pipeline import CARRIER_SAMPLE_RATE
from callwright.voice.session import AgentScript
from tests.voice.conftest import INTRO
from tests.voice.media_caller import TWILIO, MediaCaller
from tests.voice.media_server import MediaServer
from tests.voice.speech_servers import (
    CartesiaServer,
    DeepgramServer,
    ElevenLabsServer,
    SarvamSTTServer,
    SarvamTTSServer,
    serving_in_thread,
)

KEY = "cloud-test-key-4242-do-not-log"
# A hang guard, not a latency assertion: a stuck service fails the test instead of the suite.
GUARD_SECS = 10
LINE = "Hello there, how can I help you today?"
# 0.6 s of caller audio at 8 kHz: a ramp, so every byte is distinguishable.
CALLER_AUDIO = bytes(i % 251 for i in range(CARRIER_SAMPLE_RATE * 2 * 6 // 10))


def settings(**values: object) -> Settings:
    """Settings with no cloud keys but the ones given (the environment's are ignored)."""
    none = {
        f"{name}_{what}": None for name in CLOUD_SPEECH_PROVIDERS for what in ("api_key", "url")
    }
    return Settings(**{**none, **values})  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def withdraw_cloud_engines() -> Iterator[None]:
    yield
    configure_cloud_engines(settings())


# --- a pipeline around one service --------------------------------------------------------------


class FrameLog(FrameProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.frames.append(frame)
        await self.push_frame(frame, direction)

    def of(self, kind: type[Frame]) -> list[Frame]:
        return [f for f in self.frames if isinstance(f, kind)]

    async def wait_for(self, kind: type[Frame]) -> Frame:
        async with asyncio.timeout(GUARD_SECS):
            while not self.of(kind):
                await asyncio.sleep(0.01)
        return self.of(kind)[0]


@dataclass
class Running:
    worker: PipelineWorker
    upstream: FrameLog  # what the service pushed upstream (errors)
    downstream: FrameLog  # what it pushed on

    async def send(self, *frames: Frame) -> None:
        for frame in frames:
            await self.worker.queue_frame(frame)


@contextlib.asynccontextmanager
async def running(service: FrameProcessor) -> AsyncIterator[Running]:
    upstream, downstream = FrameLog(), FrameLog()
    worker = PipelineWorker(
        Pipeline([upstream, service, downstream]),
        params=PipelineParams(
            audio_in_sample_rate=CARRIER_SAMPLE_RATE, audio_out_sample_rate=CARRIER_SAMPLE_RATE
        ),
        enable_rtvi=False,
        cancel_on_idle_timeout=False,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker: PipelineWorker, _frame: Frame) -> None:
        started.set()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(GUARD_SECS):
            await started.wait()
        yield Running(worker, upstream, downstream)
        assert upstream.of(ErrorFrame) == []
    finally:
        await worker.queue_frame(EndFrame())
        try:
            await asyncio.wait_for(asyncio.shield(task), GUARD_SECS)
        except TimeoutError:
            await worker.cancel()
            await asyncio.wait_for(task, GUARD_SECS)


def caller_turn() -> list[Frame]:
    frames: list[Frame] = [VADUserStartedSpeakingFrame()]
    step = CARRIER_SAMPLE_RATE * 2 // 50  # 20 ms, as the carriers send it
    for start in range(0, len(CALLER_AUDIO), step):
        piece = CALLER_AUDIO[start : start + step]
        frames.append(InputAudioRawFrame(piece, CARRIER_SAMPLE_RATE, 1))
    frames.append(VADUserStoppedSpeakingFrame())
    return frames


def spoken_audio(frames: list[Frame]) -> bytes:
    audio = [f for f in frames if isinstance(f, TTSAudioRawFrame)]
    assert audio, "no TTSAudioRawFrame came out"
    assert {(f.sample_rate, f.num_channels) for f in audio} == {(CARRIER_SAMPLE_RATE, 1)}
    return b"".join(f.audio for f in audio)


# --- STT ----------------------------------------------------------------------------------------


async def test_deepgram_transcribes_the_caller_through_its_live_websocket() -> None:
    with serving_in_thread(DeepgramServer()) as server:
        configure_cloud_engines(settings(deepgram_api_key=KEY, deepgram_url=server.base_url))
        stt = await STT_ENGINES["deepgram"].create_stt()
        async with running(stt) as call:
            await call.send(*caller_turn())
            final = await call.downstream.wait_for(TranscriptionFrame)

    assert isinstance(final, TranscriptionFrame)
    assert final.text == server.transcript
    interims = call.downstream.of(InterimTranscriptionFrame)
    assert [f.text for f in interims] == [server.interim]  # type: ignore[attr-defined]

    (connection,) = server.connections
    assert connection.path == "/v1/listen"
    assert connection.headers["authorization"] == f"Token {KEY}"
    assert {k: connection.query[k] for k in ("encoding", "sample_rate", "channels", "model")} == {
        "encoding": "linear16",
        "sample_rate": "8000",
        "channels": "1",
        "model": "nova-3-general",
    }
    assert connection.query["language"] == "en"
    assert connection.audio() == CALLER_AUDIO  # binary messages, PCM16 as the carrier sent it
    assert {"type": "Finalize"} in connection.json_messages()  # sent when VAD said "stopped"


async def test_deepgram_asks_for_the_agents_language() -> None:
    with serving_in_thread(DeepgramServer()) as server:
        configure_cloud_engines(settings(deepgram_api_key=KEY, deepgram_url=server.base_url))
        stt = await STT_ENGINES["deepgram"].create_stt(language="es")  # type: ignore[call-arg]
        async with running(stt):
            pass
    assert server.connections[0].query["language"] == "es"


async def test_sarvam_transcribes_an_indian_language_with_vad_turns() -> None:
    with serving_in_thread(SarvamSTTServer()) as server:
        configure_cloud_engines(settings(sarvam_api_key=KEY, sarvam_url=server.base_url))
        stt = await STT_ENGINES["sarvam"].create_stt(language="hi")  # type: ignore[call-arg]
        async with running(stt) as call:
            await call.send(*caller_turn())
            final = await call.downstream.wait_for(TranscriptionFrame)

    assert isinstance(final, TranscriptionFrame)
    assert final.text == server.transcript
    assert final.language == "hi-IN"

    (connection,) = server.connections
    assert connection.path == "/speech-to-text-realtime/ws"
    assert connection.headers["api-subscription-key"] == KEY
    assert {k: connection.query[k] for k in ("encoding", "sample_rate", "endpointing")} == {
        "encoding": "linear16",
        "sample_rate": "8000",
        "endpointing": "manual",
    }
    assert connection.query["language_code"] == "hi-IN"
    events = connection.json_messages()
    kinds = [e["event"] for e in events if e["event"] != "ping"]
    assert kinds[0] == "speech_start" and kinds[-2:] == ["speech_end", "end"]
    sent = b"".join(base64.b64decode(e["audio"]) for e in events if e["event"] == "audio_input")
    assert sent == CALLER_AUDIO


async def test_sarvam_stt_detects_the_language_when_the_agent_sets_none() -> None:
    with serving_in_thread(SarvamSTTServer()) as server:
        configure_cloud_engines(settings(sarvam_api_key=KEY, sarvam_url=server.base_url))
        async with running(await STT_ENGINES["sarvam"].create_stt()):
            pass
    assert server.connections[0].query["language_code"] == "auto"


# --- TTS ----------------------------------------------------------------------------------------


async def speak(voice_id: str, line: str = LINE) -> list[Frame]:
    tts = await tts_engine(voice_id).create_tts(voice_id, cached_texts=[line])
    async with running(tts) as call:
        await call.send(TTSSpeakFrame(line))
        await call.downstream.wait_for(TTSStoppedFrame)
    return call.downstream.frames


async def test_piper_says_it_is_rendering_until_the_lines_last_clause_is_out() -> None:
    # The session's playout wait reads ``work.busy``: on a loaded machine a gap while the next
    # clause renders is not the line's end (a voicemail message was cut after its first clause).
    voice = default_voice()
    assert voice is not None and voice.engine == "piper"
    tts = await tts_engine(voice.voice_id).create_tts(voice.voice_id)
    async with running(tts):
        assert not tts.work.busy
        busy = [tts.work.busy async for _ in tts.run_tts("Hi Asha, this is Callwright. Please call us back.", "c1")]
        assert len(busy) >= 3 and all(busy), busy  # one piece a clause at least
        assert not tts.work.busy
        abandoned = tts.run_tts("Hello there, this line is cut off.", "c2")
        await anext(abandoned)
        assert tts.work.busy
        await abandoned.aclose()  # an interruption closes the line's generator
        assert not tts.work.busy


async def test_cartesia_speaks_a_line_at_8_khz() -> None:
    voice = "71a7ad14-091c-4e8e-a314-022ece01c121"
    with serving_in_thread(CartesiaServer()) as server:
        configure_cloud_engines(settings(cartesia_api_key=KEY, cartesia_url=server.base_url))
        frames = await speak(f"cartesia-{voice}")

    assert spoken_audio(frames) == server.audio
    (connection,) = server.connections
    assert connection.path == "/tts/websocket"
    assert connection.headers["x-api-key"] == KEY
    assert connection.headers["cartesia-version"]
    first = connection.json_messages()[0]
    assert first["output_format"] == {
        "container": "raw", "encoding": "pcm_s16le", "sample_rate": 8000
    }
    assert first["voice"] == {"mode": "id", "id": voice}
    assert first["language"] == "en"
    spoken = "".join(m.get("transcript", "") for m in connection.json_messages())
    assert spoken.strip() == LINE


async def test_elevenlabs_speaks_a_line_at_8_khz() -> None:
    voice = "21m00Tcm4TlvDq8ikWAM"
    with serving_in_thread(ElevenLabsServer()) as server:
        configure_cloud_engines(settings(elevenlabs_api_key=KEY, elevenlabs_url=server.base_url))
        frames = await speak(f"elevenlabs-{voice}")

    assert spoken_audio(frames) == server.audio
    (connection,) = server.connections
    assert connection.path == f"/v1/text-to-speech/{voice}/multi-stream-input"
    assert connection.headers["xi-api-key"] == KEY
    assert connection.query["output_format"] == "pcm_8000"
    assert connection.query["model_id"] == "eleven_flash_v2_5"
    spoken = "".join(m.get("text", "") for m in connection.json_messages())
    assert spoken.strip() == LINE


async def test_sarvam_speaks_a_hindi_line_at_8_khz() -> None:
    line = "नमस्ते, मैं आपकी कैसे मदद कर सकती हूँ?"
    with serving_in_thread(SarvamTTSServer()) as server:
        configure_cloud_engines(settings(sarvam_api_key=KEY, sarvam_url=server.base_url))
        frames = await speak("sarvam-priya-hi", line)

    assert spoken_audio(frames) == server.audio
    (connection,) = server.connections
    assert connection.path == "/text-to-speech/ws"
    assert connection.headers["api-subscription-key"] == KEY
    assert connection.query["model"] == "bulbul:v3"
    messages = connection.json_messages()
    config = messages[0]
    assert config["type"] == "config"
    assert {k: config["data"][k] for k in ("speaker", "target_language_code")} == {
        "speaker": "priya",
        "target_language_code": "hi-IN",
    }
    assert config["data"]["speech_sample_rate"] == "8000"
    assert config["data"]["output_audio_codec"] == "linear16"
    spoken = "".join(m["data"]["text"] for m in messages if m["type"] == "text")
    assert spoken.strip() == line


# --- which engines an install offers ------------------------------------------------------------


def test_an_engine_without_its_key_is_not_offered() -> None:
    configure_cloud_engines(settings())
    assert set(STT_ENGINES) >= {"whisper"} and not {"deepgram", "sarvam"} & set(STT_ENGINES)
    assert not {"elevenlabs", "cartesia", "sarvam"} & set(TTS_ENGINES)
    assert {v.engine for v in installed_voices()} == {"piper"}
    with pytest.raises(VoiceUnavailable):
        tts_engine("sarvam-priya-hi")


def test_a_key_lists_the_providers_voices_after_the_packaged_ones() -> None:
    enabled = configure_cloud_engines(settings(sarvam_api_key=KEY, elevenlabs_api_key="  "))
    assert enabled == ["sarvam"]  # a blank key is no key
    voices = installed_voices()
    assert voices[0].engine == "piper"  # still the default voice
    assert {v.engine for v in voices} == {"piper", "sarvam"}
    hindi = find_voice("sarvam-priya-hi")
    assert hindi is not None
    assert (hindi.language, hindi.locale, hindi.gender, hindi.sample_rate) == (
        "hi", "hi-IN", "female", CLOUD_SAMPLE_RATE
    )
    assert {"hi", "ta", "bn", "or"} <= set(installed_languages())
    assert set(STT_ENGINES) >= {"whisper", "sarvam"}

    configure_cloud_engines(settings())
    assert find_voice("sarvam-priya-hi") is None


def test_cloud_audio_is_asked_for_at_the_carrier_rate() -> None:
    assert CLOUD_SAMPLE_RATE == CARRIER_SAMPLE_RATE == 8000


def test_keys_stay_out_of_reprs() -> None:
    configured = settings(deepgram_api_key=KEY, cartesia_api_key=KEY)
    configure_cloud_engines(configured)
    shown: list[Callable[[], object]] = [
        lambda: configured,
        lambda: STT_ENGINES["deepgram"].account,  # type: ignore[attr-defined]
        lambda: TTS_ENGINES["cartesia"].account,  # type: ignore[attr-defined]
    ]
    for thing in shown:
        assert KEY not in repr(thing())


# --- a whole call -------------------------------------------------------------------------------


@pytest.mark.e2e
async def test_a_call_greets_with_cartesia_and_streams_the_caller_to_deepgram(
    media_server: MediaServer,
) -> None:
    voice = "cartesia-d46abd1d-2d02-43e8-819f-51fb652c1c61"
    with (
        serving_in_thread(CartesiaServer()) as cartesia,
        serving_in_thread(DeepgramServer()) as deepgram,
    ):
        configure_cloud_engines(settings(
            cartesia_api_key=KEY, cartesia_url=cartesia.base_url,
            deepgram_api_key=KEY, deepgram_url=deepgram.base_url,
        ))
        call_id = uuid.uuid4().hex[:12]
        media_server.expect(call_id, AgentScript(INTRO, voice, stt_provider="deepgram"))
        async with MediaCaller(TWILIO, f"{media_server.base_url}/twilio", call_id) as caller:
            await caller.wait_for_agent_audio(spoken=media_server.intro_spoken(call_id))
            await caller.hang_up()
        outcome = await media_server.outcome(call_id)

    assert outcome.end_reason == "caller_hung_up"
    assert outcome.intro_spoken
    # The caller hears Cartesia's 8 kHz audio as it was sent (within µ-law's quantisation), then
    # the padding of the last 20 ms packet.
    sent = np.frombuffer(cartesia.audio, dtype="<i2").astype(np.int64)
    heard = caller.agent_pcm().astype(np.int64)
    assert heard.size == -(-sent.size // 160) * 160
    assert np.all(np.abs(heard[: sent.size] - sent) <= np.abs(sent) // 16 + 16)
    assert not heard[sent.size :].any()
    spoken = "".join(m.get("transcript", "") for m in cartesia.connections[0].json_messages())
    assert spoken.strip() == INTRO
    (listen,) = deepgram.connections
    assert listen.query["sample_rate"] == "8000"
    assert len(listen.audio()) > 0 and len(listen.audio()) % 2 == 0  # the caller's PCM16


async def test_the_agents_dictionaries_reach_deepgram_as_keyterms() -> None:
    with serving_in_thread(DeepgramServer()) as server:
        configure_cloud_engines(settings(deepgram_api_key=KEY, deepgram_url=server.base_url))
        stt = await STT_ENGINES["deepgram"].create_stt(vocabulary=["Meera Iyer", "Zyntrax"])
        async with running(stt):
            pass
    from urllib.parse import parse_qs

    assert parse_qs(server.connections[0].raw_query)["keyterm"] == ["Meera Iyer", "Zyntrax"]


async def test_the_agents_dictionaries_reach_sarvam_as_its_prompt() -> None:
    with serving_in_thread(SarvamSTTServer()) as server:
        configure_cloud_engines(settings(sarvam_api_key=KEY, sarvam_url=server.base_url))
        stt = await STT_ENGINES["sarvam"].create_stt(vocabulary=["Meera Iyer", "Zyntrax"])
        async with running(stt):
            pass
    (connection,) = server.connections
    sent = connection.raw_query + repr(connection.json_messages())
    assert "Glossary: Meera Iyer, Zyntrax." in unquote_plus(sent), sent
