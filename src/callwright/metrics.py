"""Prometheus metrics, served at ``/metrics`` (``api.routes.metrics``).

Labels are only ``node``, ``carrier``, ``outcome`` and ``reason`` (an ``EndReason`` value): a
bounded set. Never a call id, a partner, a phone number or a URL: they would grow without end,
and numbers are personal data.

On the call path a metric is a counter increment or a histogram observation and nothing more:
about a microsecond in one process, a few under ``callwright serve --workers N``, where
prometheus-client's multiprocess mode writes each value to a file the worker maps
(``PROMETHEUS_MULTIPROC_DIR``, which the supervisor sets to a directory of its own, emptied at
start; a worker's live gauges are dropped when it exits). The agent's frame gap is the one
per-frame observation: one per 20 ms audio packet sent.

What the store knows (webhook backlog, campaign progress) is counted when ``/metrics`` is
scraped, with two small aggregate queries, and is the same from every node of one store.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

ACTIVE_CALLS = Gauge(
    "callwright_active_calls",
    "Calls whose media stream this node carries now.",
    ["node", "carrier"],
    multiprocess_mode="livesum",
)
CALLS_ENDED = Counter(
    "callwright_calls_ended_total", "Media streams ended on this node, by why.", ["carrier", "reason"]
)
DIALS = Counter("callwright_dials_total", "Dial requests sent to a carrier.", ["carrier"])
DIAL_ERRORS = Counter(
    "callwright_dial_errors_total",
    "Dial requests that did not place a call: retried later, failed, or outcome unknown.",
    ["carrier", "outcome"],
)
CALLBACK_SECONDS = Histogram(
    "callwright_carrier_callback_seconds",
    "Time to answer a carrier's callback (status, answer document), from its request's arrival.",
    ["carrier"],
    buckets=_LATENCY_BUCKETS,
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "callwright_webhook_delivery_seconds",
    "From a webhook delivery's creation to its end: delivered, or dead after its retries.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 3600.0, 86400.0),
)
TURN_LATENCY_SECONDS = Histogram(
    "callwright_turn_latency_seconds",
    "From the end of the caller's turn to the agent's first reply audio.",
    ["carrier"],
    buckets=(0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0),
)
FRAME_GAP_SECONDS = Histogram(
    "callwright_agent_frame_gap_seconds",
    "Time between two agent audio packets sent to the carrier within one reply (20 ms is on time).",
    buckets=(0.01, 0.02, 0.025, 0.03, 0.04, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5),
)
# Within one reply the agent's packets leave every 20 ms; a longer silence is between replies.
FRAME_GAP_MAX_SECS = 1.0


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(path: Path) -> None:
    """Before the workers start: a directory of this user's alone, emptied of the value files an
    earlier run left (they would be summed into this one's), and named to the workers."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for leftover in path.glob("*.db"):
        leftover.unlink()
    os.environ[MULTIPROC_ENV] = str(path)


def worker_exited(pid: int | None) -> None:
    """In the supervisor, once a worker is gone: its live gauges (active calls) stop counting."""
    if pid is not None and multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
