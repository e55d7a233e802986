"""The per-call Pipecat pipeline: carrier socket (or browser peer) in → VAD → STT → user context → LLM → TTS →
carrier socket out → assistant context.

A user turn starts on Silero VAD's start event, which also interrupts the agent: the TTS and the
output transport drop what is queued and the carrier serializer sends its ``clear`` message. The
turn ends once VAD has stopped, ``USER_SPEECH_TIMEOUT_SECS`` more passed (both timed from where the
caller's voice ended: ``VoiceTimedTurnStop``) and Whisper has transcribed it.
Audio inside the pipeline is 8 kHz PCM16 both ways, the carriers' own rate: the serializer only
converts the codec (µ-law for Twilio, Plivo, Vobiz; Exotel is PCM16 already) and the TTS output is
resampled to 8 kHz once, when it is rendered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket
from pipecat.audio.mixers.base_audio_mixer import BaseAudioMixer
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.dtmf_aggregator import DTMFAggregator
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMAssistantAggregator,
    LLMContextAggregatorPair,
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_transport import BaseTransport
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start import VADUserTurnStartStrategy
from pipecat.turns.user_start.transcription_user_turn_start_strategy import (
    TranscriptionUserTurnStartStrategy,
)
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from callwright.voice.engines.stt_work import TranscriptWork
from callwright.voice.vad import CallVADAnalyzer

CARRIER_SAMPLE_RATE = 8000
PCM16_BYTES_PER_10MS = CARRIER_SAMPLE_RATE // 100 * 2
# µ-law carriers get 20 ms media messages (160 B of µ-law), the size they send us.
DEFAULT_OUT_FRAME_MS = 20
# After VAD's stop_secs (0.2 s) of quiet past the caller's voice, how much longer they may pause
# and go on before the turn is theirs no more. Whisper's transcript is awaited on top of this.
USER_SPEECH_TIMEOUT_SECS = 0.4
# The pause is counted in the caller's audio as well as in wall time: when the wall-time timer runs
# out before the audio of the pause has been scored (a loaded loop, network jitter), or while
# the caller's next words are still short of VAD's start_secs, the turn waits for the audio, up
# to this much longer (a carrier that stops sending audio must not hold the turn open). Within
# this many seconds of the pause the audio counts as caught up (20 ms frames arrive in whole
# frames; waiting for the last one would add up to a frame to every reply), while the last
# window scored is silence beyond doubt (``CallVADAnalyzer.pause_heard``). The wait is counted
# in polls, each at most twice its interval: a process stalled past the wait (a loaded machine)
# held the caller's audio back too, and its stall must not count as the carrier's silence.
PAUSE_AUDIO_WAIT_SECS = 1.5
PAUSE_AUDIO_SLACK_SECS = 0.08
PAUSE_AUDIO_POLL_SECS = 0.02
# Key presses (each carrier's ``dtmf`` media event, parsed by Pipecat's serializers) become one
# user turn, "DTMF: 12#", once "#" is pressed or no key came for this long.
DTMF_PREFIX = "DTMF: "
DTMF_IDLE_SECS = 1.5
# A user turn with no event for this long, and no transcription in progress, ends with what it has
# (often nothing: a cough, line noise): Pipecat's own rule, but counted while the STT is idle
# (``VoiceTimedTurnStop``). Pipecat's own timer, which knows nothing of the STT, is kept only as
# a guard against an STT that never answers.
EMPTY_TURN_SECS = 5.0
STT_HANG_SECS = 30.0
# How often the empty-turn rule looks again while a transcription runs past it.
STT_WORK_POLL_SECS = 0.1
# What counts as an event for it: what Pipecat's timer counts, less the frames the aggregator
# itself sends (it sees them only on their way out).
TURN_EVENTS = (
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
    TranscriptionFrame,
    InterimTranscriptionFrame,
)


@dataclass(frozen=True, slots=True)
class CallPipeline:
    transport: BaseTransport
    pipeline: Pipeline
    user: LLMUserAggregator
    assistant: LLMAssistantAggregator
    # Where the session's own lines (the intro, prompts, a closing line) enter: past the VAD and
    # the STT, whose queues the caller's audio outranks them in (see ``CallerAudioEnd``).
    entry: FrameProcessor


class CallVADProcessor(VADProcessor):
    """Pipecat's VAD processor, also telling the session when the caller starts and stops."""

    def __init__(
        self,
        *,
        on_speech_started: Callable[[float], None] | None = None,
        on_speech_stopped: Callable[[float], None] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._on_speech_started = on_speech_started
        self._on_speech_stopped = on_speech_stopped

    async def broadcast_frame(self, frame_cls: type[Frame], **kwargs: Any) -> None:
        if frame_cls is VADUserStoppedSpeakingFrame and self._on_speech_stopped is not None:
            self._on_speech_stopped(time.monotonic())
        elif frame_cls is VADUserStartedSpeakingFrame and self._on_speech_started is not None:
            self._on_speech_started(time.monotonic())
        await super().broadcast_frame(frame_cls, **kwargs)


class VoiceTimedTurnStop(SpeechTimeoutUserTurnStopStrategy):
    """Pipecat's speech-timeout stop, with the caller's pause timed from where their voice ended.

    Pipecat starts ``user_speech_timeout`` at VAD's stop event, which itself comes 0–110 ms later
    than ``stop_secs`` after the voice (``VoiceSpan`` says why). So the reply waited that much
    longer than configured, turn by turn at random. Here the timer runs out
    ``stop_secs + user_speech_timeout`` after the end of the voice as ``CallVADAnalyzer`` placed
    it: never later than Pipecat's timer would, and earlier by as much as the stop event was late.

    The pause is also the caller's audio's to confirm (``_until_the_audio_agrees``): the timer
    running out in wall time ends the turn only once the audio of the pause has been scored, and
    not while the caller's next words have begun but are still short of ``start_secs``. Before,
    a pause of 0.4 s (under the promised 0.6 s) split the caller's sentence in two turns, since
    VAD confirms the next words only ``start_secs`` after they begin; and on a loaded machine, or
    with network jitter holding the caller's audio back, a comma's pause did.

    A turn that never gets its transcript ends ``EMPTY_TURN_SECS`` after its last event, counted
    while the STT has no transcription in progress (``stt_settled_at``, from the STT's
    ``TranscriptWork``; an STT without one counts as idle, and the rule is Pipecat's). Pipecat's
    timer counted through a slow transcription: the turn ended empty, the agent was asked to
    repeat itself or said nothing, and the caller's words came as a turn of their own that
    interrupted what the agent was saying by then (the browser test's sentence, split, at load
    averages of 15-18).
    """

    def __init__(
        self,
        *,
        vad: CallVADAnalyzer,
        user_speech_timeout: float,
        stt_settled_at: Callable[[], float | None] | None = None,
    ) -> None:
        super().__init__(user_speech_timeout=user_speech_timeout)
        self._vad = vad
        self._vad_stopped_at: float | None = None
        self._stt_settled_at = stt_settled_at or (lambda: 0.0)
        self._last_event = 0.0
        self._empty_turn_task: asyncio.Task[None] | None = None

    async def handle_user_turn_started(self) -> None:
        await super().handle_user_turn_started()
        self._last_event = time.monotonic()
        await self._stop_watching()
        self._empty_turn_task = self.task_manager.create_task(
            self._watch_for_an_empty_turn(), f"{self}::empty_turn"
        )

    async def handle_user_turn_stopped(self) -> None:
        await self._stop_watching()
        await super().handle_user_turn_stopped()

    async def cleanup(self) -> None:
        await self._stop_watching()
        await super().cleanup()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, TURN_EVENTS):
            self._last_event = time.monotonic()
        return await super().process_frame(frame)

    async def _stop_watching(self) -> None:
        # The watcher clears its own slot before it ends the turn: what is here is another task.
        task, self._empty_turn_task = self._empty_turn_task, None
        if task is not None:
            await self.task_manager.cancel_task(task)

    async def _watch_for_an_empty_turn(self) -> None:
        while True:
            settled = self._stt_settled_at()
            quiet_since = self._last_event if settled is None else max(self._last_event, settled)
            left = quiet_since + EMPTY_TURN_SECS - time.monotonic()
            if left > 0:
                await asyncio.sleep(left)
            elif self._vad_user_speaking:  # their voice's stop, an event, is yet to come
                await asyncio.sleep(EMPTY_TURN_SECS)
            elif settled is None:  # the turn's words may be in the transcription under way
                await asyncio.sleep(STT_WORK_POLL_SECS)
            else:
                break
        self._empty_turn_task = None
        await self.trigger_user_turn_finalized(enable_user_speaking_frames=True)

    async def _handle_vad_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame) -> None:
        self._vad_stopped_at = time.monotonic()
        await super()._handle_vad_user_stopped_speaking(frame)

    async def _user_speech_timeout_handler(self, timeout: float) -> None:
        # Runs as the timer's task, started by every (re)start of the timer, and cancelled when
        # VAD hears the caller again. After a VAD stop the timer counts from the voice's end;
        # without one (a transcript with no VAD stop) Pipecat's own rule stands.
        if self._vad_stopped and self._vad_stopped_at is not None:
            ended = self._vad.speech_ended_by(self._vad_stopped_at)
            deadline = ended + self._stop_secs + timeout
            try:
                await asyncio.sleep(min(timeout, max(0.0, deadline - time.monotonic())))
                await self._until_the_audio_agrees(self._stop_secs + timeout)
            except asyncio.CancelledError:
                self._user_speech_timeout_task = None
                return
            timeout = 0.0
        await super()._user_speech_timeout_handler(timeout)

    async def _until_the_audio_agrees(self, pause_secs: float) -> None:
        """Wait, up to ``PAUSE_AUDIO_WAIT_SECS``, until the audio scored since the voice ended
        covers ``pause_secs`` and no new words are being confirmed. A 20 ms poll, run only at
        the end of a pause and only while the audio lags or the caller has started again.

        A poll that comes back late counts as at most two intervals: when the whole process
        stalls (a loaded machine), the caller's audio waits in the socket for as long as this
        does. Counted in wall time, a stall past the wait ended the turn before the audio of the
        pause, or of the words that ended it, had been read: the sentence was split."""
        waited = 0.0
        while waited < PAUSE_AUDIO_WAIT_SECS:
            if self._vad.pause_heard(pause_secs, slack_secs=PAUSE_AUDIO_SLACK_SECS):
                return
            polled = time.monotonic()
            await asyncio.sleep(PAUSE_AUDIO_POLL_SECS)
            waited += min(time.monotonic() - polled, 2 * PAUSE_AUDIO_POLL_SECS)


