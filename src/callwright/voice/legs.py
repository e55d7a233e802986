"""The far end of an agent session, behind one small interface: a carrier's media WebSocket
(``CarrierSocketLeg``) or a browser's WebRTC peer connection (``voice.browser_leg``).

A leg builds the Pipecat transport the session's pipeline reads from and speaks into, reports the
agent's audio as it leaves (``AgentAudioWatch``), says why its far end went away, and closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from fastapi import WebSocket
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.base_transport import BaseTransport
from starlette.websockets import WebSocketState

from callwright.domain.end_reasons import EndReason
from callwright.voice.background import BackgroundMixer
from callwright.voice.pipeline import CARRIER_SAMPLE_RATE, carrier_transport, out_frame_10ms_chunks
from callwright.voice.recorder import CallRecorder
from callwright.voice.socket_watch import disconnect_reason
from callwright.voice.stream_watch import AgentAudioWatch, WatchedSerializer

# How long closing our side may take before the far end counts as gone anyway.
CLOSE_TIMEOUT_SECS = 2.0


class MediaLeg(Protocol):
    # The rate of the PCM16 the session's pipeline speaks into the leg (and a background bed
    # must be at): Hz.
    output_sample_rate: int

    def open(
        self,
        *,
        on_stop: Callable[[], None],
        on_first_audio: Callable[[], None],
        on_reply_audio: Callable[[float], None],
        on_caller_audio: Callable[[bytes], bool] | None,
        recorder: CallRecorder | None,
        mixer: BackgroundMixer | None = None,
    ) -> tuple[BaseTransport, AgentAudioWatch]:
        """The transport for the session's pipeline, and the watch its outgoing audio feeds;
        ``mixer`` lays background audio under the agent's voice."""
        ...

    def disconnect_reason(self) -> EndReason:
        """Why the far end went away, once the transport reported it gone."""
        ...

    def connected(self) -> bool:
        """Whether the far end is still there to hear what is sent (a failed send counts as
        gone, though the transport may not have reported it yet)."""
        ...

    async def close(self) -> None:
        """Close our side if the pipeline did not (idempotent)."""
        ...


class CarrierSocketLeg:
    """A carrier's media WebSocket, spoken through the carrier's frame serializer."""

    output_sample_rate = CARRIER_SAMPLE_RATE

    def __init__(
        self,
        websocket: WebSocket,
        *,
        serializer: FrameSerializer,
        audio_out_packet_bytes: int | None = None,  # Exotel: 3200 (multiples of 320 B, ≥ 3200 B)
    ) -> None:
        out_frame_10ms_chunks(audio_out_packet_bytes)  # refuse a bad packet size here, not mid-call
        self.websocket = websocket
        self._serializer = serializer
        self._audio_out_packet_bytes = audio_out_packet_bytes

    def open(
        self,
        *,
        on_stop: Callable[[], None],
        on_first_audio: Callable[[], None],
        on_reply_audio: Callable[[float], None],
        on_caller_audio: Callable[[bytes], bool] | None,
        recorder: CallRecorder | None,
        mixer: BackgroundMixer | None = None,
    ) -> tuple[BaseTransport, AgentAudioWatch]:
        serializer = WatchedSerializer(
            self._serializer,
            on_stop=on_stop,
            on_first_audio=on_first_audio,
            on_reply_audio=on_reply_audio,
            on_caller_audio=on_caller_audio,
            recorder=recorder,
            mixer=mixer,
        )
        transport = carrier_transport(
            self.websocket,
            serializer=serializer,
            audio_out_packet_bytes=self._audio_out_packet_bytes,
            mixer=mixer,
        )
        return transport, serializer.agent_audio

    def connected(self) -> bool:
        websocket = self.websocket
        return (
            websocket.client_state is WebSocketState.CONNECTED
            and websocket.application_state is WebSocketState.CONNECTED
        )

    def disconnect_reason(self) -> EndReason:
        # A close frame is the caller's hang-up; a cut or silent connection is a lost stream.
        return disconnect_reason(self.websocket)

    async def close(self) -> None:
        """Carriers end the call when the stream closes."""
        if self.connected():
            try:
                await asyncio.wait_for(self.websocket.close(), CLOSE_TIMEOUT_SECS)
            except (RuntimeError, TimeoutError, OSError):
                pass  # already closing, or the peer is gone: either way the stream is over
