"""What the simulator records about each call it places, for tests, the demo and benchmarks.

A ``SimCall`` is written by the simulator's event loop and read from any thread. Every time on it
is in seconds since the carrier received the dial request (``SimCall.now()``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from callwright.sim.audio import SAMPLE_RATE, Pcm, wav_bytes
from callwright.sim.caller import CallerTrack, Speech
from callwright.sim.playout import Playout
from callwright.sim.scenarios import Scenario


class EndReason(StrEnum):
    """Why a call ended, in the simulator's words; each carrier reports it in its own."""

    CALLEE_HUNG_UP = "callee_hung_up"  # the answering party hung up (scenario)
    API_HANGUP = "api_hangup"  # the platform hung up over REST after answer
    CANCELED = "canceled"  # the platform hung up over REST before answer
    STREAM_CLOSED = "stream_closed"  # the platform closed the media socket; no more instructions
    ANSWER_HANGUP = "answer_hangup"  # the answer document said hang up
    ANSWER_FAILED = "answer_failed"  # the answer URL failed or returned nothing usable
    TIME_LIMIT = "time_limit"
    MACHINE_HANGUP = "machine_hangup"  # AMD with "hangup" found a machine
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    SIMULATOR_STOPPED = "simulator_stopped"


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: str  # the carrier's word
    at: float


@dataclass(slots=True)
class CallbackRecord:
    """One request the carrier made to the platform, and how the platform answered."""

    kind: str  # ring, answer, hangup, status, machine, stream, webhook
    method: str
    url: str
    params: dict[str, Any]
    headers: dict[str, str]
    sent_at: float
    status_code: int | None = None  # None: no answer (error or timeout)
    error: str | None = None
    body: str = ""  # the platform's answer, cut to 4 KB
    answered_at: float | None = None


@dataclass(frozen=True, slots=True)
class AgentMessage:
    """A WebSocket message from the agent (payloads are decoded into the playout, not kept here)."""

    event: str
    at: float
    name: str | None = None  # mark / checkpoint name
    payload_bytes: int = 0


@dataclass(frozen=True, slots=True)
class ClearRecord:
    at: float
    dropped_secs: float
    # The last caller speech onset before the clear, and the clear's delay after it.
    speech_onset_at: float | None
    after_onset_secs: float | None


@dataclass
class DialLeg:
    """One ``<Dial>`` to a human: whom, how it went in the carrier's words, when (call clock)."""

    to: str
    status: str | None = None  # Plivo's DialStatus / Twilio's DialCallStatus once it is over
    started_at: float = 0.0
    answered_at: float | None = None
    ended_at: float | None = None


