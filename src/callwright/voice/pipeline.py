"""The per-call Pipecat pipeline: carrier socket in → VAD → [STT → LLM] → TTS → carrier socket out.

STT and the LLM arrive with the conversation; until then the pipeline speaks scripted lines.
Audio inside the pipeline is 8 kHz PCM16 both ways, the carriers' own rate: the serializer only
converts the codec (µ-law for Twilio, Plivo, Vobiz; Exotel is PCM16 already) and the TTS output is
resampled to 8 kHz once, when it is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import WebSocket
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.services.tts_service import TTSService
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport

from callwright.voice.vad import CallVADAnalyzer

CARRIER_SAMPLE_RATE = 8000
PCM16_BYTES_PER_10MS = CARRIER_SAMPLE_RATE // 100 * 2
# µ-law carriers get 20 ms media messages (160 B of µ-law), the size they send us.
DEFAULT_OUT_FRAME_MS = 20


@dataclass(frozen=True, slots=True)
class CallPipeline:
    transport: FastAPIWebsocketTransport
    pipeline: Pipeline


class CallerAudioEnd(FrameProcessor):
    """Where the caller's audio stops until STT is there to hear it.

    Every frame Pipecat pushes costs a hop through a queue and a task per processor (and an eager
    f-string for a trace log); 50 inbound frames a second per call would otherwise ride through
    the TTS and the output transport for nothing.
    """

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, InputAudioRawFrame):
            await self.push_frame(frame, direction)


def out_frame_10ms_chunks(audio_out_packet_bytes: int | None) -> int:
    """How many 10 ms of 8 kHz PCM16 go into one outbound media message.

    Exotel wants each outbound payload to be a multiple of 320 B and at least 3200 B. Pipecat's
    ``fixed_audio_packet_size`` can't do that for Exotel: it only re-packs serializer output that
    is raw bytes, and the Exotel serializer emits JSON text. Sizing the transport's chunks to the
    packet does: every chunk, including the padded last one of an utterance, is one packet.
    """
    if audio_out_packet_bytes is None:
        return DEFAULT_OUT_FRAME_MS // 10
    if audio_out_packet_bytes <= 0 or audio_out_packet_bytes % PCM16_BYTES_PER_10MS:
        raise ValueError(
            f"audio_out_packet_bytes must be a positive multiple of {PCM16_BYTES_PER_10MS} "
            f"(10 ms of 8 kHz PCM16); got {audio_out_packet_bytes}"
        )
    return audio_out_packet_bytes // PCM16_BYTES_PER_10MS


def build_call_pipeline(
    websocket: WebSocket,
    *,
    serializer: FrameSerializer,
    tts: TTSService,
    vad: CallVADAnalyzer,
    audio_out_packet_bytes: int | None = None,
) -> CallPipeline:
    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(
            serializer=serializer,
            audio_in_enabled=True,
            audio_in_sample_rate=CARRIER_SAMPLE_RATE,
            audio_out_enabled=True,
            audio_out_sample_rate=CARRIER_SAMPLE_RATE,
            audio_out_10ms_chunks=out_frame_10ms_chunks(audio_out_packet_bytes),
            # Pipecat pads an ended stream with 2 s of silence by default; a hung-up call has
            # no one to hear it.
            audio_out_end_silence_secs=0,
            # The media socket is authenticated by its per-call token, and carriers send no
            # Origin header; an Origin allow-list (PIPECAT_ALLOWED_ORIGINS) would refuse them.
            allowed_origins=[],
        ),
    )
    pipeline = Pipeline(
        [
            transport.input(),
            VADProcessor(vad_analyzer=vad),
            CallerAudioEnd(),  # STT → user aggregator → LLM replace this
            tts,
            transport.output(),
        ]
    )
    return CallPipeline(transport=transport, pipeline=pipeline)
