"""The commands one process sends to the call's media session in another (``services.call_control``).

Each is a method of the media session taking keyword arguments that travel as JSON.
"""

from __future__ import annotations

from enum import StrEnum


class ControlCommand(StrEnum):
    END = "end"  # reason: EndReason
    SPEAK_THEN_END = "speak_then_end"  # text, reason: EndReason
    LEAVE_VOICEMAIL = "leave_voicemail"  # message: str | None (said after the beep)
    TRANSFER = "transfer"  # to: E.164, source: TransferSource, mode: TransferMode (message first)
    # A warm transfer's human heard the summary: the caller's stream is about to be moved.
    TRANSFER_BRIDGING = "transfer_bridging"
    # A warm transfer's human was not reached: the agent says so and goes on.
    TRANSFER_NOT_REACHED = "transfer_not_reached"
