"""A browser's WebRTC peer connection as a session's far end, on Pipecat's SmallWebRTC transport
(aiortc): Opus at 48 kHz on the wire, decoded and resampled by the transport to the pipeline's
8 kHz PCM16 — the rate the phone calls' VAD, STT and TTS settings are made for — and the agent's
8 kHz voice handed to aiortc's Opus encoder, which resamples it to 48 kHz. A background bed is
mixed in before that, at the leg's 8 kHz output rate, as on a carrier's leg.

Importing this module imports aiortc; the voice runtime loads it only for browser sessions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import OutputAudioRawFrame
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import (
    SmallWebRTCClient,
    SmallWebRTCOutputTransport,
    SmallWebRTCTransport,
)

from callwright.domain.end_reasons import EndReason
from callwright.voice.background import BackgroundMixer
from callwright.voice.legs import CLOSE_TIMEOUT_SECS
from callwright.voice.pipeline import CARRIER_SAMPLE_RATE, DEFAULT_OUT_FRAME_MS
from callwright.voice.recorder import CallRecorder
from callwright.voice.stream_watch import AgentAudioWatch


class _WatchedOutput(SmallWebRTCOutputTransport):
    """The output transport, reporting each frame of agent audio as aiortc takes it.

    Pipecat's ``write_audio_frame`` returns once the frame's last 10 ms went to aiortc's sender,
    which pulls them at real time: this is when the browser is sent the audio, not when the TTS
    rendered it. With background audio, what is reported is the agent's own part of each frame
    (the mixer keeps it), not the bed under it and through the agent's silences."""

    def __init__(
        self,
        client: SmallWebRTCClient,
        params: TransportParams,
        *,
        audio: AgentAudioWatch,
        mixer: BackgroundMixer | None,
        **kwargs: Any,
    ):
        super().__init__(client, params, **kwargs)
        self._audio = audio
        self._mixer = mixer

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        written = await super().write_audio_frame(frame)
        if written:
            voice = frame.audio if self._mixer is None else self._mixer.last_voice
            if voice is not None:  # None: the bed alone, the agent is quiet
                self._audio.sent(voice)
        return written


class _WatchedTransport(SmallWebRTCTransport):
    def __init__(
        self,
        connection: SmallWebRTCConnection,
        params: TransportParams,
        *,
        audio: AgentAudioWatch,
        mixer: BackgroundMixer | None,
    ):
        super().__init__(connection, params)
        self._audio = audio
        self._mixer = mixer

    def output(self) -> SmallWebRTCOutputTransport:
        if not self._output:
            self._output = _WatchedOutput(
                self._client, self._params, audio=self._audio, mixer=self._mixer, name=self._output_name
            )
        return self._output


class BrowserPeerLeg:
    """The peer connection of one browser session, its offer already answered."""

    output_sample_rate = CARRIER_SAMPLE_RATE

    def __init__(self, connection: SmallWebRTCConnection) -> None:
        self.connection = connection

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
        # A browser has no stop message, no mailbox greeting and is not recorded: the peer
        # connection's close is its end.
        del on_stop, on_caller_audio, recorder
        audio = AgentAudioWatch(on_first_audio=on_first_audio, on_reply_audio=on_reply_audio)
        params = TransportParams(
            audio_in_enabled=True,
            audio_in_sample_rate=CARRIER_SAMPLE_RATE,
            audio_out_enabled=True,
            audio_out_sample_rate=self.output_sample_rate,
            audio_out_10ms_chunks=DEFAULT_OUT_FRAME_MS // 10,
            audio_out_end_silence_secs=0,
            audio_out_mixer=mixer,
        )
        return _WatchedTransport(self.connection, params, audio=audio, mixer=mixer), audio

    def connected(self) -> bool:
        return self.connection.is_connected()

    def disconnect_reason(self) -> EndReason:
        return EndReason.CALLER_HUNG_UP

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.connection.disconnect(), CLOSE_TIMEOUT_SECS)
        except (TimeoutError, OSError, RuntimeError):
            pass  # the peer is gone already
