"""The media runtime of one call: while the carrier's media WebSocket is open, run its pipeline.

The same runtime serves a browser session: its far end is then a WebRTC peer connection
(``voice.browser_leg``) instead of a carrier's socket (``voice.legs.CarrierSocketLeg``).

The API route accepts the socket, reads the carrier's ``start`` message, checks the per-call token
and builds the carrier's serializer (auto hang-up off); ``CallMediaSession.run()`` does the rest
and returns when the stream is over. A stream ends when the caller's side closes the socket (Plivo
and Vobiz send no stop event; the close is the end), when Twilio or Exotel send ``stop``, when the
platform calls ``end()``, or when the call reaches its maximum duration.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import Frame, InterruptionFrame, TTSSpeakFrame, TTSStoppedFrame
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    AssistantTurnStoppedMessage,
    UserTurnStoppedMessage,
)
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.workers.runner import WorkerRunner

from callwright.domain.agent_spec import ScriptSpec
from callwright.domain.dictionaries import Pronouncer
from callwright.domain.end_reasons import EndReason
from callwright.domain.transfers import (
    AGENT_BACK_MESSAGE,
    DEFAULT_TRANSFER_MESSAGE,
    DEFAULT_WARM_TRANSFER_MESSAGE,
    HOLD_REMINDER_MESSAGE,
    HOLD_REMINDER_SECS,
    TransferMode,
    TransferSource,
)
from callwright.domain.voicemail import GreetingVerdict
from callwright.voice.background import BackgroundMixer
from callwright.voice.call_rules import CallRules, CallTimers
from callwright.voice.conversation import ConversationLog
from callwright.voice.end_call import offer_end_call
from callwright.voice.engines import (
    STT_ENGINES,
    LlmChoice,
    LlmDefaults,
    LlmUnavailable,
    VoiceUnavailable,
    llm_engine_for,
    tts_engine,
)
from callwright.voice.engines.llm_scripted import ScriptedAnswer, ScriptedLLM
from callwright.voice.engines.stt_work import TranscriptWork
from callwright.voice.engines.tts_work import RenderWork
from callwright.voice.knowledge import KnowledgeContext, TurnKnowledge
from callwright.voice.legs import MediaLeg
from callwright.voice.milestones import watch_milestones
from callwright.voice.pipeline import CARRIER_SAMPLE_RATE, build_call_pipeline
from callwright.voice.recorder import CallRecorder
from callwright.voice.stream_watch import AgentAudioWatch
from callwright.voice.tools import InCallActions, offer_tools
from callwright.voice.transfer import offer_send_dtmf, offer_transfer
from callwright.voice.vad import silero_vad
from callwright.voice.voicemail_watch import VoicemailWatch

log = logging.getLogger("callwright.voice")

# How long a cancelled pipeline, the socket close and the platform's callbacks may take to settle
# (milliseconds, as a rule; seconds on a loaded machine).
TEARDOWN_TIMEOUT_SECS = 10.0
# Quiet after a line's last audio before the line counts as heard (the carrier's buffer drains).
PLAYOUT_GRACE_SECS = 0.5
# When the agent ends the call, how long a reply may take to start playing before it counts as
# having had nothing left to say.
REPLY_START_SECS = 3.0
# The duration cap is kept by CallTimers, which lets the closing line play; past this much more
# the stream is cut regardless.
HARD_STOP_GRACE_SECS = 20.0
# Said when the carrier refused to transfer the call; the conversation goes on.
TRANSFER_FAILED_LINE = "Sorry, I could not transfer your call just now."

_session_numbers = count(1)


@dataclass(frozen=True)
class AgentScript:
    """What the agent does on this call: its intro, then a conversation."""

    intro_message: str | None  # already rendered: {{var}} substitution is the caller's job
    voice_id: str  # from voice.catalog
    max_call_duration_secs: int | None = None  # warning 30 s before, closing line at the cap
    prompt: str = ""  # already rendered; the LLM's system message
    llm: LlmChoice | None = None  # the agent's own choice; None: the operator's defaults
    script: ScriptSpec | None = None  # a scripted brain instead of a model
    stt_provider: str = "whisper"
    stt_language: str | None = None  # the agent's stt.language, else its language
    end_call_enabled: bool = False  # a model may hang up through the end_call tool
    end_call_message: str | None = None  # said before the agent hangs up, and at the cap
    end_call_instructions: str | None = None  # when to end the call (also in the prompt)
    transfer_message: str | None = None  # said before a transfer (empty: the platform's line)
    transfer_instructions: str | None = None  # when to transfer (also in the prompt)
    rules: CallRules = field(default_factory=CallRules)
    detect_voicemail: bool = False  # judge the far end's first seconds: mailbox or person?
    vocabulary: tuple[str, ...] = ()  # the agent's dictionaries: terms the STT is biased toward
    pronunciations: tuple[tuple[str, str], ...] = ()  # (written, spoken): what the TTS is given

    @property
    def closing_line(self) -> str:
        return (self.end_call_message or "").strip() or self.rules.closing_line

    @property
    def transfer_line(self) -> str:
        return (self.transfer_message or "").strip() or DEFAULT_TRANSFER_MESSAGE

    def transfer_line_for(self, mode: TransferMode) -> str:
        if mode is TransferMode.WARM:
            return (self.transfer_message or "").strip() or DEFAULT_WARM_TRANSFER_MESSAGE
        return self.transfer_line

    def spoken_lines(self) -> list[str]:
        """Fixed lines this call may say: worth keeping in the shared speech cache."""
        lines = [self.intro_message or "", self.closing_line, self.rules.silence_prompt, self.transfer_line]
        if self.max_call_duration_secs:
            lines.append(self.rules.duration_warning_message)
        return [line.strip() for line in lines if line and line.strip()]


@dataclass
class MediaOutcome:
    end_reason: EndReason
    started_at: datetime
    ended_at: datetime
    first_agent_audio_at: datetime | None  # first non-silent agent audio handed to the carrier
    intro_spoken: bool  # the whole intro was handed to the carrier
    # {role, content, timestamp, latency_ms} per turn; latency over the replies to user turns
    transcript: list[dict[str, Any]] = field(default_factory=list)
    latency: dict[str, float] | None = None
    error: str | None = None  # with EndReason.ERROR: what failed, in one sentence

    def __post_init__(self) -> None:
        self.end_reason = EndReason(self.end_reason)  # also when given as its string value

    @property
    def description(self) -> str:
        """How the call record words it: "ended by agent", or "error: …"."""
        if self.end_reason is EndReason.ERROR and self.error:
            return f"error: {self.error}"
        return self.end_reason.words


class CallMediaSession:
    def __init__(
        self,
        leg: MediaLeg,
        *,
        script: AgentScript,
        on_first_agent_audio: Callable[[datetime], Coroutine[Any, Any, None]] | None = None,
        llm_defaults: LlmDefaults | None = None,
        on_greeting_verdict: Callable[[GreetingVerdict], Coroutine[Any, Any, None]] | None = None,
        recorder: CallRecorder | None = None,  # records both sides; the caller finishes it
        actions: InCallActions | None = None,  # custom functions and opt_out (voice.tools)
        knowledge: TurnKnowledge | None = None,  # the agent's documents, searched per turn
        background: BackgroundMixer | None = None,  # background audio under the agent's voice
    ) -> None:
        self._leg = leg
        self._recorder = recorder
        self._actions = actions
        self._knowledge = knowledge
        self._background = background
        self._script = script
        self._on_first_agent_audio = on_first_agent_audio
        self._llm_defaults = llm_defaults or LlmDefaults()
        self.conversation = ConversationLog()
        self._name = f"call-media-{next(_session_numbers)}"

        self._started = False
        self._end_reason: EndReason | None = None
        self._error: str | None = None
        self._end_requested = asyncio.Event()
        self._finished = asyncio.Event()
        self._first_agent_audio_at: datetime | None = None
        self._intro_spoken = False
        self._intro_cut = False  # the caller spoke over the intro before it was all sent
        self._callback_tasks: set[asyncio.Task[None]] = set()
        self._worker: PipelineWorker | None = None
        self._watch: AgentAudioWatch | None = None
        self._entry: FrameProcessor | None = None  # where its own lines enter the pipeline
        self._tts_work: RenderWork | None = None  # the TTS's, if it says when it is rendering
        self._timers: CallTimers | None = None
        self._on_greeting_verdict = on_greeting_verdict
        self.voicemail_watch: VoicemailWatch | None = None
        self._transferring = False  # a transfer was asked: its message, then the carrier
        self._transferred = False  # the carrier took the transfer: the stream's end is the hand-off
        self._holding: asyncio.Task[None] | None = None  # a warm transfer's reminders to the caller
        self._context: LLMContext | None = None

    @property
    def intro_spoken(self) -> bool:
        """The whole intro has been handed to the carrier (so far; ``MediaOutcome`` at the end)."""
        return self._intro_spoken

    async def run(self) -> MediaOutcome:
        """Run the call's media until the stream ends; never raises for a normal hang-up."""
        if self._started:
            raise RuntimeError("CallMediaSession.run() can only be called once")
        self._started = True
        started_at = _now()
        try:
            await self._run_pipeline()
        except VoiceUnavailable as exc:
            log.error("%s: %s", self._name, exc)
            self._request_end(EndReason.ERROR, error=str(exc))
        except Exception as exc:
            log.exception("%s: the media pipeline failed", self._name)
            self._request_end(EndReason.ERROR, error=f"{exc.__class__.__name__}: {exc}")
        finally:
            if self._holding is not None:
                self._holding.cancel()
            await self._leg.close()
            await self._settle_callbacks()
            self.conversation.call_ended()
            self._finished.set()
        outcome = MediaOutcome(
            end_reason=self._end_reason or EndReason.ENDED_BY_PLATFORM,
            started_at=started_at,
            ended_at=_now(),
            first_agent_audio_at=self._first_agent_audio_at,
            intro_spoken=self._intro_spoken,
            transcript=self.conversation.wire(),
            latency=self.conversation.latency(),
            error=self._error,
        )
        log.debug("%s: ended (%s)", self._name, outcome.end_reason)
        return outcome

    async def end(self, reason: EndReason | str = EndReason.ENDED_BY_PLATFORM) -> None:
        """Stop speaking, close the socket, and return once ``run()`` has wound down. ``reason``
        may come from another process as its string value (``ControlCommand.END``)."""
        self._request_end(EndReason(reason))
        # A first-audio callback that ends the call must not wait for run(), which waits for it.
        if self._started and asyncio.current_task() not in self._callback_tasks:
            await self._finished.wait()

    async def say(self, text: str, *, timeout_secs: float = 30.0) -> None:
        """Say ``text`` after anything already queued and return once the caller has heard it
        (or the stream ended, or ``timeout_secs`` passed)."""
        entry, watch = self._entry, self._watch
        if entry is None or watch is None or self._end_requested.is_set() or not text.strip():
            return
        queued_at = time.monotonic()
        self.conversation.bot_said(text)
        await entry.queue_frame(TTSSpeakFrame(text.strip(), append_to_context=False))
        await self._wait_for_playout(watch, since=queued_at, timeout_secs=timeout_secs)

    async def _say_now(self, text: str) -> None:
        """Queue ``text`` to be said after anything already queued, without waiting for it
        (a tool's started message, said while its request runs)."""
        entry = self._entry
        if entry is None or self._end_requested.is_set() or not text.strip():
            return
        self.conversation.bot_said(text)
        await entry.queue_frame(TTSSpeakFrame(text.strip(), append_to_context=False))

    async def speak_then_end(
        self, text: str, *, reason: EndReason | str, timeout_secs: float = 60.0
    ) -> None:
        """Say ``text`` after anything already queued (e.g. a voicemail message after the beep),
        let it play out, then end the stream. Ends at once if the stream is not running."""
        if self._worker is not None and not self._end_requested.is_set():
            await self.say(text, timeout_secs=timeout_secs)
        await self.end(reason)

    async def _wait_for_playout(
        self,
        watch: AgentAudioWatch,
        *,
        since: float,
        timeout_secs: float,
        start_within_secs: float | None = None,
    ) -> None:
        """Wait until the audio queued after ``since`` has played; with ``start_within_secs``,
        give up early if none has started by then (there was nothing left to say)."""
        deadline = since + timeout_secs
        # Audio leaves paced at real time, so once it has flowed after ``since`` and then
        # stopped for a moment, the caller has heard the line, unless the TTS is still
        # rendering its next clause (a loaded machine: see ``RenderWork``).
        while not self._end_requested.is_set() and time.monotonic() < deadline:
            now, last = time.monotonic(), watch.last_audio_at
            if last is not None and last > since:
                rendering = self._tts_work is not None and self._tts_work.busy
                if now - last > PLAYOUT_GRACE_SECS and not rendering:
                    break
            elif start_within_secs is not None and now - since > start_within_secs:
                break
            await asyncio.sleep(0.05)

    async def _end_after_reply(self, since: float, *, closing: str | None = None) -> None:
        """The agent asked to end the call: let the reply it just gave play out, say
        ``closing`` if given, then end."""
        if self._watch is not None:
            await self._wait_for_playout(
                self._watch, since=since, timeout_secs=60.0, start_within_secs=REPLY_START_SECS
            )
        if closing:
            await self.say(closing)
        await self.end(EndReason.ENDED_BY_AGENT)

    async def transfer(
        self, to: str, source: TransferSource | str = TransferSource.API, mode: TransferMode | str = TransferMode.COLD
    ) -> None:
        """Hand the call to ``to`` (``ControlCommand.TRANSFER``): returns at once; the transfer
        message is said, then the carrier dials the human (warm: while the caller holds here)."""
        self._start_transfer(to, TransferSource(source), TransferMode(mode), since=None)

    def _start_transfer(self, to: str, source: TransferSource, mode: TransferMode, *, since: float | None) -> None:
        if self._transferring or self._end_requested.is_set():
            return
        if self._actions is None:
            # Not expected: a call whose agent may transfer is built with its actions. The
            # stream's end settles the partner's pending request as failed (media_events).
            log.warning("%s: a transfer was asked of a call without in-call actions; ignored", self._name)
            return
        self._transferring = True
        task = asyncio.create_task(self._transfer(to, source, mode, since=since))
        self._callback_tasks.add(task)

    async def _transfer(self, to: str, source: TransferSource, mode: TransferMode, *, since: float | None) -> None:
        assert self._actions is not None
        if since is not None and self._watch is not None:
            # The model's reply before its tool call plays out first.
            await self._wait_for_playout(
                self._watch, since=since, timeout_secs=60.0, start_within_secs=REPLY_START_SECS
            )
        if self._timers is not None:
            self._timers.hold(True)  # the caller is being handed over: silence is not the end
        await self.say(self._script.transfer_line_for(mode))
        if self._end_requested.is_set():
            return
        if mode is TransferMode.WARM:
            # The caller stays here while the human is called and briefed (services.warm_transfers).
            self._hold(True)
            if not await self._actions.start_transfer(to, source.value, mode.value, self._transcript_so_far()):
                self._hold(False)
                self._transferring = False
                await self.say(TRANSFER_FAILED_LINE)
            return
        self._transferred = True  # before the carrier acts: its stream close may come first
        if not await self._actions.start_transfer(to, source.value):
            self._transferred = self._transferring = False
            self._hold(False)
            await self.say(TRANSFER_FAILED_LINE)

    def _transcript_so_far(self) -> list[dict[str, Any]]:
        """The transcript for a warm transfer's summary. The model can act on the caller's words
        before their turn is logged (Pipecat runs inference before the turn's end event), so the
        context's last user message is added when the log does not have it yet."""
        turns = self.conversation.wire()
        messages = self._context.get_messages() if self._context is not None else []
        said = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        last = said[-1] if said and isinstance(said[-1], str) else None
        logged = [str(t["content"]) for t in turns if t["role"] == "user"]
        if last and last.strip() and not any(last.strip() in content for content in logged):
            turns.append({"role": "user", "content": last.strip()})
        return turns

    async def transfer_bridging(self) -> None:
        """``ControlCommand.TRANSFER_BRIDGING``: the human heard the summary; the carrier is about
        to move the caller, so the stream's end is the hand-off."""
        self._transferred = True
        if self._holding is not None:
            self._holding.cancel()

    async def transfer_not_reached(self) -> None:
        """``ControlCommand.TRANSFER_NOT_REACHED``: the human was busy or did not answer; the
        caller never left, and hears so at once. (No second transfer on this call.)"""
        self._hold(False)
        if self._entry is not None and not self._end_requested.is_set():
            task = asyncio.create_task(self.say(AGENT_BACK_MESSAGE))
            self._callback_tasks.add(task)

    def _hold(self, on: bool) -> None:
        if self._timers is not None:
            self._timers.hold(on)
        if self._holding is not None:
            self._holding.cancel()
            self._holding = None
        if on:
            self._holding = asyncio.create_task(self._hold_reminders())

    async def _hold_reminders(self) -> None:
        """While the caller holds, a short line after every ``HOLD_REMINDER_SECS`` without the
        agent's voice: no dead air."""
        while not self._end_requested.is_set() and not self._transferred:
            await asyncio.sleep(HOLD_REMINDER_SECS)
            if self._transferred or self._end_requested.is_set():
                return
            last = self._watch.last_audio_at if self._watch is not None else None
            if last is not None and time.monotonic() - last < HOLD_REMINDER_SECS:
                continue  # the agent spoke meanwhile (it answered the caller)
            await self.say(HOLD_REMINDER_MESSAGE)

    async def leave_voicemail(self, message: str | None) -> None:
        """A mailbox answered: stop the agent, wait for the beep, say ``message``, end the call."""
        if self._worker is not None and not self._end_requested.is_set():
            await self._worker.queue_frame(InterruptionFrame())
        if message and self.voicemail_watch is not None:
            await self.voicemail_watch.wait_for_beep()
        await self.speak_then_end(message or "", reason=EndReason.VOICEMAIL)

    async def _greeting_judged(self, verdict: GreetingVerdict) -> None:
        if self._on_greeting_verdict is not None:
            await self._on_greeting_verdict(verdict)

    def _agent_ends_call(self, *, closing: str | None = None) -> None:
        # Not awaited by the caller: the wait would hold up the LLM processor for the whole reply.
        task = asyncio.create_task(self._end_after_reply(time.monotonic(), closing=closing))
        self._callback_tasks.add(task)

    def _request_end(self, reason: EndReason, *, error: str | None = None) -> None:
        if self._transferred and reason in (EndReason.CALLER_HUNG_UP, EndReason.MEDIA_STREAM_LOST):
            # The carrier left our stream to dial the human: that close is the hand-off.
            reason = EndReason.TRANSFERRED
        if self._end_reason is None:
            self._end_reason, self._error = reason, error
        self._end_requested.set()

    async def _run_pipeline(self) -> None:
        if self._end_requested.is_set():
            return
        intro = (self._script.intro_message or "").strip()
        engine = tts_engine(self._script.voice_id)
        pronounce = Pronouncer(dict(self._script.pronunciations))
        tts = await engine.create_tts(
            self._script.voice_id,
            # The cache holds lines as the TTS is given them: pronunciations applied.
            cached_texts=[pronounce(line) for line in self._script.spoken_lines()],
        )
        self._tts_work = work if isinstance(work := getattr(tts, "work", None), RenderWork) else None
        stt_engine = STT_ENGINES.get(self._script.stt_provider)
        if stt_engine is None:
            log.warning(
                "%s: no STT engine %r on this server; using whisper",
                self._name,
                self._script.stt_provider,
            )
            stt_engine = STT_ENGINES["whisper"]
        stt = await stt_engine.create_stt(
            language=self._script.stt_language, vocabulary=self._script.vocabulary
        )
        if self._script.pronunciations:

            async def _pronounced(text: str, _text_type: object) -> str:
                return pronounce(text)

            # Reaches the synthesizer only: the transcript and the model's context keep the
            # written form.
            tts.add_text_transformer(_pronounced)
        llm = self._create_llm()
        context = LLMContext(self._initial_messages(intro))
        conversation = self.conversation
        tools: list[FunctionSchema] = []
        # A script ends the call through its own replies; a model through the end_call tool.
        if self._script.end_call_enabled and not isinstance(llm, ScriptedLLM):
            end_message = (self._script.end_call_message or "").strip() or None

            async def _model_ends_call() -> None:
                self._agent_ends_call(closing=end_message)

            tools.append(
                offer_end_call(
                    llm, instructions=self._script.end_call_instructions, on_end_call=_model_ends_call
                )
            )
        if self._actions is not None:
            scripted = isinstance(llm, ScriptedLLM)
            tools += offer_tools(llm, actions=self._actions, speak=self._say_now, scripted=scripted)
            number = self._actions.transfer_number
            if number is not None:

                mode = TransferMode(self._actions.transfer_mode)

                async def _agent_transfers() -> None:
                    self._start_transfer(number, TransferSource.AGENT, mode, since=time.monotonic())

                tools.append(
                    offer_transfer(
                        llm, instructions=self._script.transfer_instructions, on_transfer=_agent_transfers
                    )
                )
            if self._actions.dtmf_offered:
                tools.append(offer_send_dtmf(llm, send=self._actions.send_dtmf))
        if tools:
            context.set_tools(ToolsSchema(standard_tools=tools))
        watch = None
        if self._script.detect_voicemail:
            watch = self.voicemail_watch = VoicemailWatch(self._greeting_judged)
        transport, sent_audio = self._leg.open(
            on_stop=lambda: self._request_end(EndReason.CALLER_HUNG_UP),
            on_first_audio=self._agent_audio_started,
            on_reply_audio=conversation.reply_audio_started,
            on_caller_audio=watch.caller_audio if watch is not None else None,
            recorder=self._recorder,
            mixer=self._background,
        )
        vad = silero_vad().new_analyzer()
        timers = self._timers = CallTimers(
            self._script.rules,
            max_call_duration_secs=self._script.max_call_duration_secs,
            closing_line=self._script.closing_line,
            speak=self.say,
            speak_then_end=lambda text, reason, timeout: self.speak_then_end(
                text, reason=reason, timeout_secs=timeout
            ),
            last_agent_audio_at=lambda: sent_audio.last_audio_at,
            stt_settled_at=work.settled_at
            if isinstance(work := getattr(stt, "work", None), TranscriptWork)
            else None,
        )

        def _caller_started(at: float) -> None:
            timers.caller_started_speaking(at)
            if intro and not self._intro_spoken and not self._intro_cut:
                # Barge-in on the greeting: the caller did not hear all of it.
                self._intro_cut = True
                conversation.mark_interrupted(0)

        def _caller_stopped(at: float) -> None:
            conversation.caller_stopped_speaking(at, speech_ended_at=vad.speech_ended_by(at))
            timers.caller_stopped_speaking(at)

        if hasattr(stt, "caller_utterances"):  # Whisper holds a segment's text while they go on
            stt.caller_utterances = lambda: timers.caller_utterances

        call = build_call_pipeline(
            transport,
            tts=tts,
            vad=vad,
            stt=stt,
            llm=llm,
            context=context,
            on_speech_started=_caller_started,
            on_speech_stopped=_caller_stopped,
            knowledge=KnowledgeContext(self._knowledge)
            if self._knowledge is not None and not isinstance(llm, ScriptedLLM)
            else None,
        )
        watch_milestones(conversation, stt=stt, llm=llm, tts=tts)

        @call.user.event_handler("on_user_turn_stopped")
        async def _caller_said(
            _user: object, _strategy: object, message: UserTurnStoppedMessage
        ) -> None:
            conversation.user_said(message.content or "")
            sent_audio.expect_reply()
            if watch is not None:
                watch.caller_said(message.content or "")

        @call.assistant.event_handler("on_assistant_turn_stopped")
        async def _agent_said(_assistant: object, message: AssistantTurnStoppedMessage) -> None:
            conversation.agent_turn_ended(
                message.content, interrupted=message.interrupted, call_ending=self._end_requested.is_set()
            )

        if isinstance(llm, ScriptedLLM):

            @llm.event_handler("on_end_call_requested")
            async def _script_ends_call(_llm: ScriptedLLM, _answer: ScriptedAnswer) -> None:
                self._agent_ends_call()  # the scripted reply is the goodbye

        @call.transport.event_handler("on_client_disconnected")
        async def _caller_closed_socket(_transport: object, _client: object) -> None:
            self._request_end(self._leg.disconnect_reason())

        worker = PipelineWorker(
            call.pipeline,
            name=self._name,
            params=PipelineParams(
                audio_in_sample_rate=CARRIER_SAMPLE_RATE,
                audio_out_sample_rate=CARRIER_SAMPLE_RATE,
            ),
            enable_rtvi=False,
            enable_turn_tracking=False,
            idle_timeout_secs=None,
            cancel_timeout_secs=TEARDOWN_TIMEOUT_SECS,
        )
        # The output transport passes a TTSStoppedFrame on only after the audio before it went out.
        worker.set_reached_downstream_filter((TTSStoppedFrame,))

        @worker.event_handler("on_frame_reached_downstream")
        async def _speech_handed_over(_worker: PipelineWorker, _frame: Frame) -> None:
            # The intro is the first line spoken; once the caller has spoken, lines are replies.
            # Not if the carrier closed the socket: the rest of the line went nowhere (a failed
            # send marks the socket disconnected), though the hang-up may not have been read yet
            # (a busy loop reads it late).
            if not self._leg.connected():
                return
            if not self._intro_cut and not any(turn.role == "user" for turn in conversation.turns):
                self._intro_spoken = True

        if intro:
            conversation.bot_said(intro)
            # Already in the context as the first assistant message.
            # Past the caller's audio (``CallerAudioEnd``); it waits there for the StartFrame.
            await call.entry.queue_frame(TTSSpeakFrame(intro, append_to_context=False))
        self._worker, self._watch, self._entry = worker, sent_audio, call.entry
        self._context = context
        runner = WorkerRunner(name=self._name, handle_sigint=False)
        await runner.add_workers(worker)
        await self._run_until_end(runner, worker)

    async def _run_until_end(self, runner: WorkerRunner, worker: PipelineWorker) -> None:
        running = asyncio.create_task(runner.run(), name=f"{self._name}-runner")
        end_requested = asyncio.create_task(self._end_requested.wait())
        timers = None
        if self._timers is not None:
            timers = asyncio.create_task(self._timers.run(time.monotonic()), name=f"{self._name}-timers")
        cap = self._script.max_call_duration_secs
        try:
            done, _ = await asyncio.wait(
                {running, end_requested},
                timeout=cap + HARD_STOP_GRACE_SECS if cap else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                self._request_end(EndReason.MAX_DURATION)
            elif running in done and self._end_reason is None:
                self._request_end(EndReason.ERROR, error="the media pipeline stopped on its own")
        finally:
            end_requested.cancel()
            await asyncio.gather(end_requested, return_exceptions=True)
            if timers is not None:
                timers.cancel()
                await asyncio.gather(timers, return_exceptions=True)
            await worker.cancel(reason=self._end_reason)
            try:
                await asyncio.wait_for(asyncio.shield(running), TEARDOWN_TIMEOUT_SECS)
            except TimeoutError:
                log.warning("%s: the pipeline did not stop in time; abandoning it", self._name)
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)

    def _create_llm(self) -> Any:
        script = self._script
        try:
            # The prompt is the model's system instruction (Pipecat sends it as the first message).
            return llm_engine_for(
                script.llm, self._llm_defaults, script=script.script, prompt=script.prompt.strip()
            )
        except LlmUnavailable as exc:
            # The caller still hears the intro and the operator's fallback line.
            log.error("%s: %s; answering with the fallback line", self._name, exc)
            return ScriptedLLM(ScriptSpec(fallback=self._llm_defaults.fallback_line))

    def _initial_messages(self, intro: str) -> list[Any]:
        messages: list[Any] = []
        if intro:
            messages.append({"role": "assistant", "content": intro})
        return messages

    def _agent_audio_started(self) -> None:
        at = _now()
        self._first_agent_audio_at = at
        if self._on_first_agent_audio is not None:
            task = asyncio.create_task(self._on_first_agent_audio(at))
            self._callback_tasks.add(task)

    async def _settle_callbacks(self) -> None:
        if not self._callback_tasks:
            return
        done, pending = await asyncio.wait(self._callback_tasks, timeout=TEARDOWN_TIMEOUT_SECS)
        for task in pending:
            log.warning("%s: on_first_agent_audio did not finish in time; cancelled", self._name)
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error(
                    "%s: on_first_agent_audio failed", self._name, exc_info=task.exception()
                )


def _now() -> datetime:
    return datetime.now(UTC)
