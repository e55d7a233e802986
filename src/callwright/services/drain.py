"""A node's drain: what ``callwright serve`` does between SIGTERM and its exit.

1. The node says it is draining: ``/readyz`` answers 503, so a load balancer (or Kubernetes,
   which also takes a terminating pod out of its Service) sends it no new connections, and a new
   carrier media socket that still arrives is refused (``api.routes.media``: HTTP 503 on its
   upgrade, which a proxy such as nginx retries on another node).
2. It stops dialing: the dialer and the campaign scheduler stop here and, with Redis, give their
   leases back, so another node's election takes them over within a lease period. Calls already
   queued wait in the store for that node.
3. Live calls run on, up to ``CALLWRIGHT_DRAIN_GRACE_SECS`` from the signal. Those still up then
   are ended with ``EndReason.PLATFORM_SHUTTING_DOWN`` (the agent stops, the socket closes, the
   carrier leg is hung up), and their outcome is stored as for any other end.
4. Once no media socket is open, it waits (up to ``FINAL_REPORT_SECS``) for the carriers' final
   reports on the calls it carried: their hang-up callbacks come to the public URL, which behind
   a balancer any node answers, but a node serving alone, or the last of a rolling restart, must
   still be up for them. Without them a call stays ``in_progress`` until the reconciler looks.
5. Then uvicorn's own shutdown runs: the lifespan stops the remaining workers (the webhook sender
   and reconciler last, so the calls' events are written before it goes) and the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from callwright.domain.calls import TERMINAL_STATUSES
from callwright.domain.end_reasons import EndReason
from callwright.store.models import Call

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.drain")

# After the grace period: how long the ended calls get to store their outcome and close.
WIND_DOWN_SECS = 15.0
# After the last media socket: how long the carriers' final reports on the calls get (step 4).
FINAL_REPORT_SECS = 10.0
FINAL_REPORT_POLL_SECS = 0.2


async def drain(*, platform: Platform, grace_secs: float, final_report_secs: float = FINAL_REPORT_SECS) -> None:
    """Drain this process (steps 1-4 above); returns when no media socket is open here and the
    calls it carried have their final status (or ``final_report_secs`` passed)."""
    platform.draining = True
    deadline = time.monotonic() + grace_secs
    log.info(
        "draining: not ready, no new media sockets, no dialing; %d live call(s) may run %.0f s more",
        platform.media_sockets, grace_secs,
    )  # fmt: skip
    await platform.workers.stop_dialing()
    # The open sockets, not the sessions: a socket whose session is still starting is a call too.
    if await _no_media_sockets(platform, max(0.0, deadline - time.monotonic())):
        log.info("drained: no live call left")
    else:
        sessions = list(platform.media_sessions.values())
        log.warning("drain grace period over: ending %d live call(s)", len(sessions))
        await asyncio.gather(
            *(session.end(EndReason.PLATFORM_SHUTTING_DOWN) for session in sessions), return_exceptions=True
        )
        if not await _no_media_sockets(platform, WIND_DOWN_SECS):
            log.error("%d media socket(s) still open after the drain; the shutdown closes them", platform.media_sockets)
    await _final_reports(platform, final_report_secs)


async def _no_media_sockets(platform: Platform, timeout_secs: float) -> bool:
    try:
        await asyncio.wait_for(platform.no_media_sockets.wait(), timeout_secs)
    except TimeoutError:
        return False
    return True


async def _final_reports(platform: Platform, timeout_secs: float) -> None:
    """Wait until every call whose media ended here during the drain has its final status."""
    calls = list(platform.calls_ended_while_draining)
    if not calls:
        return
    terminal = [status.value for status in TERMINAL_STATUSES]
    deadline = time.monotonic() + timeout_secs
    try:
        while True:
            async with platform.sessions() as session:
                waiting = await session.scalar(
                    select(func.count()).select_from(Call).where(Call.id.in_(calls), Call.status.not_in(terminal))
                )
            if not waiting:
                log.info("final reports in for the %d call(s) ended while draining", len(calls))
                return
            if time.monotonic() >= deadline:
                log.warning(
                    "%d call(s) ended while draining have no final report after %.0f s; the reconciler settles them",
                    waiting, timeout_secs,
                )  # fmt: skip
                return
            await asyncio.sleep(FINAL_REPORT_POLL_SECS)
    except Exception:  # the store is down: the reconciler settles them once it is back
        log.exception("could not read the final status of the calls ended while draining")