class TranscriptTurnStart(TranscriptionUserTurnStartStrategy):
    """A final transcript that finds no user turn open starts one; VAD starts all the others.

    Two kinds come that way: the caller's key presses (``DTMFAggregator`` turns them into a
    transcript), and words whose transcript came after the turn they were spoken in had ended
    empty. ``VoiceTimedTurnStop`` waits for an STT that says it is still transcribing; one that
    does not say (a cloud service's hiccup) could still hand the caller's words to no turn, and
    they waited unanswered until the call ended. Interim transcripts start nothing: VAD has
    already started the turn they belong to."""

    def __init__(self) -> None:
        super().__init__(use_interim=False)


class CallerAudioEnd(FrameProcessor):
    """Where the caller's audio stops once STT has heard it (for an STT service built with
    ``audio_passthrough`` on; ours are built with it off, and this is the backstop), and where
    the session's own lines enter the pipeline.

    Every frame Pipecat pushes costs a hop through a queue and a task per processor (and an eager
    f-string for a trace log); 50 inbound frames a second per call would otherwise ride through
    the aggregators, the LLM, the TTS and the output transport for nothing.

    A processor's queue hands out system frames, the caller's audio among them, before any other
    frame. A line queued at the pipeline's source waited in the VAD processor's queue for as long
    as audio kept it from running dry: under load (60 calls on the 2-core box) an intro waited
    there seconds, until the caller, hearing nothing, spoke first. Queued here, past the
    processors the caller's audio goes through, a line waits for nothing but the lines before it.
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


def carrier_transport(
    websocket: WebSocket,
    *,
    serializer: FrameSerializer,
    audio_out_packet_bytes: int | None = None,
    mixer: BaseAudioMixer | None = None,
) -> FastAPIWebsocketTransport:
    """A carrier's media WebSocket as a Pipecat transport, 8 kHz PCM16 both ways inside."""
    return FastAPIWebsocketTransport(
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
            # Background audio (voice.background): mixed into every outbound frame.
            audio_out_mixer=mixer,
            # The media socket is authenticated by its per-call token, and carriers send no
            # Origin header; an Origin allow-list (PIPECAT_ALLOWED_ORIGINS) would refuse them.
            allowed_origins=[],
        ),
    )


