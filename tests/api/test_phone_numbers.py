"""/phone-numbers: numbers synced through each carrier's simulated number API, agent binding that
repoints (and restores) the carrier's voice URL / application, the operator's numbers, tenancy."""

from __future__ import annotations

import pytest

from tests.api.numbers_support import (  # noqa: F401  (settings: a fixture)
    account_id,
    carrier_body,
    create_connection,
    new_agent,
    settings,
)
from tests.conftest import error_of, make_partner

OLD_VOICE_URL = "https://pbx.example.com/voice"
OLD_ANSWER_URL = "https://ivr.example.com/answer"


async def _connection(client, partner, sim, provider, default, numbers):
    body = carrier_body(
        sim, provider, default, exophones=[default, *numbers] if provider == "exotel" else None
    )
    for number in numbers if provider != "exotel" else []:
        sim.add_number(provider, account_id(provider, body), number)
    created = await create_connection(client, partner, provider, f"{provider} main", body)
    assert created.status_code == 201, created.text
    return created.json()["data"]["connection"]["id"], body


async def _sync(client, partner, **body):
    synced = await client.post("/api/v2/phone-numbers/sync", json=body, headers=partner.headers)
    assert synced.status_code == 200, synced.text
    return synced.json()["data"]


async def _number(client, partner, phone):
    listed = (await client.get("/api/v2/phone-numbers", headers=partner.headers)).json()["data"]
    return next(n for n in listed if n["phone_number"] == phone)


@pytest.mark.parametrize(
    ("provider", "default", "numbers"),
    [
        ("twilio", "+14155550100", ["+14155550111", "+14155550112"]),
        ("plivo", "+14155550200", ["+14155550211", "+14155550212"]),
        ("vobiz", "+918011223300", ["+918011223311", "+918011223312"]),
        ("exotel", "+918047110000", ["+918047110011", "+918047110012"]),
    ],
)
async def test_sync_imports_the_carriers_numbers(client, partner, sim, provider, default, numbers):
    connection_id, _ = await _connection(client, partner, sim, provider, default, numbers)
    data = await _sync(client, partner, connection_id=connection_id)
    report = data["connections"][0]
    assert report["synced"] is True
    assert report["listed"] == (3 if provider == "exotel" else 2)
    listed = (await client.get("/api/v2/phone-numbers", headers=partner.headers)).json()["data"]
    assert {n["phone_number"] for n in listed} == {default, *numbers}
    for number in listed:
        assert number["provider"] == provider.upper()
        assert number["connection_id"] == connection_id
        assert number["agent"] is None
        assert number["status"] == "ACTIVE"
        assert number["is_default"] is (number["phone_number"] == default)
    # A second sync adds nothing and keeps the connection's own number, which Twilio, Plivo and
    # Vobiz did not list here (reported, not deleted).
    again = await _sync(client, partner)
    assert again["connections"][0]["added"] == 0
    if provider != "exotel":
        assert again["connections"][0]["not_listed_by_carrier"] == [default]


