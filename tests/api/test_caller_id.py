"""The outbound caller id, as Vocobase resolves it, on the dial request the simulated carrier
received: Twilio the connection's default number; Exotel the saved caller_id; Plivo and Vobiz the
agent's bound active number first, then the connection's default."""

from __future__ import annotations

import uuid

import pytest

from callwright.services.dialer import Dialer
from tests.api.numbers_support import (  # noqa: F401  (settings: a fixture)
    account_id,
    carrier_body,
    create_connection,
    new_agent,
    settings,
    start_call,
)


def _destination() -> str:
    return "+9198" + str(uuid.uuid4().int)[:8]


async def _dialed_from(client, partner, platform, sim, agent, provider) -> str:
    """Start a call from ``agent``, let the dialer place it, and read the dial's caller id."""
    to = _destination()
    started = await start_call(client, partner, agent, provider, to)
    assert started.status_code == 200, started.text
    dialer = Dialer(platform)
    try:
        assert await dialer.dial_due() == 1
        sim_call = await sim.wait_for_call(to=to, carrier=provider, timeout=15)
    finally:
        await dialer.stop()
    assert started.json()["data"]["from_number"] == sim_call.from_
    return sim_call.from_


async def _bind(client, partner, sim, provider, body, number, agent) -> str:
    listed = (await client.get("/api/v2/phone-numbers", headers=partner.headers)).json()["data"]
    phone = next(n for n in listed if n["phone_number"] == number)
    bound = await client.put(
        f"/api/v2/phone-numbers/{phone['id']}", json={"agent_id": agent}, headers=partner.headers
    )
    assert bound.status_code == 200, bound.text
    return phone["id"]


@pytest.mark.parametrize(
    ("provider", "default", "bound"),
    [("plivo", "+14155550700", "+14155550711"), ("vobiz", "+918011227700", "+918011227711")],
)
async def test_plivo_and_vobiz_dial_from_the_agents_bound_active_number_first(
    client, partner, platform, sim, provider, default, bound
):
    body = carrier_body(sim, provider, default)
    sim.add_number(provider, account_id(provider, body), bound)
    assert (await create_connection(client, partner, provider, "main", body)).status_code == 201
    assert (
        await client.post("/api/v2/phone-numbers/sync", json={}, headers=partner.headers)
    ).status_code == 200
    desk, other = await new_agent(client, partner, "Desk"), await new_agent(client, partner, "Other")
    number_id = await _bind(client, partner, sim, provider, body, bound, desk)

    assert await _dialed_from(client, partner, platform, sim, desk, provider) == bound
    assert await _dialed_from(client, partner, platform, sim, other, provider) == default
    paused = await client.put(
        f"/api/v2/phone-numbers/{number_id}", json={"status": "INACTIVE"}, headers=partner.headers
    )
    assert paused.status_code == 200
    assert await _dialed_from(client, partner, platform, sim, desk, provider) == default


async def test_twilio_dials_from_the_connections_default_even_with_a_bound_number(
    client, partner, platform, sim
):
    body = carrier_body(sim, "twilio", "+14155550800")
    sim.add_number("twilio", body["account_sid"], "+14155550811")
    assert (await create_connection(client, partner, "twilio", "main", body)).status_code == 201
    assert (
        await client.post("/api/v2/phone-numbers/sync", json={}, headers=partner.headers)
    ).status_code == 200
    desk = await new_agent(client, partner, "Desk")
    await _bind(client, partner, sim, "twilio", body, "+14155550811", desk)
    assert await _dialed_from(client, partner, platform, sim, desk, "twilio") == "+14155550800"


async def test_exotel_dials_from_the_saved_caller_id(client, partner, platform, sim):
    body = carrier_body(sim, "exotel", "+918047130000", exophones=["+918047130000", "+918047130011"])
    assert (await create_connection(client, partner, "exotel", "main", body)).status_code == 201
    assert (
        await client.post("/api/v2/phone-numbers/sync", json={}, headers=partner.headers)
    ).status_code == 200
    desk = await new_agent(client, partner, "Desk")
    await _bind(client, partner, sim, "exotel", body, "+918047130011", desk)
    assert await _dialed_from(client, partner, platform, sim, desk, "exotel") == "+918047130000"
