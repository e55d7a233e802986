"""The media WebSocket of an answered call, as the carrier runs it.

The carrier dials the platform's WebSocket, sends its opening messages, then the caller's audio in
real time (ready-made payloads on an absolute 20 ms clock) while it plays the agent's audio out on
the call's playout clock, acknowledging marks as their audio is heard. Each carrier's subclass
supplies the message shapes; this module owns the timing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.protocol import State

from callwright.sim.audio import SPEECH_RMS, AudioFormat, Pcm, rms
from callwright.sim.calls import AgentMessage, ClearRecord, EndReason
from callwright.sim.playout import Cleared
from callwright.sim.scenarios import DtmfPress

if TYPE_CHECKING:
    from callwright.sim.farend.base import FarEnd

log = logging.getLogger("callwright.sim")

TICK_SECS = 0.02
# Event loops (uvloop: millisecond timers) may wake a little early; a frame due within this much
# goes out on this tick rather than 20 ms late on the next.
WAKE_SLACK_SECS = 0.003
OPEN_TIMEOUT_SECS = 10.0
MAX_MESSAGE_BYTES = 4 * 2**20


class StreamEnd(StrEnum):
    CALL_ENDED = "call_ended"  # the call ended (hang-up, time limit…) while the stream ran
    AGENT_CLOSED = "agent_closed"  # the platform closed the socket (or stopped the stream)
    NOT_OPENED = "not_opened"  # the WebSocket handshake failed


class MediaStream(ABC):
    def __init__(
        self, far_end: FarEnd, *, url: str, fmt: AudioFormat, headers: dict[str, str] | None = None
    ) -> None:
        self.far_end = far_end
        self.call = far_end.call
        self.url = url
        self.fmt = fmt
        self.headers = headers or {}
        self.sequence = 0
        self.ws: ClientConnection | None = None
        self.agent_stopped = False
        self.stalled = False  # the network went quiet: nothing more is sent, the socket stays

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    # --- what each carrier says --------------------------------------------------------------

    @abstractmethod
    def opening(self) -> list[dict[str, Any]]:
        """The messages sent once the socket is open (connected, start)."""

    @abstractmethod
    def media(self, payload: str, chunk: int, timestamp_ms: int) -> dict[str, Any]: ...

    @abstractmethod
    def played(self, name: str) -> dict[str, Any]:
        """The acknowledgement of a mark / checkpoint whose audio has been heard."""

    def dtmf(self, digit: str, timestamp_ms: int) -> dict[str, Any] | None:
        return None

    def closing(self) -> list[dict[str, Any]]:
        """Sent before the carrier closes the socket at the end of the call (Twilio's stop)."""
        return []

    @abstractmethod
    async def on_message(self, message: dict[str, Any]) -> None:
        """One message from the agent (already recorded by event name)."""

    # --- helpers for subclasses --------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    def decode(self, payload: Any) -> bytes | None:
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, TypeError, ValueError):
            self.call.notes.append("agent sent a media payload that is not base64")
            return None

    def play(self, audio: bytes, fmt: AudioFormat | None = None) -> None:
        pcm: Pcm = (fmt or self.fmt).decode(audio)
        now = self.call.now()
        heard = self.call.playout.play(pcm, now)
        audible = rms(pcm) > SPEECH_RMS
        self.call.agent_audio_arrivals.append((now, audible))
        if audible:
            self.call.agent_heard_until = heard.ends_at

    def mark(self, name: str) -> None:
        self.call.playout.mark(name, self.call.now())

    def clear(self) -> Cleared:
        now = self.call.now()
        cleared = self.call.playout.clear(now)
        onset = self.call.speech_onset_before(now)
        after = None if onset is None else now - onset
        self.call.clears.append(ClearRecord(now, cleared.dropped_secs, onset, after))
        return cleared

    async def leave(self) -> None:
        """The call moves on to other instructions (a transfer): the carrier ends the stream as it
        does at a call's end (Twilio's stop), then closes the socket."""
        if self.ws is None:
            return
        self.agent_stopped = True
        try:
            for message in self.closing():
                await self.send(message)
        except ConnectionClosed:
            pass
        await self.ws.close()

    # --- network faults (called on the simulator's loop) -------------------------------------

    def drop(self) -> None:
        """The connection breaks: the TCP connection is cut with no close frame and no stop."""
        if self.ws is not None and self.ws.transport is not None:
            self.call.notes.append("media connection dropped (simulated network fault)")
            self.ws.transport.abort()

    def stall(self) -> None:
        """The network goes silent: no more frames leave, the socket is never closed by us."""
        self.call.notes.append("media stream stalled (simulated network fault)")
        self.stalled = True

    # --- running the stream ------------------------------------------------------------------

    async def run(self) -> StreamEnd:
        """Open the socket and stream until the call ends or the platform closes it."""
        self.call.stream_url = self.url
        try:
            self.ws = await connect(
                self.url,
                additional_headers=self.headers,
                compression=None,
                max_size=MAX_MESSAGE_BYTES,
                open_timeout=OPEN_TIMEOUT_SECS,
                close_timeout=2,
                ping_interval=None,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.call.notes.append(f"media WebSocket {self.url} did not open: {exc!r}")
            return StreamEnd.NOT_OPENED
        self.call.media_stream = self
        try:
            for message in self.opening():
                await self.send(message)
            self.call.media_started_at = self.call.now()
            clock = asyncio.create_task(self._clock())
            listener = asyncio.create_task(self._listen())
            await asyncio.wait({clock, listener}, return_when=asyncio.FIRST_COMPLETED)
            clock.cancel()
            listener.cancel()
            for outcome in await asyncio.gather(clock, listener, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("call %s: media stream broke", self.call.call_id, exc_info=outcome)
                    self.call.notes.append(f"simulator error in the media stream: {outcome!r}")
                    self.far_end.end(EndReason.SIMULATOR_STOPPED)
            if self.agent_stopped or self.ws.state is not State.OPEN:
                return StreamEnd.AGENT_CLOSED
            for message in self.closing():
                await self.send(message)
            return StreamEnd.CALL_ENDED
        except ConnectionClosed:
            return StreamEnd.AGENT_CLOSED
        finally:
            self.call.media_ended_at = self.call.now()
            await self.ws.close()

    async def _clock(self) -> None:
        """Caller frames, DTMF and mark acknowledgements on an absolute clock, to the call's end.

        The caller's audio clock runs from ``audio_clock_at``: stream frame ``n`` holds
        ``[n, n+1) * frame`` and goes out once it has been spoken. The script plays from stream
        frame ``script_at``: the clock's start, or for a caller who waits for the agent, the frame
        after the agent went quiet. The stream starts at the first frame boundary after the socket
        opened; everything before it was never heard.
        """
        call = self.call
        track = call.caller_track
        frames, quiet = track.payloads(self.fmt) if track is not None else ([], "")
        if not quiet:
            quiet = base64.b64encode(self.fmt.encode(_zeros(self.fmt))).decode()
        frame_secs = self.fmt.frame_ms / 1000
        start = call.now()
        origin = call.audio_clock_at if call.audio_clock_at is not None else start
        index = math.ceil((start - origin) / frame_secs - 1e-6)  # the stream frame to send next
        call.stream_frames_from = origin + index * frame_secs
        waits_for_agent = call.scenario.waits_for_agent_secs
        script_at: int | None = None
        if not call.scenario.waits_for_agent:
            script_at = 0
            call.caller_streamed_from = index * frame_secs
        # The script frames holding the last sample of each caller speech, and how much of the
        # frame comes after that sample (a speech ends anywhere inside a frame).
        speech_ends = {
            math.ceil(speech.ends_at / frame_secs - 1e-6) - 1: speech.ends_at
            for speech in (track.speech if track is not None else ())
        }
        presses = self._presses(origin, start) if script_at is not None else []
        # A caller who takes turns (Scenario.takes_turns): the script frames where a later line
        # starts; the script stops there (``paused`` frames so far) until the agent has answered.
        turns = call.scenario.takes_turns and waits_for_agent is not None
        line_starts = {
            math.floor(speech.starts_at / frame_secs + 1e-6) for speech in (track.speech[1:] if track else ())
        } if turns else set()
        paused = 0
        sent = 0
        tick = math.ceil((start - origin) / TICK_SECS - 1e-6)  # ticks fall on frame boundaries
        try:
            while not self.far_end.ending.is_set():
                if self.stalled:  # nothing leaves any more; the call ends some other way
                    await asyncio.sleep(TICK_SECS)
                    continue
                now = call.now()
                if script_at is None and (begins := self._script_begins(now)) is not None:
                    # The frame where the wait ran out. A late loop has frames due before it still
                    # unsent (``index``): they stay quiet, as the caller had not yet begun.
                    script_at = max(index, math.ceil((begins - origin) / frame_secs - 1e-6))
                    call.caller_started_at = origin + script_at * frame_secs
                    call.caller_streamed_from = 0.0
                    presses = self._presses(call.caller_started_at, start)
                while origin + (index + 1) * frame_secs <= now + WAKE_SLACK_SECS:
                    if self._held(origin + (index + 1) * frame_secs, now):
                        break
                    script_frame = -1 if script_at is None else index - script_at - paused
                    if script_frame in line_starts:
                        assert waits_for_agent is not None
                        # Judged at the frame's own start, not the loop's now: a late loop still
                        # sends frames due before the quiet ran out, and they stay quiet.
                        if self._agent_answered(origin + index * frame_secs, waits_for_agent):
                            line_starts.discard(script_frame)
                        else:
                            paused += 1
                            call.pause_script(script_frame * frame_secs, frame_secs)
                            script_frame = -1
                    payload = frames[script_frame] if 0 <= script_frame < len(frames) else quiet
                    await self.send(self.media(payload, sent + 1, int(sent * self.fmt.frame_ms)))
                    if script_frame in speech_ends:
                        due = origin + (index + 1) * frame_secs
                        after = (script_frame + 1) * frame_secs - speech_ends[script_frame]
                        sent_at = call.now()
                        call.caller_speech_sent_at.append(sent_at - after)
                        call.caller_speech_late_secs.append(sent_at - due)
                    index += 1
                    sent += 1
                script_origin = call.caller_started_at
                while presses and script_origin is not None and script_origin + presses[0].at_secs <= now:
                    digit = presses.pop(0).digit
                    message = self.dtmf(digit, int((now - start) * 1000))
                    if message is not None:
                        await self.send(message)
                for name in call.playout.due_marks(now):
                    await self.send(self.played(name))
                tick += 1
                await asyncio.sleep(max(0.0, origin + tick * TICK_SECS - call.now()))
        except ConnectionClosed:
            return

    def _presses(self, script_origin: float, start: float) -> list[DtmfPress]:
        """The script's key presses still to come once the stream runs (earlier ones were lost)."""
        presses = [press for press in self.call.scenario.dtmf if script_origin + press.at_secs >= start]
        return sorted(presses, key=lambda press: press.at_secs)

    def _held(self, due: float, now: float) -> bool:
        """Whether the frame due at ``due`` waits in a network hold (``Scenario.network_hold``):
        frames due within the hold go out together at its end."""
        hold, script_origin = self.call.scenario.network_hold, self.call.caller_started_at
        if hold is None or script_origin is None:
            return False
        starts = script_origin + hold.at_secs
        ends = starts + hold.for_secs
        return starts < due <= ends and now < ends

    def _script_begins(self, now: float) -> float | None:
        """For a script that waits on the agent: the moment it begins, once ``now`` is past it."""
        scenario, call = self.call.scenario, self.call
        if scenario.waits_for_agent_secs is not None:
            if self._agent_went_quiet(now, scenario.waits_for_agent_secs):
                return (call.agent_heard_until or 0.0) + scenario.waits_for_agent_secs
        elif scenario.barges_in_after_secs is not None:
            first = call.first_agent_audio_at
            if first is not None and now >= first + scenario.barges_in_after_secs:
                return first + scenario.barges_in_after_secs
        return None

    def _agent_went_quiet(self, now: float, quiet_secs: float) -> bool:
        heard_until = self.call.agent_heard_until
        return heard_until is not None and now >= heard_until + quiet_secs

    def _agent_answered(self, now: float, quiet_secs: float) -> bool:
        """The agent was heard after the caller's last line went out, and has been quiet since
        for ``quiet_secs``."""
        said = self.call.caller_speech_sent_at
        heard_until = self.call.agent_heard_until
        heard_since = bool(said) and heard_until is not None and heard_until > said[-1]
        return heard_since and self._agent_went_quiet(now, quiet_secs)

    async def _listen(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                now = self.call.now()
                try:
                    message = json.loads(raw)
                    event = str(message["event"])
                except (ValueError, KeyError, TypeError):
                    self.call.notes.append(f"agent sent a non-JSON message: {str(raw)[:200]!r}")
                    continue
                self.call.agent_messages.append(
                    AgentMessage(event, now, _mark_name(message), _payload_bytes(message))
                )
                try:
                    await self.on_message(message)
                except (AttributeError, TypeError, ValueError) as exc:
                    # A message of the right event with fields the carrier could not read.
                    self.call.notes.append(f"agent's {event!r} message is malformed: {exc!r}")
                if self.agent_stopped:
                    return
        except ConnectionClosed:
            return


def _zeros(fmt: AudioFormat) -> Pcm:
    return np.zeros(fmt.frame_samples, dtype=np.int16)


def _payload_bytes(message: dict[str, Any]) -> int:
    media = message.get("media")
    payload = media.get("payload") if isinstance(media, dict) else None
    return len(payload) * 3 // 4 if isinstance(payload, str) else 0


def _mark_name(message: dict[str, Any]) -> str | None:
    mark = message.get("mark")
    if isinstance(mark, dict) and "name" in mark:
        return str(mark["name"])
    name = message.get("name")
    return str(name) if name is not None else None
