"""Campaign calls resolve the caller id as single calls do: on Vobiz, the agent's bound active
number first, then the connection's default."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from callwright.domain.clock import ManualClock
from callwright.services.campaign_scheduler import CampaignScheduler
from callwright.store.models import Call
from tests.api.campaign_support import (
    act,
    add_contacts,
    create_campaign,
    next_weekday_at,
    ready_partner,
    us_numbers,
)

NY = ZoneInfo("America/New_York")


async def test_campaign_calls_dial_from_the_agents_bound_number(client, platform, partner, admin_headers):
    agent = await ready_partner(client, platform, partner)
    [connection] = (await client.get("/api/v2/telephony/connections", headers=partner.headers)).json()["data"]
    added = await client.post(
        f"/admin/v1/partners/{partner.name}/connections/{connection['id']}/phone-numbers",
        json={"phone_number": "+918011229911"},
        headers=admin_headers,
    )
    assert added.status_code == 201, added.text
    bound = await client.put(
        f"/api/v2/phone-numbers/{added.json()['data']['id']}",
        json={"agent_id": agent},
        headers=partner.headers,
    )
    assert bound.status_code == 200, bound.text

    campaign = (await create_campaign(client, partner, agent))["campaign_id"]
    await add_contacts(client, partner, campaign, [{"phone": p} for p in us_numbers("212", 1)])
    assert (await act(client, partner, campaign, "start")).status_code == 200
    scheduler = CampaignScheduler(platform, clock=ManualClock(next_weekday_at(NY, 12)))
    assert await scheduler.run_once() == 1
    async with platform.sessions() as session:
        numbers = list(await session.scalars(select(Call.from_number).where(Call.campaign_id == campaign)))
    assert numbers == ["+918011229911"]
