"""The background workers of one process, started and stopped here and nowhere else.

- **call control** (``services.call_control``): with ``CALLWRIGHT_REDIS_URL``, this process hears
  commands for the calls whose media it carries;
- **the dialer**: run here when this process is alone on its store; when several share it (Redis
  set), the one elected through Redis runs it (``DialerElection``);
- **the campaign scheduler**: like the dialer, here when this process is alone on its store, else
  in the one elected through Redis (``CampaignElection``, a lease of its own);
- **the reconciler**: every process heartbeats the media it carries and settles lost calls;
- **the webhook sender**: every process sends (deliveries are leased, so never twice);
- **the extraction worker**: every process runs due post-call extractions (leased, so once);
- **the ingestion worker**: every process indexes due knowledge-base documents (leased, so once);
- **the node heartbeat** (``services.node_registry``): with Redis, this process's record in the
  cluster's node registry (live calls and their ids, draining, which roles it runs);
- **the load publisher**: a worker of a balanced ``callwright serve`` tells the supervisor how many
  media sockets it holds.

``Workers.stop`` stops them in the reverse order; ``Platform.close`` calls it before releasing the
store and the HTTP client, so a process's teardown is written once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from callwright.balancer import publish_load, worker_board

if TYPE_CHECKING:
    from callwright.platform import Platform
    from callwright.services.call_control import DialerElection
    from callwright.services.campaign_election import CampaignElection
    from callwright.services.extraction import ExtractionWorker
    from callwright.services.kb_ingest import IngestWorker
    from callwright.services.node_registry import NodeHeartbeat
    from callwright.services.reconciler import Reconciler
    from callwright.services.webhook_sender import WebhookSender

log = logging.getLogger("callwright.workers")


class Workers:
    """One process's background workers."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.election: DialerElection | None = None
        self.campaign_election: CampaignElection | None = None
        self.reconciler: Reconciler | None = None
        self.webhook_sender: WebhookSender | None = None
        self.extraction: ExtractionWorker | None = None
        self.ingest: IngestWorker | None = None
        self.heartbeat: NodeHeartbeat | None = None
        self._load: asyncio.Task[None] | None = None

    async def start(self, *, background: bool = True) -> None:
        """Start the workers; ``background=False`` (``CALLWRIGHT_WORKERS_ENABLED=0``) starts only
        the load publisher, which a balanced worker needs whatever else it runs."""
        platform = self.platform
        if background:
            from callwright.services.call_control import DialerElection
            from callwright.services.campaign_election import CampaignElection
            from callwright.services.campaign_scheduler import CampaignScheduler
            from callwright.services.dialer import Dialer
            from callwright.services.extraction import ExtractionWorker
            from callwright.services.kb_ingest import IngestWorker
            from callwright.services.node_registry import NodeHeartbeat
            from callwright.services.reconciler import Reconciler
            from callwright.services.webhook_sender import WebhookSender

            control = platform.control
            await control.start()
            if control.shared:
                # Several processes share the store: one, elected through Redis, paces the dials;
                # one, elected the same way, turns campaigns' due contacts into calls.
                self.election = DialerElection(platform, control)
                self.election.start()
                self.campaign_election = CampaignElection(platform, control)
                self.campaign_election.start()
                if self.heartbeat is None:
                    self.heartbeat = NodeHeartbeat(platform)
                    self.heartbeat.start()
            else:
                if platform.dialer is None:
                    platform.dialer = Dialer(platform)
                    platform.dialer.start()
                if platform.campaign_scheduler is None:
                    platform.campaign_scheduler = CampaignScheduler(platform)
                    platform.campaign_scheduler.start()
            if self.reconciler is None:
                self.reconciler = Reconciler(platform)
                self.reconciler.start()
            if self.webhook_sender is None:
                self.webhook_sender = WebhookSender(platform)
                self.webhook_sender.start()
            if self.extraction is None:
                self.extraction = ExtractionWorker(platform)
                self.extraction.start()
            if self.ingest is None:
                self.ingest = IngestWorker(platform)
                self.ingest.start()
        seat = worker_board()
        if seat is not None and self._load is None:
            board, slot = seat
            self._load = asyncio.create_task(
                publish_load(board, slot, lambda: platform.media_sockets, platform.media_sockets_changed),
                name="callwright-load",
            )

    async def stop(self) -> None:
        """Stop every worker, the last started first. Safe to call again, or before ``start``."""
        platform = self.platform
        if self._load is not None:
            self._load.cancel()
            await asyncio.gather(self._load, return_exceptions=True)
            self._load = None
        await self.stop_dialing()
        if self.reconciler is not None:
            await self.reconciler.stop()
            self.reconciler = None
        if self.extraction is not None:
            await self.extraction.stop()
            self.extraction = None
        if self.ingest is not None:
            await self.ingest.stop()
            self.ingest = None
        if self.webhook_sender is not None:
            await self.webhook_sender.stop()
            self.webhook_sender = None
        if self.heartbeat is not None:
            await self.heartbeat.stop()
            self.heartbeat = None
        await platform.control.close()

    async def stop_dialing(self) -> None:
        """Stop the dialer and the campaign scheduler, and their elections (which give the leases
        back, so another node takes them over): a draining node places no call. Call control,
        the reconciler and the webhook sender run on for the calls still up."""
        platform = self.platform
        if self.election is not None:
            await self.election.stop()  # stops the dialer it ran, and gives the lease back
            self.election = None
        dialer, platform.dialer = platform.dialer, None
        if dialer is not None:
            await dialer.stop()
        if self.campaign_election is not None:
            await self.campaign_election.stop()  # stops the scheduler it ran
            self.campaign_election = None
        scheduler, platform.campaign_scheduler = platform.campaign_scheduler, None
        if scheduler is not None:
            await scheduler.stop()
