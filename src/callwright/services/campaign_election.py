"""Electing the one process that runs the campaign scheduler, as the dialer's is elected.

A Redis lease (its own key beside the dialer's) renewed every ``RENEW_SECS``, lapsing
``LEASE_SECS`` after its holder stops renewing; a holder that cannot renew stops scheduling once
its lease would have lapsed. Two schedulers overlapping for that long cannot make an attempt
twice (``campaign_dispatch``); they only waste a little work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from callwright.services.call_control import _RELEASE, _RENEW, LEASE_SECS, RENEW_SECS, CallControl

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.campaigns")


class CampaignElection:
    def __init__(self, platform: Platform, control: CallControl) -> None:
        self.platform = platform
        self.control = control
        self.lease_key = f"{platform.settings.redis_namespace}:campaign-scheduler-lease"
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._valid_until = 0.0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="callwright-campaign-election")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._stop_scheduling()
        redis = self.control.redis
        if redis is not None:
            try:
                await redis.eval(_RELEASE, 1, self.lease_key, self.control.node_id)
            except Exception as exc:  # it lapses by itself within LEASE_SECS
                log.warning("could not release the campaign scheduler lease: %s", type(exc).__name__)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.campaign()
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=RENEW_SECS)
            except TimeoutError:
                pass

    async def campaign(self) -> bool:
        """Take or renew the lease; start or stop the scheduler to match. True while we schedule."""
        redis = self.control.redis
        assert redis is not None
        asked_at = time.monotonic()
        lease_ms = int(LEASE_SECS * 1000)
        try:
            held = bool(await redis.eval(_RENEW, 1, self.lease_key, self.control.node_id, lease_ms))
            if not held:
                held = bool(await redis.set(self.lease_key, self.control.node_id, nx=True, px=lease_ms))
        except Exception as exc:
            log.warning("could not renew the campaign scheduler lease: %s", type(exc).__name__)
            held = None
        if held:
            self._valid_until = asked_at + LEASE_SECS
            if self.platform.campaign_scheduler is None:
                from callwright.services.campaign_scheduler import CampaignScheduler

                log.info("this process now runs the campaign scheduler")
                self.platform.campaign_scheduler = CampaignScheduler(self.platform)
                self.platform.campaign_scheduler.start()
            return True
        if held is None and time.monotonic() < self._valid_until - RENEW_SECS:
            return self.platform.campaign_scheduler is not None
        await self._stop_scheduling()
        return False

    async def _stop_scheduling(self) -> None:
        scheduler, self.platform.campaign_scheduler = self.platform.campaign_scheduler, None
        if scheduler is not None:
            log.info("this process no longer runs the campaign scheduler")
            await scheduler.stop()