def caller_turns(
    context: LLMContext, *, vad: CallVADAnalyzer, work: TranscriptWork | None
) -> LLMContextAggregatorPair:
    """The context aggregators, with the rules that start and end the caller's turns; ``work``
    is the STT's, if it says when it is transcribing (Whisper and the fake STT do)."""
    stop = VoiceTimedTurnStop(
        vad=vad,
        user_speech_timeout=USER_SPEECH_TIMEOUT_SECS,
        stt_settled_at=work.settled_at if work is not None else None,
    )
    return LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            # The VAD start interrupts the agent (barge-in); the stop strategy needs no model,
            # unlike Pipecat's default smart-turn analyzer.
            user_turn_strategies=UserTurnStrategies(
                start=[VADUserTurnStartStrategy(enable_interruptions=True), TranscriptTurnStart()],
                stop=[stop],
            ),
            user_turn_stop_timeout=STT_HANG_SECS,  # the stop strategy ends empty turns
        ),
    )


def build_call_pipeline(
    transport: BaseTransport,
    *,
    tts: TTSService,
    vad: CallVADAnalyzer,
    stt: STTService,
    llm: LLMService,
    context: LLMContext,
    on_speech_started: Callable[[float], None] | None = None,
    on_speech_stopped: Callable[[float], None] | None = None,
    knowledge: FrameProcessor | None = None,  # voice.knowledge: passages added per caller turn
) -> CallPipeline:
    """The agent's pipeline between the two ends of ``transport`` (a carrier's socket, or a
    browser's peer connection: ``voice.legs``)."""
    aggregators = caller_turns(context, vad=vad, work=getattr(stt, "work", None))
    entry = CallerAudioEnd()
    pipeline = Pipeline(
        [
            transport.input(),
            CallVADProcessor(
                vad_analyzer=vad,
                on_speech_started=on_speech_started,
                on_speech_stopped=on_speech_stopped,
            ),
            stt,
            DTMFAggregator(timeout=DTMF_IDLE_SECS, prefix=DTMF_PREFIX),
            entry,
            aggregators.user(),
            *([knowledge] if knowledge is not None else []),
            llm,
            tts,
            transport.output(),
            aggregators.assistant(),
        ]
    )
    return CallPipeline(
        transport=transport,
        pipeline=pipeline,
        user=aggregators.user(),
        assistant=aggregators.assistant(),
        entry=entry,
    )
