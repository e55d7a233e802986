"""Pipecat logs through loguru; Callwright logs through the stdlib. This routes the one into the other.

Pipecat's default loguru handler prints DEBUG lines to stderr (several per call, some per utterance,
some quoting the text being spoken). We replace it with one sink that forwards WARNING and above to
the stdlib logger ``callwright.voice.pipecat``, so a normal call logs nothing and the operator's
logging configuration applies. Messages are cut short: a few Pipecat warnings quote the raw
WebSocket message, which can carry base64 audio.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from loguru import logger as _loguru

if TYPE_CHECKING:
    from loguru import Message

PIPECAT_LOG = logging.getLogger("callwright.voice.pipecat")
MAX_MESSAGE_CHARS = 300

# Warnings Pipecat logs on an ordinary hang-up: the carrier closed the socket while an audio frame
# was on its way out (FastAPIWebsocketClient.send). Logged at DEBUG instead.
HANG_UP_NOISE = (
    "exception sending data: WebSocketDisconnect",
    "exception sending data: ClientDisconnected",
)

_handler_id: int | None = None


def _forward(message: Message) -> None:
    record = message.record
    level = record["level"].no
    text = record["message"]
    if level >= logging.WARNING and any(noise in text for noise in HANG_UP_NOISE):
        level = logging.DEBUG
    if not PIPECAT_LOG.isEnabledFor(level):
        return
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "…"
    exception = record["exception"]
    exc_info = exception.value if exception else None
    PIPECAT_LOG.log(level, "%s (%s)", text, record["name"], exc_info=exc_info)


def route_pipecat_logs(level: str = "WARNING") -> None:
    """Send Pipecat's loguru records at ``level`` and above to the stdlib; idempotent.

    Loguru drops a record below every handler's level before formatting it, so the DEBUG calls
    in Pipecat's per-frame paths cost next to nothing once this is installed.
    """
    global _handler_id
    if _handler_id is not None:
        _loguru.remove(_handler_id)
    else:
        try:
            _loguru.remove(0)  # loguru's default stderr handler, present unless someone removed it
        except ValueError:
            pass
    # diagnose=False: loguru's diagnostics print local variables, which may hold tokens.
    _handler_id = _loguru.add(
        _forward, level=level, format="{message}", backtrace=False, diagnose=False
    )
