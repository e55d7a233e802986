"""The transcript of one call, with the agent's reply latency per turn.

A bot turn's ``latency_ms`` runs from the end of the caller's speech (Silero VAD's stop event,
which fires ``stop_secs`` after the last voiced audio) to the first audible frame of the reply
handed to the carrier. The intro answers nobody: its latency is null, as is every user turn's.
Times for latency are ``time.monotonic()`` seconds; turn timestamps are ISO-8601 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def wire(self) -> dict[str, Any]:
        turn: dict[str, Any] = {
            "role": self.role,
            "content": self.content,
            "timestamp": self.timestamp,
            "latency_ms": self.latency_ms,
        }
        if self.interrupted:
            turn["interrupted"] = True
        return turn


@dataclass
class ConversationLog:
    turns: list[Turn] = field(default_factory=list)
    _speech_ended_at: float | None = None  # the caller's latest VAD stop
    _answering: float | None = None  # the end of speech the pending reply answers
    _reply_audio_at: float | None = None  # the pending reply's first audible frame

    def bot_said(
        self, content: str, *, interrupted: bool = False, at: datetime | None = None
    ) -> None:
        """A bot line; it answers the latest user turn if one is waiting for its reply."""
        latency_ms = None
        if self._answering is not None and self._reply_audio_at is not None:
            latency_ms = max(0, round((self._reply_audio_at - self._answering) * 1000))
        self._answering = self._reply_audio_at = None
        if content.strip():
            self.turns.append(Turn("bot", content.strip(), iso_utc(at), latency_ms, interrupted))

    def caller_stopped_speaking(self, at: float) -> None:
        self._speech_ended_at = at

    def user_said(self, content: str, *, at: datetime | None = None) -> None:
        """A finished user turn: the next reply audio answers it."""
        if not content.strip():
            return
        self.turns.append(Turn("user", content.strip(), iso_utc(at)))
        self._answering = self._speech_ended_at
        self._reply_audio_at = None

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


def iso_utc(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
