"""The commands one process sends to the call's media session in another (``services.call_control``).

Each is a method of the media session taking keyword arguments that travel as JSON.
"""

from __future__ import annotations

from enum import StrEnum


class ControlCommand(StrEnum):
    END = "end"  # reason: EndReason
    SPEAK_THEN_END = "speak_then_end"  # text, reason: EndReason
    LEAVE_VOICEMAIL = "leave_voicemail"  # message: str | None (said after the beep)
    TRANSFER = "transfer"  # to: E.164, source: TransferSource (said message first, then the carrier)
