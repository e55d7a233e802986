"""One campaign scheduler across processes: elected through Redis like the dialer."""

from __future__ import annotations

import asyncio

from callwright.services.campaign_election import CampaignElection
from tests.services.test_call_control import two_processes  # noqa: F401 — the fixture


async def test_one_process_schedules_and_another_takes_over_when_it_stops_renewing(two_processes):  # noqa: F811
    first, second = two_processes
    a, b = CampaignElection(first, first.control), CampaignElection(second, second.control)
    try:
        assert await a.campaign() is True
        assert await b.campaign() is False
        assert first.campaign_scheduler is not None and second.campaign_scheduler is None
        assert await a.campaign() is True
        await first.control.redis.pexpire(a.lease_key, 1)  # the holder hangs past its lease
        await asyncio.sleep(0.05)
        assert await b.campaign() is True
        assert await a.campaign() is False
        assert first.campaign_scheduler is None and second.campaign_scheduler is not None
        await b.stop()  # leaving gives the lease back at once
        assert second.campaign_scheduler is None
        assert await a.campaign() is True
    finally:
        await a.stop()
        await b.stop()
