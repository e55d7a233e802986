"""A stand-in for the platform's media route, served by uvicorn on a free port.

Like the real route it accepts the socket, reads the carrier's messages up to ``start``, builds
Pipecat's serializer for the carrier with auto hang-up off, and runs a ``CallMediaSession``. The
test decides the script per call id and reads the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, WebSocket
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.exotel import ExotelFrameSerializer
from pipecat.serializers.plivo import PlivoFrameSerializer
from pipecat.serializers.twilio import TwilioFrameSerializer

from callwright.voice.legs import CarrierSocketLeg
from callwright.voice.session import AgentScript, CallMediaSession, MediaOutcome

EXOTEL_PACKET_BYTES = 3200


def carrier_serializer(provider: str, start: dict[str, Any]) -> tuple[str, FrameSerializer]:
    """The call id our answer document passed in, and the carrier's serializer."""
    body = start["start"]
    if provider == "twilio":
        call_id = body["customParameters"]["call_id"]
        params = TwilioFrameSerializer.InputParams(auto_hang_up=False)
        return call_id, TwilioFrameSerializer(body["streamSid"], body["callSid"], params=params)
    if provider == "plivo":
        call_id = start["extra_headers"].removeprefix("call_id=")
        params = PlivoFrameSerializer.InputParams(auto_hang_up=False)
        return call_id, PlivoFrameSerializer(body["streamId"], body["callId"], params=params)
    call_id = body["custom_parameters"]["call_id"]
    return call_id, ExotelFrameSerializer(body["stream_sid"], body["call_sid"])


@dataclass
class CallRecord:
    session: CallMediaSession
    outcome: asyncio.Future[MediaOutcome]
    run_returned_at: float | None = None
    first_audio_callback: list[Any] = field(default_factory=list)


@dataclass
class MediaServer:
    port: int = 0
    scripts: dict[str, AgentScript] = field(default_factory=dict)
    # For calls nobody announced with expect() (the benchmark dials from another process).
    script_for: Callable[[str], AgentScript] | None = None
    calls: dict[str, CallRecord] = field(default_factory=dict)
    on_first_audio: dict[str, Callable[[CallMediaSession], Awaitable[None]]] = field(
        default_factory=dict
    )
    _arrived: dict[str, asyncio.Event] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/media"

    def expect(self, call_id: str, script: AgentScript) -> None:
        self.scripts[call_id] = script
        self._arrived[call_id] = asyncio.Event()

    # The timeouts only guard against a hang: on a loaded machine a call may take a while.
    async def call(self, call_id: str, timeout: float = 30) -> CallRecord:
        await asyncio.wait_for(self._arrived[call_id].wait(), timeout)
        return self.calls[call_id]

    async def outcome(self, call_id: str, timeout: float = 30) -> MediaOutcome:
        record = await self.call(call_id, timeout)
        return await asyncio.wait_for(asyncio.shield(record.outcome), timeout)

    def intro_spoken(self, call_id: str) -> Callable[[], bool]:
        """Whether the call's session has handed its whole intro to the carrier: an event, where
        a pause in the audio the caller hears may be no more than a slow machine."""
        return lambda: call_id in self.calls and self.calls[call_id].session.intro_spoken

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.websocket("/media/{provider}")
        async def media(websocket: WebSocket, provider: str) -> None:
            await websocket.accept()
            while (message := json.loads(await websocket.receive_text()))["event"] != "start":
                pass
            call_id, serializer = carrier_serializer(provider, message)

            async def first_audio(at: Any) -> None:
                self.calls[call_id].first_audio_callback.append(at)
                if call_id in self.on_first_audio:
                    await self.on_first_audio[call_id](self.calls[call_id].session)

            leg = CarrierSocketLeg(
                websocket,
                serializer=serializer,
                audio_out_packet_bytes=EXOTEL_PACKET_BYTES if provider == "exotel" else None,
            )
            session = CallMediaSession(
                leg,
                script=self.scripts.get(call_id) or self.script_for(call_id),
                on_first_agent_audio=first_audio,
            )
            record = CallRecord(session, asyncio.get_running_loop().create_future())
            self.calls[call_id] = record
            self._arrived.setdefault(call_id, asyncio.Event()).set()
            outcome = await session.run()
            record.run_returned_at = time.monotonic()
            record.outcome.set_result(outcome)

        return app


@contextlib.asynccontextmanager
async def serving(server: MediaServer, app: FastAPI | None = None) -> AsyncIterator[MediaServer]:
    config = uvicorn.Config(
        app or server.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    runner = uvicorn.Server(config)
    task = asyncio.create_task(runner.serve())
    while not runner.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    server.port = runner.servers[0].sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        runner.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), 5)
        except TimeoutError:  # a session that never ended holds its connection open
            runner.force_exit = True
            await task
