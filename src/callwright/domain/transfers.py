"""A call's hand-off to a human (cold or warm transfer), and pressing keys on the line (DTMF), in
our words.

A transfer is asked by the partner (``POST /calls/{id}/transfer``), by the model (the
``transfer_call`` tool) or by a scripted rule. The agent says its ``transfer_message``, the carrier
is told to dial the human, and the carrier's report of that dial types the outcome:
``transferred`` (the human answered), ``busy``, ``no_answer`` or ``failed`` (with the carrier's own
words). The call keeps it as ``calls.transfer`` (``TransferRecord.wire``), which ``GET /calls/{id}``
and ``session.completed`` show as ``transfer``.

A **warm** transfer (``TransferMode.WARM``) keeps the caller with the agent while the carrier
calls the human on a second leg (the *consult* leg): the human hears a short summary of the call
(``offline_summary`` or the operator's LLM), then both legs join one conference
(``conference_name``). If the human is busy or does not answer, the caller never left the agent,
who says so. The outcomes are the same four.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Said before the transfer when the agent has no transfer_message (Vocobase: "a platform default").
DEFAULT_TRANSFER_MESSAGE = "Please hold while I transfer you."
# What the caller hears when the human does not pick up, instead of silence.
NOT_REACHED_MESSAGE = "Sorry, nobody could take your call right now. Please try again later. Goodbye."
# What the agent says when the call comes back to it after the human was not reached.
AGENT_BACK_MESSAGE = "Sorry, nobody could take your call right now. Is there anything else I can help you with?"
# How long the carrier rings the human before giving up (seconds).
DIAL_TIMEOUT_SECS = 25
# Said before a warm transfer when the agent has no transfer_message.
DEFAULT_WARM_TRANSFER_MESSAGE = "Please hold for a moment while I brief a colleague and connect you."
# Said to a caller on hold during a warm transfer, every HOLD_REMINDER_SECS of quiet.
HOLD_REMINDER_MESSAGE = "Thanks for holding, I'm still connecting you."
HOLD_REMINDER_SECS = 10.0
# What the human hears when the caller left before the bridge.
CALLER_GONE_MESSAGE = "Sorry, the caller is no longer on the line. Goodbye."
# The summary spoken to the human is cut to this many characters (carrier TTS takes ~4000).
SUMMARY_MAX_CHARS = 600

_DIGITS = re.compile(r"^[0-9*#wW]{1,32}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class TransferStatus(StrEnum):
    PENDING = "pending"  # asked; the carrier has not reported the dial yet
    TRANSFERRED = "transferred"  # the human answered and was bridged to the caller
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"

    @property
    def reached(self) -> bool:
        return self is TransferStatus.TRANSFERRED


class TransferMode(StrEnum):
    COLD = "cold"  # the carrier leaves the agent and dials the human (<Dial>)
    WARM = "warm"  # the human is called first, hears a summary, then both join a conference


class TransferSource(StrEnum):
    API = "api"  # POST /calls/{id}/transfer
    AGENT = "agent"  # the model's transfer_call tool, or a scripted rule


@dataclass(frozen=True, slots=True)
class DialResult:
    """A carrier's report of the dial to the human, in our words and its own."""

    status: TransferStatus
    carrier_status: str  # e.g. Plivo's DialStatus, Twilio's DialCallStatus
    carrier_reason: str | None = None  # e.g. Plivo's DialHangupCause


def transfer_destination(value: str | None) -> str | None:
    """The number to hand the call to, or None if it is not one E.164 number."""
    value = (value or "").strip()
    return value if _E164.match(value) else None


def dtmf_digits(value: str | None) -> str | None:
    """Keys to press (0-9, *, #; w/W waits half a second / a second, as Plivo and Twilio read
    them), or None if anything else is in there."""
    value = (value or "").strip()
    return value if _DIGITS.match(value) else None


def pending_record(
    *, to: str, source: TransferSource, requested_at: str, mode: TransferMode = TransferMode.COLD
) -> dict[str, Any]:
    return {
        "status": TransferStatus.PENDING.value,
        "mode": mode.value,
        "to": to,
        "source": source.value,
        "requested_at": requested_at,
        "completed_at": None,
        "carrier_status": None,
        "carrier_reason": None,
    }


def mode_of(record: dict[str, Any] | None) -> TransferMode:
    """A stored transfer's mode (records from before warm transfer existed are cold)."""
    return TransferMode((record or {}).get("mode") or TransferMode.COLD.value)


def is_pending(record: dict[str, Any] | None) -> bool:
    return record is not None and record.get("status") == TransferStatus.PENDING.value


def conference_name(call_id: str) -> str:
    """The conference room both legs of a warm transfer join (the carrier scopes it to the
    account; Twilio asks for no personal data in it, so it is the call's id only)."""
    return f"callwright-{call_id}"


def consult_result(outcome: str, *, carrier_status: str, carrier_reason: str | None) -> DialResult:
    """How a consult leg that ended before the bridge went, from its end (``CallStatus`` values:
    busy, no_answer, failed, canceled, completed). A human who answered and hung up before the
    caller was bridged is a failed transfer."""
    status = {
        "busy": TransferStatus.BUSY,
        "no_answer": TransferStatus.NO_ANSWER,
    }.get(outcome, TransferStatus.FAILED)
    return DialResult(status, carrier_status, carrier_reason)


def offline_summary(turns: list[dict[str, Any]]) -> str:
    """A deterministic summary of the call so far for the human (no LLM): what the caller said
    last, in their words, and what the agent answered last."""
    said = [str(t.get("content") or "").strip() for t in turns if t.get("role") == "user"]
    said = [line for line in said if line and not line.startswith("DTMF:")]
    agent = [str(t.get("content") or "").strip() for t in turns if t.get("role") in ("bot", "assistant")]
    parts = ["Incoming transfer from the AI agent."]
    if said:
        quoted = " ".join(said[-3:])
        parts.append(f'The caller said: "{quoted}".')
    else:
        parts.append("The caller asked to speak with a person.")
    if len(agent) >= 2:  # the last agent line is the transfer message itself
        parts.append(f'The agent last said: "{agent[-2]}".')
    parts.append("Connecting you now.")
    return clip_summary(" ".join(parts))


def clip_summary(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SUMMARY_MAX_CHARS:
        return text
    return text[: SUMMARY_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"


def settled_record(record: dict[str, Any], result: DialResult, *, completed_at: str) -> dict[str, Any]:
    return record | {
        "status": result.status.value,
        "carrier_status": result.carrier_status,
        "carrier_reason": result.carrier_reason,
        "completed_at": completed_at,
    }


def failed_record(
    record: dict[str, Any], reason: str, *, completed_at: str, carrier_status: str | None = "request_refused"
) -> dict[str, Any]:
    """The carrier refused the transfer request itself (its words in ``reason``), or, with
    ``carrier_status`` None, the platform saw it fail (the caller left before a warm bridge)."""
    return record | {
        "status": TransferStatus.FAILED.value,
        "carrier_status": carrier_status,
        "carrier_reason": reason,
        "completed_at": completed_at,
    }
