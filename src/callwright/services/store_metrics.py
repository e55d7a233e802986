"""What the store knows, as metrics counted at scrape time: the webhook backlog and campaign
progress. Aggregates only (by status and state), never a partner, campaign or number."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.campaigns import CampaignStatus, ContactState
from callwright.store.models import Campaign, CampaignContact, WebhookDelivery

# Campaigns whose contacts are worth counting: not the finished ones' whole history.
_ACTIVE_CAMPAIGNS = (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED)


class StoreSnapshot(Collector):
    """One scrape's store counts, read by ``read`` and given to the registry by ``collect``."""

    def __init__(self) -> None:
        self.webhook_backlog = 0
        self.campaigns: dict[str, int] = {}
        self.contacts: dict[str, int] = {}

    async def read(self, *, session: AsyncSession) -> StoreSnapshot:
        self.webhook_backlog = (
            await session.scalar(
                select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "pending")
            )
        ) or 0
        rows = await session.execute(select(Campaign.status, func.count()).group_by(Campaign.status))
        self.campaigns = {status: count for status, count in rows.all()}
        rows = await session.execute(
            select(CampaignContact.state, func.count())
            .join(Campaign, Campaign.id == CampaignContact.campaign_id)
            .where(Campaign.status.in_([s.value for s in _ACTIVE_CAMPAIGNS]))
            .group_by(CampaignContact.state)
        )
        self.contacts = {state: count for state, count in rows.all()}
        return self

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "callwright_webhook_backlog",
            "Webhook deliveries waiting to be sent (first attempt or a retry).",
            value=self.webhook_backlog,
        )
        campaigns = GaugeMetricFamily("callwright_campaigns", "Campaigns by status.", labels=["status"])
        for status in CampaignStatus:
            campaigns.add_metric([status.value], self.campaigns.get(status.value, 0))
        yield campaigns
        contacts = GaugeMetricFamily(
            "callwright_campaign_contacts",
            "Contacts of scheduled, running and paused campaigns, by where they stand.",
            labels=["state"],
        )
        for state in ContactState:
            contacts.add_metric([state.value], self.contacts.get(state.value, 0))
        yield contacts
