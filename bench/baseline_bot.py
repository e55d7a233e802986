"""The baseline: a plain Pipecat phone bot, as Pipecat's own Twilio examples build one.

One process, one pipeline per call: FastAPIWebsocketTransport with the Twilio serializer, a
Silero VAD analyzer per call, and the same fake STT/LLM/TTS engines Callwright's benchmark uses,
with the same end-of-turn rule (VAD stop 0.2 s, then 0.4 s of speech timeout). It greets with the
same line and answers every turn with the same reply. The benchmark has the carrier simulator dial
it through Twilio's API with ``<Connect><Stream url=".../ws">``.

    python bench/baseline_bot.py --port 8765 [--stt-ms 150 --llm-ms 300 --tts-ms 100]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, WebSocket
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import INTRO

from callwright.voice.engines.fake import FakeLLM, FakeSTT, FakeTTS

app = FastAPI()
LATENCIES = {"stt": 0.0, "llm": 0.0, "tts": 0.0}


@app.websocket("/ws")
async def media(websocket: WebSocket) -> None:
    await websocket.accept()
    start: dict = {}
    while not start:  # Twilio sends "connected", then "start"
        message = json.loads(await websocket.receive_text())
        if message.get("event") == "start":
            start = message["start"]
    serializer = TwilioFrameSerializer(
        stream_sid=start["streamSid"],
        call_sid=start["callSid"],
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
    )
    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            # 20 ms media messages, as Twilio sends and Callwright sends (Pipecat's default: 40 ms).
            audio_out_10ms_chunks=2,
            serializer=serializer,
        ),
    )
    context = LLMContext([{"role": "assistant", "content": INTRO}])
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=0.2)),
            user_turn_strategies=UserTurnStrategies(
                stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.4)]
            ),
        ),
    )
    pipeline = Pipeline(
        [
            transport.input(),
            FakeSTT(latency_ms=LATENCIES["stt"]),
            aggregators.user(),
            FakeLLM(latency_ms=LATENCIES["llm"]),
            FakeTTS(latency_ms=LATENCIES["tts"]),
            transport.output(),
            aggregators.assistant(),
        ]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000),
    )

    @transport.event_handler("on_client_connected")
    async def greet(_transport: object, _websocket: object) -> None:
        await worker.queue_frame(TTSSpeakFrame(INTRO))

    @transport.event_handler("on_client_disconnected")
    async def bye(_transport: object, _websocket: object) -> None:
        await worker.cancel()

    await WorkerRunner(handle_sigint=False).run(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    for engine in LATENCIES:
        parser.add_argument(f"--{engine}-ms", type=float, default=0.0)
    args = parser.parse_args()
    LATENCIES.update(stt=args.stt_ms, llm=args.llm_ms, tts=args.tts_ms)
    # Pipecat logs at DEBUG by default, a line or more per turn and frame type; Callwright keeps
    # warnings only, and so does the baseline, so logging does not decide the comparison.
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
