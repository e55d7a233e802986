"""Setting up campaigns through the real API, for the campaign tests."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callwright.domain.calls import CallEvent, CallStatus, EventKind
from callwright.domain.clock import ManualClock
from callwright.services.call_state import apply_events, lock_call
from callwright.store.models import Call, CampaignAttempt, CampaignContact
from tests.connection_rows import add_connection

NY, LA = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")
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


def us_numbers(area: str, count: int) -> list[str]:
    return [f"+1{area}555{i:04d}" for i in range(100, 100 + count)]


def next_weekday_at(zone: ZoneInfo, hour: int, *, weekday: int = 1) -> datetime:
    """A clock time at least a week ahead (so every contact added now is due), on ``weekday``."""
    day = (datetime.now(zone) + timedelta(days=7)).date()
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


async def end_active_calls(platform, campaign_id: str, outcome_of, at: datetime) -> dict[str, str]:
    """End every active call of the campaign at ``at``: ``outcome_of(phone)`` → CallStatus (an
    answered call is answered first). Returns {phone: status}."""
    ended = {}
    async with platform.sessions() as session:
        ids = list(
            await session.scalars(
                select(Call.id).where(Call.campaign_id == campaign_id, Call.status.in_(["pending", "ringing", "in_progress"]))
            )
        )
    for call_id in ids:
        async with platform.sessions() as session:
            call = await lock_call(session, call_id)
            status = outcome_of(call.to_number)
            events = [CallEvent(EventKind.DIALED, at=at, provider_call_id=f"sim-{call_id[:8]}")]
            if status is CallStatus.COMPLETED:
                events.append(CallEvent(EventKind.ANSWERED, at=at))
            events.append(CallEvent(EventKind.ENDED, at=at, outcome=status))
            call.dial_state = "dialed"
            apply_events(session, call, events, source="carrier")
            await session.commit()
            ended[call.to_number] = status.value
    return ended


async def contacts_by_phone(platform, campaign_id: str) -> dict[str, CampaignContact]:
    async with platform.sessions() as session:
        rows = await session.scalars(select(CampaignContact).where(CampaignContact.campaign_id == campaign_id))
        return {c.phone: c for c in rows}


async def attempts_by_phone(platform, campaign_id: str) -> dict[str, list[CampaignAttempt]]:
    async with platform.sessions() as session:
        rows = await session.execute(
            select(CampaignContact.phone, CampaignAttempt)
            .join(CampaignAttempt, CampaignAttempt.campaign_contact_id == CampaignContact.id)
            .where(CampaignContact.campaign_id == campaign_id)
            .order_by(CampaignAttempt.number)
        )
        found: dict[str, list[CampaignAttempt]] = {}
        for phone, attempt in rows:
            found.setdefault(phone, []).append(attempt)
        return found
