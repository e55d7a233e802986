"""An idle ``callwright serve`` process collects what its calls left and freezes what survives,
thawing at most once an hour to reclaim cycles among what it froze. Run in a child process: the
freeze is process-wide, and this test process's collector is not ours to change."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import gc, time, weakref
    from callwright import collector

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return a

    now = time.monotonic()
    garbage = weakref.ref(cycle())          # a call's leftovers: cyclic garbage
    kept = cycle()                          # what the calls left for good
    assert collector.settle_when_idle(now=now)
    print("garbage collected:", garbage() is None)
    print("kept frozen:", not any(o is kept for o in gc.get_objects()))
    print("settled again at once:", collector.settle_when_idle(now=now + 1))

    # What was frozen alive and became cyclic garbage later stays until a thaw.
    later = weakref.ref(kept)
    del kept
    assert collector.settle_when_idle(now=now + collector.SETTLE_EVERY_SECS + 1)
    print("frozen cycle kept without a thaw:", later() is not None)
    assert collector.settle_when_idle(now=now + collector.THAW_EVERY_SECS + 1)
    print("frozen cycle reclaimed by the thaw:", later() is None)
    """
)


def test_an_idle_process_freezes_what_survives_and_thaws_at_most_hourly() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "garbage collected: True",
        "kept frozen: True",
        "settled again at once: False",
        "frozen cycle kept without a thaw: True",
        "frozen cycle reclaimed by the thaw: True",
    ]