@pytest.mark.parametrize(
    ("provider", "default", "number"),
    [
        ("twilio", "+14155550300", "+14155550311"),
        ("plivo", "+14155550400", "+14155550411"),
        ("vobiz", "+918011224400", "+918011224411"),
    ],
)
async def test_binding_an_agent_points_the_number_at_us_and_unbinding_restores_it(
    client, partner, sim, provider, default, number
):
    body = carrier_body(sim, provider, default)
    owner = account_id(provider, body)
    if provider == "twilio":
        sim.add_number(provider, owner, number, voice_url=OLD_VOICE_URL)
        before = OLD_VOICE_URL
    else:
        application = sim.add_application(provider, owner, name="old ivr", answer_url=OLD_ANSWER_URL)
        sim.state.numbers.add_number(sim_provider(provider), owner, number, app_id=application.app_id)
        before = OLD_ANSWER_URL
    created = await create_connection(client, partner, provider, "main", body)
    connection_id = created.json()["data"]["connection"]["id"]
    await _sync(client, partner, connection_id=connection_id)
    agent = await new_agent(client, partner, "Inbound Desk")
    phone = await _number(client, partner, number)

    bound = await client.put(
        f"/api/v2/phone-numbers/{phone['id']}", json={"agent_id": agent}, headers=partner.headers
    )
    assert bound.status_code == 200, bound.text
    data = bound.json()["data"]
    assert data["agent"] == {"id": agent, "name": "Inbound Desk"}
    assert data["routed_to_callwright"] is True
    assert "carrier_setup" not in data
    inbound = sim.inbound_url(provider, owner, number)
    assert inbound is not None and inbound.endswith(f"/inbound/{provider}/{connection_id}")

    cleared = await client.put(
        f"/api/v2/phone-numbers/{phone['id']}", json={"agent_id": None}, headers=partner.headers
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["data"]["agent"] is None
    assert cleared.json()["data"]["routed_to_callwright"] is False
    assert sim.inbound_url(provider, owner, number) == before


def sim_provider(provider):
    from callwright.domain.providers import Provider

    return Provider(provider)


async def test_an_unrouted_number_unbinds_to_nothing(client, partner, sim):
    body = carrier_body(sim, "vobiz", "+918011225500")
    sim.add_number("vobiz", body["auth_id"], "+918011225511")
    created = await create_connection(client, partner, "vobiz", "main", body)
    assert created.status_code == 201, created.text
    connection_id = created.json()["data"]["connection"]["id"]
    await _sync(client, partner, connection_id=connection_id)
    agent = await new_agent(client, partner)
    phone = await _number(client, partner, "+918011225511")
    path = f"/api/v2/phone-numbers/{phone['id']}"
    assert (await client.put(path, json={"agent_id": agent}, headers=partner.headers)).status_code == 200
    assert sim.inbound_url("vobiz", body["auth_id"], "+918011225511") is not None
    assert (await client.put(path, json={"agent_id": ""}, headers=partner.headers)).status_code == 200
    assert sim.inbound_url("vobiz", body["auth_id"], "+918011225511") is None


async def test_an_exotel_binding_says_what_to_set_in_the_flow(client, partner, sim):
    connection_id, _ = await _connection(client, partner, sim, "exotel", "+918047120000", ["+918047120011"])
    await _sync(client, partner, connection_id=connection_id)
    agent = await new_agent(client, partner)
    phone = await _number(client, partner, "+918047120011")
    bound = await client.put(
        f"/api/v2/phone-numbers/{phone['id']}", json={"agent_id": agent}, headers=partner.headers
    )
    assert bound.status_code == 200, bound.text
    data = bound.json()["data"]
    assert data["routed_to_callwright"] is False
    assert data["carrier_setup"]["automatic"] is False
    assert "Voicebot" in data["carrier_setup"]["instructions"]
    connection = (
        await client.get(f"/api/v2/telephony/connections/{connection_id}", headers=partner.headers)
    ).json()
    assert data["carrier_setup"]["voicebot_url"] == connection["data"]["connection"]["voicebot_url"]
    assert f"/telephony/exotel/voicebot/{connection_id}/" in data["carrier_setup"]["voicebot_url"]


async def test_the_update_fields_are_checked(client, partner, sim):
    await _connection(client, partner, sim, "vobiz", "+918011226600", [])
    phone = await _number(client, partner, "+918011226600")
    path = f"/api/v2/phone-numbers/{phone['id']}"
    named = await client.put(
        path, json={"friendly_name": "Front desk", "status": "INACTIVE"}, headers=partner.headers
    )
    assert named.status_code == 200, named.text
    assert (named.json()["data"]["friendly_name"], named.json()["data"]["status"]) == (
        "Front desk",
        "INACTIVE",
    )
    too_long = await client.put(path, json={"friendly_name": "x" * 201}, headers=partner.headers)
    assert too_long.status_code == 400
    assert "friendly_name" in error_of(too_long)["message"]
    bad_status = await client.put(path, json={"status": "PAUSED"}, headers=partner.headers)
    assert bad_status.status_code == 400
    no_agent = await client.put(
        path, json={"agent_id": "9b7f1c44-c87f-4f0c-9124-3c802a9c1a20"}, headers=partner.headers
    )
    assert no_agent.status_code == 404
    assert error_of(no_agent)["reason"] == "agent_not_found"


async def test_the_operator_adds_numbers_for_a_carrier_without_a_number_api(
    client, partner, sim, admin_headers, platform
):
    put = await client.put(
        "/api/v2/config/telephony/mcube",
        json={"jwt_token": "mcube-jwt-eyJhbGciOi.secret", "exe_number": "9876543210"},
        headers=partner.headers,
    )
    assert put.status_code == 200, put.text
    connection_id = (await client.get("/api/v2/telephony/connections", headers=partner.headers)).json()[
        "data"
    ][0]["id"]
    report = await _sync(client, partner)
    assert report["connections"][0]["synced"] is False
    added = await client.post(
        f"/admin/v1/partners/{partner.name}/connections/{connection_id}/phone-numbers",
        json={"phone_number": "+919876500001", "friendly_name": "Sales line"},
        headers=admin_headers,
    )
    assert added.status_code == 201, added.text
    listed = (await client.get("/api/v2/phone-numbers", headers=partner.headers)).json()["data"]
    assert {(n["phone_number"], n["source"]) for n in listed} == {
        ("9876543210", "connection"),
        ("+919876500001", "operator"),
    }
    refused = await client.post(
        f"/admin/v1/partners/{partner.name}/connections/{connection_id}/phone-numbers",
        json={"phone_number": "not a number"},
        headers=admin_headers,
    )
    assert refused.status_code == 400
    other = await make_partner(platform, "other-corp")
    elsewhere = await client.post(
        f"/admin/v1/partners/{other.name}/connections/{connection_id}/phone-numbers",
        json={"phone_number": "+919876500002"},
        headers=admin_headers,
    )
    assert elsewhere.status_code == 404
    assert error_of(elsewhere)["reason"] == "connection_not_found"


async def test_another_partner_cannot_see_update_or_bind_the_numbers(client, partner, sim, platform):
    connection_id, _ = await _connection(client, partner, sim, "twilio", "+14155550500", ["+14155550511"])
    await _sync(client, partner, connection_id=connection_id)
    phone = await _number(client, partner, "+14155550511")
    other = await make_partner(platform, "other-corp")
    their_agent = await new_agent(client, other)
    assert (await client.get("/api/v2/phone-numbers", headers=other.headers)).json()["data"] == []
    path = f"/api/v2/phone-numbers/{phone['id']}"
    bound = await client.put(path, json={"agent_id": their_agent}, headers=other.headers)
    assert bound.status_code == 404
    assert error_of(bound)["reason"] == "phone_number_not_found"
    synced = await client.post(
        "/api/v2/phone-numbers/sync", json={"connection_id": connection_id}, headers=other.headers
    )
    assert synced.status_code == 404
    # Nor can A bind B's agent to A's number.
    borrowed = await client.put(path, json={"agent_id": their_agent}, headers=partner.headers)
    assert borrowed.status_code == 404
    assert error_of(borrowed)["reason"] == "agent_not_found"
    assert (await _number(client, partner, "+14155550511"))["agent"] is None


async def test_deleting_a_connection_points_its_bound_numbers_back(client, partner, sim):
    body = carrier_body(sim, "twilio", "+14155550900")
    sim.add_number("twilio", body["account_sid"], "+14155550911", voice_url=OLD_VOICE_URL)
    created = await create_connection(client, partner, "twilio", "main", body)
    assert created.status_code == 201, created.text
    connection_id = created.json()["data"]["connection"]["id"]
    await _sync(client, partner, connection_id=connection_id)
    agent = await new_agent(client, partner)
    phone = await _number(client, partner, "+14155550911")
    assert (
        await client.put(
            f"/api/v2/phone-numbers/{phone['id']}", json={"agent_id": agent}, headers=partner.headers
        )
    ).status_code == 200
    assert sim.inbound_url("twilio", body["account_sid"], "+14155550911") != OLD_VOICE_URL

    deleted = await client.delete(f"/api/v2/telephony/connections/{connection_id}", headers=partner.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["data"]["not_restored"] == []
    assert sim.inbound_url("twilio", body["account_sid"], "+14155550911") == OLD_VOICE_URL
    assert (await client.get("/api/v2/phone-numbers", headers=partner.headers)).json()["data"] == []
