"""A carrier serializer wrapped to report what Pipecat's serializers keep to themselves.

Twilio and Exotel end a stream with a ``stop`` message, which their Pipecat serializers parse and
drop (``deserialize`` returns None); Plivo and Vobiz send no stop event, the socket close is the
end. This wrapper reports the stop, the moment the first non-silent agent audio is serialised
for the carrier (the transport sends it right after), and, once ``expect_reply()`` re-arms it, the
first audible frame of each later reply. It adds little to the per-frame path: the stop check runs
only on messages the carrier serializer did not turn into a frame, and the silence check only while
armed (until the first audible frame after the start of the call or ``expect_reply()``).

With a ``recorder`` (the agent records calls), it also hands the recorder each caller frame read,
each agent frame sent and each clear; without one, recording costs one ``is None`` check a frame.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from pipecat.audio.utils import is_silence
from pipecat.frames.frames import (
    AudioRawFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer

from callwright.metrics import FRAME_GAP_MAX_SECS, FRAME_GAP_SECONDS
from callwright.voice.background import BackgroundMixer
from callwright.voice.recorder import CallRecorder

log = logging.getLogger("callwright.voice")


class AgentAudioWatch:
    """What the agent's outgoing audio tells the session, fed each frame as it leaves for the far
    end (a carrier's socket, or a browser's peer connection): the first audible frame of the
    call, the first audible frame of each reply once ``expect_reply()`` re-armed it, and when
    audio last left (a line has played out once it stopped for a moment)."""

    def __init__(
        self,
        *,
        on_first_audio: Callable[[], None],
        on_reply_audio: Callable[[float], None] | None = None,
    ) -> None:
        self._on_first_audio = on_first_audio
        self._on_reply_audio = on_reply_audio
        self._audio_sent = False
        self._awaiting_audio = True  # armed: report the next audible frame
        self.last_audio_at: float | None = None  # time.monotonic() of the latest audio sent

    def sent(self, audio: bytes) -> None:
        """One frame of the agent's PCM16 has left for the far end."""
        now = time.monotonic()
        if self.last_audio_at is not None and now - self.last_audio_at < FRAME_GAP_MAX_SECS:
            FRAME_GAP_SECONDS.observe(now - self.last_audio_at)
        self.last_audio_at = now
        if self._awaiting_audio and not is_silence(audio):
            self._awaiting_audio = False
            if not self._audio_sent:
                self._audio_sent = True
                self._on_first_audio()
            if self._on_reply_audio is not None:
                self._on_reply_audio(now)

    def expect_reply(self) -> None:
        """Report the next audible frame to ``on_reply_audio``: the start of the next reply."""
        self._awaiting_audio = True


class WatchedSerializer(FrameSerializer):
    def __init__(
        self,
        carrier: FrameSerializer,
        *,
        on_stop: Callable[[], None],
        on_first_audio: Callable[[], None],
        on_reply_audio: Callable[[float], None] | None = None,
        on_caller_audio: Callable[[bytes], bool] | None = None,
        recorder: CallRecorder | None = None,
        mixer: BackgroundMixer | None = None,
    ) -> None:
        super().__init__(name=f"Watched{carrier.name}")
        # With background audio, what is timed is the agent's own part of each frame (the mixer
        # keeps it), not the bed that flows under it and through the agent's silences.
        self._mixer = mixer
        self.carrier = carrier
        self._on_stop = on_stop
        self._recorder = recorder
        # Sees the caller's PCM16 until it returns False (then the per-frame path drops it).
        self._on_caller_audio = on_caller_audio
        self.agent_audio = AgentAudioWatch(on_first_audio=on_first_audio, on_reply_audio=on_reply_audio)

    @property
    def last_audio_at(self) -> float | None:
        """time.monotonic() of the latest agent audio sent."""
        return self.agent_audio.last_audio_at

    # Pipecat's FrameProcessor narrows BaseObject.setup the same way.
    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        await self.carrier.setup(setup)

    async def serialize(self, frame: Frame) -> str | bytes | None:
        payload = await self.carrier.serialize(frame)
        if self._recorder is not None:
            self._record_sent(self._recorder, frame, payload)
        if payload and isinstance(frame, AudioRawFrame):
            # With background audio, what is timed is the agent's own part of each frame (the
            # mixer keeps it), not the bed under it and through the agent's silences.
            voice = frame.audio if self._mixer is None else self._mixer.last_voice
            if voice is not None:  # None: the bed alone, the agent is quiet
                self.agent_audio.sent(voice)
        return payload

    def expect_reply(self) -> None:
        """Report the next audible frame to ``on_reply_audio``: the start of the next reply."""
        self.agent_audio.expect_reply()

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            frame = await self.carrier.deserialize(data)
        except Exception as exc:
            # Pipecat's transport ends its receive loop on any exception here, which would end
            # the call over one malformed message (e.g. JSON that is not an object).
            log.warning("Dropped a media message the carrier serializer could not read: %r", exc)
            return None
        if frame is None and _is_stop_message(data):
            self._on_stop()
        elif self._on_caller_audio is not None and isinstance(frame, AudioRawFrame):
            if not self._on_caller_audio(frame.audio):
                self._on_caller_audio = None
        if self._recorder is not None and isinstance(frame, InputAudioRawFrame):
            self._record_heard(self._recorder, frame)
        return frame

    def _record_sent(self, recorder: CallRecorder, frame: Frame, payload: str | bytes | None) -> None:
        if isinstance(frame, InterruptionFrame):
            if payload:  # the carrier was told to drop what it had queued
                recorder.agent_cleared()
        elif payload and isinstance(frame, OutputAudioRawFrame):
            if frame.sample_rate == recorder.sample_rate and frame.num_channels == 1:
                recorder.agent_audio(frame.audio)

    def _record_heard(self, recorder: CallRecorder, frame: InputAudioRawFrame) -> None:
        if frame.sample_rate == recorder.sample_rate and frame.num_channels == 1:
            recorder.caller_audio(frame.audio)


def _is_stop_message(data: str | bytes) -> bool:
    if not isinstance(data, str) or '"stop"' not in data:
        return False
    try:
        message = json.loads(data)
    except json.JSONDecodeError:
        return False
    return isinstance(message, dict) and message.get("event") == "stop"
