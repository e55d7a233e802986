"""Telling a lost media stream from a hang-up at our end of the carrier's WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callwright.domain.end_reasons import EndReason
from callwright.voice.socket_watch import WatchedSocket, disconnect_reason

CALLER_HUNG_UP, MEDIA_STREAM_LOST = EndReason.CALLER_HUNG_UP, EndReason.MEDIA_STREAM_LOST


class ScriptedSocket:
    """An ASGI WebSocket stand-in that hands out scripted messages, then waits forever."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.messages = list(messages)
        self.client_state = "CONNECTED"

    async def receive(self) -> dict[str, Any]:
        if self.messages:
            return self.messages.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def _drain(socket: WatchedSocket) -> dict[str, Any]:
    while (message := await socket.receive())["type"] != "websocket.disconnect":
        pass
    return message


TEXT = {"type": "websocket.receive", "text": '{"event":"media"}'}


@pytest.mark.parametrize(
    ("disconnect", "reason"),
    [
        ({"type": "websocket.disconnect", "code": 1000, "reason": ""}, CALLER_HUNG_UP),
        ({"type": "websocket.disconnect", "code": 1001, "reason": "going away"}, CALLER_HUNG_UP),
        # A close frame that carries no status code: still an orderly close.
        ({"type": "websocket.disconnect", "code": 1005, "reason": ""}, CALLER_HUNG_UP),
        # The connection cut with no close frame, as uvicorn's two WebSocket protocols report it.
        ({"type": "websocket.disconnect", "code": 1006}, MEDIA_STREAM_LOST),
        ({"type": "websocket.disconnect", "code": 1006, "reason": ""}, MEDIA_STREAM_LOST),
        ({"type": "websocket.disconnect", "code": 1005}, MEDIA_STREAM_LOST),
    ],
)
async def test_how_the_socket_closed_decides_the_reason(disconnect, reason):
    socket = WatchedSocket(ScriptedSocket(TEXT, disconnect), idle_timeout_secs=5)  # type: ignore[arg-type]
    assert await _drain(socket) == disconnect
    assert disconnect_reason(socket) == reason


async def test_a_silent_socket_is_lost_after_the_idle_timeout():
    socket = WatchedSocket(ScriptedSocket(TEXT), idle_timeout_secs=0.05)  # type: ignore[arg-type]
    assert (await socket.receive()) == TEXT
    assert (await socket.receive())["type"] == "websocket.disconnect"
    assert disconnect_reason(socket) == MEDIA_STREAM_LOST


def test_everything_else_passes_through():
    inner = ScriptedSocket()
    assert WatchedSocket(inner, idle_timeout_secs=1).client_state == "CONNECTED"  # type: ignore[arg-type]
    assert disconnect_reason(object()) == CALLER_HUNG_UP
