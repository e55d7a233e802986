"""Conference rooms, and the order in which things happened across calls (for warm transfer).

A room is named by the account that runs it (Plivo: "room names are mapped to a user account";
Twilio: "namespaced to your account"). A call in a room stays until it hangs up or the room ends;
a member with ``endConferenceOnExit`` ends the room for everyone when it leaves, and each other
member's document then goes on with its next verb.

``Timeline`` keeps, for every call, what the carrier said on it (``<Speak>``/``<Say>``) and when
it joined or left a room, in the one order they happened in: a test can check that the human
heard the summary before the caller was bridged without comparing clocks.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callwright.sim.farend.base import FarEnd

SAID = "said"
JOINED = "conference_joined"
LEFT = "conference_left"


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    seq: int
    call_id: str
    kind: str  # said | conference_joined | conference_left
    detail: str  # the words said, or the room's name


class Timeline:
    """Written on the simulator's loop, read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[TimelineEvent] = []

    def add(self, call_id: str, kind: str, detail: str) -> None:
        with self._lock:
            self._events.append(TimelineEvent(len(self._events), call_id, kind, detail))

    def events(self, *, call_id: str | None = None) -> list[TimelineEvent]:
        with self._lock:
            return [e for e in self._events if call_id is None or e.call_id == call_id]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


@dataclass
class Room:
    name: str
    members: list[str] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class Conferences:
    """The rooms on the simulator's loop, by (carrier, account, name)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self._rooms: dict[tuple[str, str, str], Room] = {}

    async def attend(self, far_end: FarEnd, name: str, *, end_on_exit: bool) -> None:
        """Be in the room ``name`` until the call ends or the room does."""
        key = (far_end.carrier, far_end.account.account_id, name)
        room = self._rooms.get(key)
        if room is None or room.ended.is_set():
            room = self._rooms[key] = Room(name)
        call_id = far_end.call.call_id
        room.members.append(call_id)
        far_end.call.conferences.append(name)
        self.timeline.add(call_id, JOINED, name)
        waits = {asyncio.ensure_future(room.ended.wait()), asyncio.ensure_future(far_end.ending.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            room.members.remove(call_id)
            self.timeline.add(call_id, LEFT, name)
            if end_on_exit or not room.members:
                room.ended.set()
            if room.ended.is_set() and self._rooms.get(key) is room:
                del self._rooms[key]
