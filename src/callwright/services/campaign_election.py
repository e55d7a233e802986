"""Electing the one process that runs the campaign scheduler, as the dialer's is elected.

A Redis lease (its own key beside the dialer's) renewed every ``RENEW_SECS``, lapsing
``LEASE_SECS`` after its holder stops renewing; a holder that cannot renew stops scheduling once
its lease would have lapsed. Two schedulers overlapping for that long cannot make an attempt
twice (``campaign_dispatch``); they only waste a little work.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from callwright.services.lease_election import LeaseElection

if TYPE_CHECKING:
    from callwright.platform import Platform
    from callwright.services.call_control import CallControl

log = logging.getLogger("callwright.campaigns")


class CampaignElection(LeaseElection):
    """Keeps this process's claim on the campaign scheduler's lease, running it while held."""

    role = "campaign scheduler"

    def __init__(self, platform: Platform, control: CallControl) -> None:
        super().__init__(control, f"{platform.settings.redis_namespace}:campaign-scheduler-lease")
        self.platform = platform

    def _running(self) -> bool:
        return self.platform.campaign_scheduler is not None

    def _start_worker(self) -> None:
        from callwright.services.campaign_scheduler import CampaignScheduler

        self.platform.campaign_scheduler = CampaignScheduler(self.platform)
        self.platform.campaign_scheduler.start()

    async def _stop_worker(self) -> None:
        scheduler, self.platform.campaign_scheduler = self.platform.campaign_scheduler, None
        if scheduler is not None:
            log.info("this process no longer runs the campaign scheduler")
            await scheduler.stop()
