"""Keeping the standalone simulator's own garbage collector from stalling its timestamps.

The simulator is a measuring instrument: it stamps each agent audio message as it arrives, and
benchmarks read frame gaps from those stamps. With 50 calls it keeps a few hundred thousand
records (every message, every chunk heard), and a full collection walking them stopped its event
loop for ~100 ms: every call then showed the same 100 ms "gap" at once, charged to the platform.

So while calls are up, what is alive is frozen out of the collector's view once a second
(``gc.freeze`` is constant-time); young collections still run. When no call is up, everything is
thawed and collected, so finished calls' cycles do not pile up. Only ``callwright sim serve``
does this: the freeze is process-wide, and a simulator inside a test process must not change
that process's collector.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

FREEZE_EVERY_SECS = 1.0


async def keep_collector_off_the_clock(live_calls: Callable[[], int]) -> None:
    while True:
        await asyncio.sleep(FREEZE_EVERY_SECS)
        if live_calls():
            gc.freeze()
        elif gc.get_freeze_count():
            gc.unfreeze()
            gc.collect()
