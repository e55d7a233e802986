"""A draining process waits for the carriers' final reports on the calls it carried.

The hang-up callback comes to the public URL. Behind a balancer any node takes it, but a node
serving alone, or the last of a rolling restart, must still be up: run U-B saw a node exit before
the simulator's late callback, and the call stayed ``in_progress`` until the reconciler.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import update

from callwright.platform import Platform
from callwright.services import media_sockets
from callwright.services.drain import drain
from callwright.store.models import Call
from tests.conftest import make_partner
from tests.connection_rows import add_call


async def _call_ending_while_draining(platform: Platform, final_report_secs: float) -> tuple[str, asyncio.Task[None]]:
    """A live call whose media ends once the drain has begun; the drain, running."""
    partner = await make_partner(platform, "draining")
    call_id = await add_call(platform, partner.id, status="in_progress", provider_call_id="vz-drain")
    media: Any = object()  # only its identity matters to the registry
    assert media_sockets.register(platform, call_id, media)
    platform.no_media_sockets.clear()  # its socket is open
    task = asyncio.create_task(drain(platform=platform, grace_secs=300, final_report_secs=final_report_secs))
    while not platform.draining:
        await asyncio.sleep(0.01)
    media_sockets.unregister(platform, call_id, media)
    platform.no_media_sockets.set()  # the caller hung up: the socket closed
    return call_id, task


async def _set_status(platform: Platform, call_id: str, status: str) -> None:
    async with platform.sessions() as session:
        await session.execute(update(Call).where(Call.id == call_id).values(status=status))
        await session.commit()


async def test_the_drain_ends_once_the_carrier_reported_the_calls_end(platform: Platform) -> None:
    call_id, task = await _call_ending_while_draining(platform, final_report_secs=600)
    assert platform.calls_ended_while_draining == {call_id}
    # No report yet: the drain goes on, however long it is given here.
    await asyncio.sleep(1.0)
    assert not task.done()
    await _set_status(platform, call_id, "completed")  # the hang-up callback, handled
    await asyncio.wait_for(task, timeout=60)


async def test_without_a_report_the_drain_ends_after_its_bound_and_says_so(platform: Platform, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="callwright.drain")
    call_id, task = await _call_ending_while_draining(platform, final_report_secs=0.5)
    await asyncio.wait_for(task, timeout=60)
    assert "1 call(s) ended while draining have no final report after 0 s" in caplog.text
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        assert call is not None and call.status == "in_progress"  # left for the reconciler
