"""Keeping Python's full garbage collections short while calls are up.

A full collection stops the process's event loop for as long as it takes to walk every object the
collector tracks, and every call in the process waits: its audio goes out late. What start-up
loaded is frozen out of the collector's view (``settle_after_start_up``). What the first calls
leave behind for good is not, and it is large: modules and classes Pipecat loads on first use,
compiled queries, caches — about 35k objects in a worker after its first 10 calls (2-core box),
more than ten calls' own objects. Each full collection during later calls walked them again: 25-45 ms
at 10-25 calls a worker, where no call's audio went out.

So whenever a process has no call up (``settle_when_idle``), it collects the calls' garbage and
freezes what survives: the next full collections walk only the objects of the calls then up.
Objects frozen while alive that later end up in reference cycles are not reclaimed while frozen,
so at most once every ``THAW_EVERY_SECS`` an idle process thaws everything and collects it all
first (150-250 ms on the 2-core box, with no call to delay).
"""

from __future__ import annotations

import gc
import time

SETTLE_EVERY_SECS = 5.0  # an idle moment settles the collector at most this often
THAW_EVERY_SECS = 3600.0

_settled_at: float | None = None
_thawed_at = time.monotonic()


def settle_after_start_up() -> None:
    """Freeze what start-up loaded, after collecting the garbage it left (which freezing would
    otherwise keep for good)."""
    gc.collect()
    gc.freeze()


def settle_when_idle(*, now: float | None = None) -> bool:
    """The process has no call up: collect and freeze, unless it did less than
    ``SETTLE_EVERY_SECS`` ago. Whether it did."""
    global _settled_at, _thawed_at
    now = time.monotonic() if now is None else now
    if _settled_at is not None and now - _settled_at < SETTLE_EVERY_SECS:
        return False
    if now - _thawed_at >= THAW_EVERY_SECS:
        gc.unfreeze()
        _thawed_at = now
    gc.collect()
    gc.freeze()
    _settled_at = now
    return True
