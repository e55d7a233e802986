"""Setting up campaigns through the real API, for the campaign tests."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from callwright.domain.clock import ManualClock
from tests.connection_rows import add_connection

VOBIZ_IDS = {"auth_id": "MA_XXXXXXXX", "from_number": "+918011223344"}


def numbers(count: int, start: int = 0) -> list[str]:
    """Valid Indian mobile numbers, distinct."""
    return [f"+9198{start + i:08d}" for i in range(count)]


async def agent_id(client, partner, name: str = "Campaign caller") -> str:
    response = await client.post(
        "/api/v2/agent", json={"agent_name": name, "intro_message": "Hello {{name}}"}, headers=partner.headers
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def ready_partner(client, platform, partner, provider: str = "vobiz") -> str:
    """A configured carrier and an agent; returns the agent's id."""
    await add_connection(platform, partner.id, provider, VOBIZ_IDS, {"auth_token": "t"})
    return await agent_id(client, partner)


async def create_campaign(client, partner, agent: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Reminders", "agent_id": agent, "provider": "vobiz"} | fields
    response = await client.post("/api/v2/campaigns", json=body, headers=partner.headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def add_contacts(client, partner, campaign_id: str, contacts: list[dict[str, Any]]) -> dict[str, Any]:
    response = await client.post(
        f"/api/v2/campaigns/{campaign_id}/contacts", json={"contacts": contacts}, headers=partner.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def act(client, partner, campaign_id: str, action: str):
    return await client.post(f"/api/v2/campaigns/{campaign_id}/{action}", headers=partner.headers)


def indian_noon_clock() -> ManualClock:
    """A clock at the next noon in India: +91 numbers are inside their 09:00–21:00 window, and
    every contact added until now is due."""
    india = ZoneInfo("Asia/Kolkata")
    now = datetime.now(india)
    noon = datetime.combine(now.date(), time(12), tzinfo=india)
    return ManualClock(noon if noon > now else noon + timedelta(days=1))
