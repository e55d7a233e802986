"""The transcript of one call, with the agent's reply latency per turn.

A bot turn's ``latency_ms`` runs from the end of the caller's speech (the last voiced audio, as
``CallVADAnalyzer.speech_ended_by`` places it) to the first audible frame of the reply handed to the
carrier. Its ``breakdown`` says where that time went, each figure in ms from the same end of
speech: ``vad_stop`` (VAD decided the caller stopped), ``stt_final`` (the final transcript),
``llm_first_token``, ``tts_first_audio`` (the TTS produced audio; the carrier gets it right after,
paced by the output transport). The intro answers nobody: its latency is null, as is every user
turn's. Times for latency are ``time.monotonic()`` seconds; turn timestamps are ISO-8601 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

Role = Literal["user", "bot"]


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    content: str
    timestamp: str  # ISO-8601 UTC
    latency_ms: int | None = None
    interrupted: bool = False
    breakdown: dict[str, int] | None = None

    def wire(self) -> dict[str, Any]:
        turn: dict[str, Any] = {
            "role": self.role,
            "content": self.content,
            "timestamp": self.timestamp,
            "latency_ms": self.latency_ms,
        }
        if self.breakdown:
            turn["breakdown"] = self.breakdown
        if self.interrupted:
            turn["interrupted"] = True
        return turn


@dataclass
class ConversationLog:
    turns: list[Turn] = field(default_factory=list)
    _speech_ended_at: float | None = None  # the caller's latest end of speech
    _vad_stopped_at: float | None = None  # when VAD decided it had ended
    _transcribed_at: float | None = None  # the latest final transcript
    _answering: float | None = None  # the end of speech the pending reply answers
    _marks: dict[str, float] = field(default_factory=dict)  # the pending reply's milestones
    _reply_audio_at: float | None = None  # the pending reply's first audible frame
    # The model's reply as it wrote it (Pipecat logs a reply's sentence only once its audio has
    # gone out; what is still on its way when the call ends is taken from here).
    _reply_text: list[str] = field(default_factory=list)
    _reply_spaced: bool = False  # the pieces carry their own spaces (LLM tokens)

    def bot_said(
        self, content: str, *, interrupted: bool = False, at: datetime | None = None
    ) -> None:
        """A bot line; it answers the latest user turn if one is waiting for its reply."""
        latency_ms = breakdown = None
        if self._answering is not None and self._reply_audio_at is not None:
            latency_ms = _ms(self._reply_audio_at - self._answering)
            breakdown = {name: _ms(t - self._answering) for name, t in self._marks.items()}
        self._answering = self._reply_audio_at = None
        self._marks = {}
        if content.strip():
            turn = Turn("bot", content.strip(), iso_utc(at), latency_ms, interrupted, breakdown)
            self.turns.append(turn)

    def reply_started(self) -> None:
        """The model began a response."""
        self._reply_text = []

    def reply_text(self, text: str, *, spaced: bool) -> None:
        """A piece of the model's response (an LLM token, or a scripted reply's text)."""
        self._reply_text.append(text)
        self._reply_spaced = spaced

    def _pending_reply(self) -> str:
        return ("" if self._reply_spaced else " ").join(self._reply_text).strip()

    def agent_turn_ended(self, content: str, *, interrupted: bool, call_ending: bool) -> None:
        """Pipecat's end of an agent turn (``on_assistant_turn_stopped``), with the text whose
        audio went out. When the call is ending with more of the reply still on its way (the
        caller hung up while it played, or a busy loop had not yet passed its last frames on),
        the turn is left for ``call_ended``. A barge-in keeps Pipecat's text: the model's context
        and the transcript then agree on what was said."""
        if call_ending and len(self._pending_reply()) > len(content.strip()):
            return
        self._reply_text = []
        self.bot_said(content, interrupted=interrupted)

    def call_ended(self) -> None:
        """The media has ended. A reply the caller had begun to hear is logged whole, marked
        interrupted: the call ended before its end was confirmed sent."""
        pending, self._reply_text = self._pending_reply(), []
        if pending and self._reply_audio_at is not None:
            self.bot_said(pending, interrupted=True)

    def mark_interrupted(self, index: int) -> None:
        """The caller spoke over turn ``index`` (a bot line) before it was all sent."""
        if 0 <= index < len(self.turns) and self.turns[index].role == "bot":
            self.turns[index] = replace(self.turns[index], interrupted=True)

    def caller_stopped_speaking(self, at: float, *, speech_ended_at: float | None = None) -> None:
        """VAD's stop event at ``at``; the caller's voice ended at ``speech_ended_at``."""
        self._vad_stopped_at = at
        self._speech_ended_at = at if speech_ended_at is None else speech_ended_at

    def transcribed(self, at: float) -> None:
        self._transcribed_at = at

    def user_said(self, content: str, *, at: datetime | None = None) -> None:
        """A finished user turn: the next reply audio answers it."""
        if not content.strip():
            return
        self.turns.append(Turn("user", content.strip(), iso_utc(at)))
        self._answering = self._speech_ended_at
        self._reply_audio_at = None
        self._marks = {}
        if self._answering is not None:
            for name, mark in (("vad_stop", self._vad_stopped_at), ("stt_final", self._transcribed_at)):
                if mark is not None and mark >= self._answering:
                    self._marks[name] = mark

    def reply_milestone(self, name: str, at: float) -> None:
        """The pending reply reached ``name`` (``llm_first_token``, ``tts_first_audio``)."""
        if self._answering is not None and name not in self._marks:
            self._marks[name] = at

    def reply_audio_started(self, at: float) -> None:
        if self._answering is not None and self._reply_audio_at is None:
            self._reply_audio_at = at

    def wire(self) -> list[dict[str, Any]]:
        return [turn.wire() for turn in self.turns]

    def latency(self) -> dict[str, float] | None:
        """``{min_ms, max_ms, avg_ms}`` over the bot replies that answered a user turn."""
        measured = [
            t.latency_ms for t in self.turns if t.role == "bot" and t.latency_ms is not None
        ]
        if not measured:
            return None
        return {
            "min_ms": min(measured),
            "max_ms": max(measured),
            "avg_ms": round(sum(measured) / len(measured), 1),
        }


def _ms(secs: float) -> int:
    return max(0, round(secs * 1000))


def iso_utc(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
