"""A call's hand-off to a human (cold transfer), and pressing keys on the line (DTMF), in our words.

A transfer is asked by the partner (``POST /calls/{id}/transfer``), by the model (the
``transfer_call`` tool) or by a scripted rule. The agent says its ``transfer_message``, the carrier
is told to dial the human, and the carrier's report of that dial types the outcome:
``transferred`` (the human answered), ``busy``, ``no_answer`` or ``failed`` (with the carrier's own
words). The call keeps it as ``calls.transfer`` (``TransferRecord.wire``), which ``GET /calls/{id}``
and ``session.completed`` show as ``transfer``.
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


def pending_record(*, to: str, source: TransferSource, requested_at: str) -> dict[str, Any]:
    return {
        "status": TransferStatus.PENDING.value,
        "to": to,
        "source": source.value,
        "requested_at": requested_at,
        "completed_at": None,
        "carrier_status": None,
        "carrier_reason": None,
    }


def settled_record(record: dict[str, Any], result: DialResult, *, completed_at: str) -> dict[str, Any]:
    return record | {
        "status": result.status.value,
        "carrier_status": result.carrier_status,
        "carrier_reason": result.carrier_reason,
        "completed_at": completed_at,
    }


def failed_record(record: dict[str, Any], reason: str, *, completed_at: str) -> dict[str, Any]:
    """The carrier refused the transfer request itself (its words in ``reason``)."""
    return record | {
        "status": TransferStatus.FAILED.value,
        "carrier_status": "request_refused",
        "carrier_reason": reason,
        "completed_at": completed_at,
    }
