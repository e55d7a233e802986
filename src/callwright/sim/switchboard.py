"""The live calls on the simulator's event loop: their far ends, and the one callback transport
they share. The REST routes start and hang up calls through it; other threads go through
``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from callwright.sim.conference import Conferences
from callwright.sim.state import SimState
from callwright.sim.transport import CallbackTransport, default_transport

if TYPE_CHECKING:
    from callwright.sim.farend.base import FarEnd

log = logging.getLogger("callwright.sim")

CALLBACK_TIMEOUT_SECS = 10.0


class Switchboard:
    def __init__(
        self,
        state: SimState,
        *,
        callback_timeout_secs: float = CALLBACK_TIMEOUT_SECS,
        transport: CallbackTransport | None = None,
    ) -> None:
        self.state = state
        self.callback_timeout_secs = callback_timeout_secs
        self.transport = transport or default_transport()
        self.conferences = Conferences(state.timeline)
        self._live: dict[str, FarEnd] = {}  # by the call's primary id
        self._tasks: set[asyncio.Task[Any]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, far_end: FarEnd) -> None:
        """Play the far end of a call just dialed, in its own task."""
        self.loop = asyncio.get_running_loop()
        self._live[far_end.call.call_id] = far_end
        task = self.loop.create_task(far_end.run(), name=f"sim-call-{far_end.call.call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def live(self, call_id: str) -> FarEnd | None:
        """The far end of a call still up, by any of the call's ids."""
        call = self.state.calls.get(call_id)
        return self._live.get(call.call_id) if call is not None else None

    def forget(self, far_end: FarEnd) -> None:
        self._live.pop(far_end.call.call_id, None)

    def live_count(self) -> int:
        return len(self._live)

    def caller_hangs_up_threadsafe(self, call_id: str) -> bool:
        """From any thread: the answering party hangs up now. False if the call is not up."""
        far_end, loop = self.live(call_id), self.loop
        if far_end is None or loop is None:
            return False
        loop.call_soon_threadsafe(far_end.caller_hangs_up)
        return True

    async def close(self) -> None:
        """End every live call (their final callbacks still go out, briefly), then the transport."""
        for far_end in list(self._live.values()):
            far_end.end_for_shutdown()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.transport.close()