@dataclass
class SimCall:
    carrier: str
    call_id: str  # the id the platform got from the dial response
    account_id: str
    to: str
    from_: str
    dial: dict[str, Any]  # the dial request as received (an inbound call: what started it)
    scenario: Scenario
    # "outbound": the platform dialled ``to``; "inbound": ``from_`` called the platform's ``to``,
    # and ``scenario`` is what the caller does.
    direction: str = "outbound"
    created_wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    t0: float = field(default_factory=time.monotonic)
    aliases: set[str] = field(default_factory=set)  # other ids: Plivo's CallUUID, stream ids…
    statuses: list[StatusChange] = field(default_factory=list)
    callbacks: list[CallbackRecord] = field(default_factory=list)
    agent_messages: list[AgentMessage] = field(default_factory=list)
    clears: list[ClearRecord] = field(default_factory=list)
    # Timing, for benchmarks (sim.timing): when the last sample of each caller speech went out
    # (its frame's send time, less the rest of that frame), and when each agent audio message
    # arrived and whether it was audible.
    caller_speech_sent_at: list[float] = field(default_factory=list)
    # How late each of those frames went out after it was due (the sending loop's lag; at least
    # -WAKE_SLACK_SECS): a sent time less its lateness is the speech's end, to the sample.
    caller_speech_late_secs: list[float] = field(default_factory=list)
    agent_audio_arrivals: list[tuple[float, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # protocol breaches and oddities seen
    media_violations: list[str] = field(default_factory=list)  # Exotel chunk-size rule breaches
    playout: Playout = field(default_factory=Playout)
    answer_document: str | None = None
    stream_url: str | None = None
    stream_id: str | None = None
    # The caller's audio clock runs from audio_clock_at (the answer, plus under a frame of phase).
    # The caller's script starts at caller_started_at: the same moment, or, for a caller who waits
    # for the agent (Scenario.waits_for_agent_secs), the frame after the agent went quiet; for one
    # who barges in (Scenario.barges_in_after_secs), the frame after it heard the agent that long.
    # The stream carries the script from caller_streamed_from seconds in: what was said before is lost.
    caller_track: CallerTrack | None = None
    audio_clock_at: float | None = None
    caller_started_at: float | None = None
    # Where the script stopped for the agent (Scenario.takes_turns): [script secs, stopped secs].
    script_pauses: list[list[float]] = field(default_factory=list)
    agent_heard_until: float | None = None  # when the last audible agent audio finished playing
    caller_streamed_from: float | None = None
    # The moment (call clock) the stream's first caller frame holds: the stream carries frames back
    # to back from there, and the platform hears them so.
    stream_frames_from: float | None = None
    media_started_at: float | None = None
    media_ended_at: float | None = None
    ringing_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: EndReason | None = None
    hangup_cause: str | None = None  # the carrier's words
    hangup_source: str | None = None
    machine_result: str | None = None  # the AMD verdict sent, in the carrier's words
    # A transfer: each <Dial> the call ran, the keys the platform pressed on the line (Plivo's and
    # Vobiz's DTMF resource), what the carrier itself said (<Speak>, <Say>), and the conference
    # rooms it joined (their order against other calls: ``SimState.timeline``).
    dials: list[DialLeg] = field(default_factory=list)
    dtmf_sent: list[str] = field(default_factory=list)
    carrier_said: list[str] = field(default_factory=list)
    conferences: list[str] = field(default_factory=list)  # the rooms it joined, in order
    ended: threading.Event = field(default_factory=threading.Event)
    far_end: Any = field(default=None, repr=False)  # the carrier's far end that played the call
    media_stream: Any = field(default=None, repr=False)  # its media WebSocket, once opened

    def now(self) -> float:
        return time.monotonic() - self.t0

    def wall(self, at: float | None) -> datetime | None:
        """A time on the call's clock as a UTC datetime."""
        if at is None:
            return None
        return datetime.fromtimestamp(self.created_wall.timestamp() + at, UTC)

    @property
    def status(self) -> str | None:
        return self.statuses[-1].status if self.statuses else None

    def set_status(self, status: str) -> None:
        self.statuses.append(StatusChange(status, self.now()))

    def callbacks_of(self, kind: str) -> list[CallbackRecord]:
        return [record for record in list(self.callbacks) if record.kind == kind]

    def agent_events(self, event: str | None = None) -> list[AgentMessage]:
        return [m for m in list(self.agent_messages) if event is None or m.event == event]

    # --- the caller's speech and the agent's audio ---

    def pause_script(self, at_secs: float, secs: float) -> None:
        """The script stopped ``secs`` more at ``at_secs`` into it (a caller taking turns)."""
        if self.script_pauses and self.script_pauses[-1][0] == at_secs:
            self.script_pauses[-1][1] += secs
        else:
            self.script_pauses.append([at_secs, secs])

    def _paused_before(self, script_secs: float) -> float:
        # A pause sits on the frame where its line starts: at or (but for rounding) before it.
        return sum(secs for at, secs in self.script_pauses if at <= script_secs + 1e-6)

    def _script_pcm(self) -> np.ndarray:
        """The caller's track as it went out: silence where the script stopped for the agent."""
        assert self.caller_track is not None
        pcm = self.caller_track.pcm
        if not self.script_pauses:
            return pcm
        parts, cursor = [], 0
        for at, secs in self.script_pauses:
            cut = round(at * SAMPLE_RATE)
            parts += [pcm[cursor:cut], np.zeros(round(secs * SAMPLE_RATE), dtype=pcm.dtype)]
            cursor = cut
        parts.append(pcm[cursor:])
        return np.concatenate(parts)

    def caller_speech(self) -> list[Speech]:
        """When the answering party spoke (its script runs from ``caller_started_at``), on the
        call's clock; cut at the end of the media stream."""
        if self.caller_track is None or self.caller_started_at is None:
            return []
        origin, end = self.caller_started_at, self.media_ended_at or self.ended_at
        spoken = []
        for speech in self.caller_track.speech:
            shift = self._paused_before(speech.starts_at)
            starts, ends = origin + shift + speech.starts_at, origin + shift + speech.ends_at
            if end is not None and starts >= end:
                break
            spoken.append(Speech(speech.label, starts, ends if end is None else min(ends, end)))
        return spoken

    def speech_onset_before(self, at: float) -> float | None:
        onsets = [speech.starts_at for speech in self.caller_speech() if speech.starts_at <= at]
        return onsets[-1] if onsets else None

    @property
    def first_agent_audio_at(self) -> float | None:
        """When the caller first heard a non-silent agent frame."""
        return self.playout.first_sound_at()

    def agent_audio(self) -> Pcm:
        """What the caller heard from the agent, from the start of the media stream to its end."""
        origin = self.media_started_at or 0.0
        until = self.media_ended_at if self.media_ended_at is not None else self.now()
        return self.playout.render(origin, max(until, origin))

    def caller_audio(self) -> Pcm:
        """What the agent heard from the caller over the same span (silence after the script)."""
        length = len(self.agent_audio())
        track = np.zeros(length, dtype=np.int16)
        if self.caller_track is not None and self.caller_streamed_from is not None:
            # A caller who waited for the agent starts its script after the stream began.
            lead = 0
            waited = self.scenario.waits_for_agent
            if waited and self.caller_started_at is not None and self.stream_frames_from is not None:
                # Where the script's first frame is in the stream (a frame is 20 ms, or Exotel's 200).
                lead = min(length, max(0, round((self.caller_started_at - self.stream_frames_from) * SAMPLE_RATE)))
            skip = round(self.caller_streamed_from * SAMPLE_RATE)
            script = self._script_pcm()[skip : skip + length - lead]
            track[lead : lead + len(script)] = script
        return track

    def wav(self, *, both_sides: bool = True) -> bytes:
        """A WAV of the call: stereo (caller left, agent right, aligned) or the agent alone."""
        agent = self.agent_audio()
        return wav_bytes([self.caller_audio(), agent] if both_sides else [agent])

    def save_wav(self, path: str | Path, *, both_sides: bool = True) -> Path:
        path = Path(path)
        path.write_bytes(self.wav(both_sides=both_sides))
        return path

    # --- a plain view, for the control API and logs ---

    def summary(self) -> dict[str, Any]:
        agent_secs = sum(len(chunk.pcm) for chunk in self.playout.heard()) / SAMPLE_RATE
        return {
            "carrier": self.carrier,
            "call_id": self.call_id,
            "aliases": sorted(self.aliases),
            "account_id": self.account_id,
            "to": self.to,
            "from": self.from_,
            "dial": self.dial,
            "scenario": self.scenario.model_dump(mode="json"),
            "created_at": self.created_wall.isoformat(),
            "status": self.status,
            "statuses": [{"status": s.status, "at": s.at} for s in list(self.statuses)],
            "ringing_at": self.ringing_at,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "ended": self.ended.is_set(),
            "end_reason": self.end_reason,
            "hangup_cause": self.hangup_cause,
            "hangup_source": self.hangup_source,
            "machine_result": self.machine_result,
            "answer_document": self.answer_document,
            "stream_url": self.stream_url,
            "stream_id": self.stream_id,
            "media_started_at": self.media_started_at,
            "media_ended_at": self.media_ended_at,
            "callbacks": [_callback_view(record) for record in list(self.callbacks)],
            "agent_messages": [
                {"event": m.event, "at": m.at, "name": m.name, "payload_bytes": m.payload_bytes}
                for m in list(self.agent_messages)
            ],
            "agent_audio_secs": agent_secs,
            "first_agent_audio_at": self.first_agent_audio_at,
            "caller_speech": [
                {"label": s.label, "starts_at": s.starts_at, "ends_at": s.ends_at}
                for s in self.caller_speech()
            ],
            "clears": [
                {
                    "at": c.at,
                    "dropped_secs": c.dropped_secs,
                    "speech_onset_at": c.speech_onset_at,
                    "after_onset_secs": c.after_onset_secs,
                }
                for c in list(self.clears)
            ],
            "media_violations": list(self.media_violations),
            "notes": list(self.notes),
        }


def _callback_view(record: CallbackRecord) -> dict[str, Any]:
    return {
        "kind": record.kind,
        "method": record.method,
        "url": record.url,
        "params": record.params,
        "headers": record.headers,
        "sent_at": record.sent_at,
        "status_code": record.status_code,
        "error": record.error,
        "answered_at": record.answered_at,
    }


class CallBook:
    """Every call placed, by each of its ids; the oldest ended calls go past ``max_calls``."""

    def __init__(self, *, max_calls: int = 500) -> None:
        self._lock = threading.Lock()
        self._calls: OrderedDict[str, SimCall] = OrderedDict()  # by call_id, oldest first
        self._ids: dict[str, SimCall] = {}
        self.max_calls = max_calls
        self.added = threading.Condition(self._lock)

    def add(self, call: SimCall) -> None:
        with self._lock:
            self._calls[call.call_id] = call
            self._ids[call.call_id] = call
            self._evict()
            self.added.notify_all()

    def alias(self, call: SimCall, other_id: str) -> None:
        with self._lock:
            call.aliases.add(other_id)
            self._ids[other_id] = call

    def get(self, call_id: str) -> SimCall | None:
        with self._lock:
            return self._ids.get(call_id)

    def all(self) -> list[SimCall]:
        with self._lock:
            return list(self._calls.values())

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._ids.clear()

    def _evict(self) -> None:
        excess = len(self._calls) - self.max_calls
        for call_id, call in list(self._calls.items()):
            if excess <= 0:
                break
            if call.ended.is_set():
                del self._calls[call_id]
                for other in (call.call_id, *call.aliases):
                    self._ids.pop(other, None)
                excess -= 1
