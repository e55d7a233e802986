"""CallMediaSession rules that need no carrier on the line."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pipecat.serializers.twilio import TwilioFrameSerializer
from starlette.websockets import WebSocketState

from callwright.voice.legs import CarrierSocketLeg
from callwright.voice.session import AgentScript, CallMediaSession
from tests.voice.conftest import INTRO, VOICE


def session(**kwargs: object) -> CallMediaSession:
    closed_socket = SimpleNamespace(
        headers={},
        client_state=WebSocketState.DISCONNECTED,
        application_state=WebSocketState.DISCONNECTED,
    )
    serializer = TwilioFrameSerializer(
        "MZ1", "CA1", params=TwilioFrameSerializer.InputParams(auto_hang_up=False)
    )
    leg = CarrierSocketLeg(closed_socket, serializer=serializer, **kwargs)  # type: ignore[arg-type]
    return CallMediaSession(leg, script=AgentScript(INTRO, VOICE))


async def test_a_session_ended_before_it_runs_returns_at_once_without_speaking() -> None:
    call = session()
    await call.end()
    outcome = await call.run()
    assert outcome.end_reason == "ended_by_platform"
    assert outcome.first_agent_audio_at is None
    assert not outcome.intro_spoken


async def test_run_can_only_be_called_once() -> None:
    call = session()
    await call.end("ended_by_platform")
    await call.run()
    with pytest.raises(RuntimeError, match="only be called once"):
        await call.run()


def test_an_audio_packet_size_the_carrier_cannot_take_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="multiple of 160"):
        session(audio_out_packet_bytes=3000)
