"""A campaign's webhook events (opt-in per endpoint) and the campaign part of session.completed."""

from __future__ import annotations

from sqlalchemy import select

from callwright.domain.calls import CallStatus
from callwright.domain.clock import ManualClock
from callwright.services.campaign_scheduler import CampaignScheduler
from callwright.store.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.api.campaign_support import (
    NY,
    act,
    add_contacts,
    create_campaign,
    end_active_calls,
    next_weekday_at,
    ready_partner,
    us_numbers,
)

CAMPAIGN_EVENTS = ["campaign.started", "campaign.paused", "campaign.completed"]


async def _endpoint(client, partner, label, events=None):
    body = {"label": label, "url": f"http://127.0.0.1:9/{label}"} | ({"events": events} if events else {})
    response = await client.post("/api/v2/config/webhooks", json=body, headers=partner.headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def test_campaign_events_reach_only_the_endpoints_that_asked(client, platform, partner):
    agent = await ready_partner(client, platform, partner)
    await _endpoint(client, partner, "ops", [*CAMPAIGN_EVENTS, "session.completed"])
    await _endpoint(client, partner, "crm")  # session.completed only
    phones = us_numbers("212", 2)
    cid = (await create_campaign(client, partner, agent, concurrency_limit=2))["campaign_id"]
    await add_contacts(
        client, partner, cid, [{"phone": phones[0], "name": "Asha", "metadata": {"tier": "gold", "visits": 3}}, {"phone": phones[1]}]
    )
    await act(client, partner, cid, "start")
    await act(client, partner, cid, "pause")
    await act(client, partner, cid, "resume")
    clock = ManualClock(next_weekday_at(NY, 12))
    scheduler = CampaignScheduler(platform, clock=clock)
    assert await scheduler.run_once() == 2
    await end_active_calls(platform, cid, lambda _: CallStatus.COMPLETED, clock.now())
    await scheduler.run_once()

    async with platform.sessions() as session:
        events = list(await session.scalars(select(WebhookEvent).order_by(WebhookEvent.created_at)))
        deliveries = list(await session.execute(select(WebhookDelivery.endpoint_id, WebhookDelivery.event_id)))
        labels = dict((await session.execute(select(WebhookEndpoint.id, WebhookEndpoint.label))).all())
    campaign_events = [e for e in events if e.type.startswith("campaign.")]
    assert [e.type for e in campaign_events] == ["campaign.started", "campaign.paused", "campaign.started", "campaign.completed"]
    started, paused, resumed, completed = (e.data for e in campaign_events)
    assert (started["campaign_id"], started["status"], started["resumed"]) == (cid, "running", False)
    assert resumed["resumed"] is True
    assert paused["reason"] == "paused by the partner" and paused["status"] == "paused"
    assert (completed["status"], completed["total_contacts"], completed["completed_count"]) == ("completed", 2, 2)
    by_event: dict[str, set[str]] = {}
    for endpoint_id, event_id in deliveries:
        by_event.setdefault(event_id, set()).add(labels[endpoint_id])
    for event in campaign_events:
        assert by_event[event.id] == {"ops"}, event.type
    sessions = [e for e in events if e.type == "session.completed"]
    assert len(sessions) == 2 and all(by_event[e.id] == {"ops", "crm"} for e in sessions)
    first = next(e.data for e in sessions if e.data["call"]["to_number"] == phones[0])
    assert first["campaign_id"] == cid
    assert first["contact"] | {"contact_id": None} == {
        "contact_id": None,
        "phone": phones[0],
        "name": "Asha",
        "metadata": {"tier": "gold", "visits": 3},
        "attempt": 1,
        "outcome": "answered",
        "state": "completed",
    }
    assert first["variables"] == {"tier": "gold", "visits": 3, "name": "Asha"}


async def test_a_single_calls_session_completed_has_no_campaign(client, platform, partner):
    agent = await ready_partner(client, platform, partner)
    response = await client.post(
        "/api/v2/calls/start", json={"agent_id": agent, "to_number": "+12125550100", "provider": "vobiz"}, headers=partner.headers
    )
    call_id = response.json()["data"]["call_id"]
    await client.post(f"/api/v2/calls/{call_id}/end", headers=partner.headers)
    async with platform.sessions() as session:
        data = await session.scalar(select(WebhookEvent.data).where(WebhookEvent.type == "session.completed"))
    assert "campaign_id" not in data and "contact" not in data
