"""The carrier's media WebSocket, watched for a stream that is lost rather than ended.

What can be told apart at our end of the socket:

- an orderly end: the carrier sends a close frame (Plivo and Vobiz end every call this way; Twilio
  and Exotel send ``stop`` first), and the ASGI server reports the frame's code (1000, 1001…);
- a broken connection: the TCP connection is cut with no close frame (the carrier's media server
  died, a proxy or NAT dropped it). uvicorn's legacy ``websockets`` protocol reports code 1006,
  "abnormal closure"; its default sans-I/O protocol reports 1005 and, unlike for a received close
  frame, no ``reason`` field (uvicorn 0.3x, ``websockets_sansio_impl.connection_lost``);
- a silent connection: nothing arrives at all. Carriers stream audio the whole call (a frame every
  20 ms; Exotel every 100 ms), so a socket silent for ``idle_timeout_secs`` is a lost stream even
  though no one closed it (a half-open connection after a network partition).

The last two end the call with ``EndReason.MEDIA_STREAM_LOST`` instead of ``CALLER_HUNG_UP``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, MutableMapping
from typing import Any

from fastapi import WebSocket

from callwright.domain.end_reasons import EndReason

ABNORMAL_CLOSURE = 1006
NO_STATUS_RECEIVED = 1005


class WatchedSocket:
    """Wraps the accepted WebSocket; everything but ``receive`` passes straight through."""

    def __init__(self, websocket: WebSocket, *, idle_timeout_secs: float) -> None:
        self._websocket = websocket
        self._idle_timeout_secs = idle_timeout_secs
        self.lost = False  # the connection broke or went silent (vs. an orderly close)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._websocket, name)

    async def receive(self) -> MutableMapping[str, Any]:
        try:
            async with asyncio.timeout(self._idle_timeout_secs):
                message = await self._websocket.receive()
        except TimeoutError:
            self.lost = True
            # Reported to the reader as the end of the stream; closing our side is the session's.
            return {"type": "websocket.disconnect", "code": ABNORMAL_CLOSURE}
        if message["type"] == "websocket.disconnect" and _connection_cut(message):
            self.lost = True
        return message


def _connection_cut(message: Mapping[str, Any]) -> bool:
    code = message.get("code")
    return code == ABNORMAL_CLOSURE or (code == NO_STATUS_RECEIVED and "reason" not in message)


def disconnect_reason(websocket: object) -> EndReason:
    """Why the carrier's side of the stream went away: lost, or an orderly hang-up."""
    return EndReason.MEDIA_STREAM_LOST if getattr(websocket, "lost", False) else EndReason.CALLER_HUNG_UP
