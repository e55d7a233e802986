"""/telephony/connections: several named connections per carrier, one default; the legacy PUT
updates the default; /calls/start picks the connection (or refuses an ambiguous start); tenancy.

Credentials are verified against the carrier simulator over real HTTP.
"""

from __future__ import annotations

from sqlalchemy import select

from callwright.store.models import Call, TelephonyConnection
from tests.api.numbers_support import (  # noqa: F401  (settings: a fixture)
    carrier_body,
    create_connection,
    new_agent,
    settings,
    start_call,
)
from tests.conftest import error_of, make_partner

DOCUMENTED_KEYS = {
    "id",
    "connection_id",
    "provider",
    "provider_key",
    "name",
    "status",
    "is_default",
    "phone_numbers",
}


async def test_a_carrier_takes_several_named_connections_and_the_first_is_the_default(client, partner, sim):
    first = await create_connection(
        client, partner, "plivo", "Plivo India - Sales", carrier_body(sim, "plivo", "+14155550100")
    )
    assert first.status_code == 201, first.text
    sales = first.json()["data"]["connection"]
    assert DOCUMENTED_KEYS <= set(sales)
    assert sales["id"] == sales["connection_id"]
    assert (sales["provider"], sales["provider_key"], sales["status"], sales["is_default"]) == (
        "plivo",
        "PLIVO",
        "ACTIVE",
        True,
    )
    assert [n["phone_number"] for n in sales["phone_numbers"]] == ["+14155550100"]
    assert sales["phone_numbers"][0]["is_default"] is True
    assert "auth_token" not in first.text and "plivo-token" not in first.text

    second = await create_connection(
        client, partner, "plivo", "Plivo - Support", carrier_body(sim, "plivo", "+14155550101")
    )
    assert second.status_code == 201, second.text
    assert second.json()["data"]["connection"]["is_default"] is False
    await create_connection(client, partner, "vobiz", "Vobiz", carrier_body(sim, "vobiz", "+918011223344"))

    listed = (
        await client.get("/api/v2/telephony/connections?provider=plivo", headers=partner.headers)
    ).json()["data"]
    assert [(c["name"], c["is_default"]) for c in listed] == [
        ("Plivo India - Sales", True),
        ("Plivo - Support", False),
    ]
    everything = (await client.get("/api/v2/telephony/connections", headers=partner.headers)).json()["data"]
    assert len(everything) == 3


async def test_a_connection_name_is_unique_per_carrier_and_bad_credentials_store_nothing(
    client, partner, sim
):
    body = carrier_body(sim, "vobiz", "+918011223344")
    assert (await create_connection(client, partner, "vobiz", "Main", body)).status_code == 201
    taken = await create_connection(
        client, partner, "vobiz", "Main", carrier_body(sim, "vobiz", "+918011223355")
    )
    assert taken.status_code == 409
    assert error_of(taken)["reason"] == "connection_name_taken"
    refused = await create_connection(client, partner, "vobiz", "Other", body | {"auth_token": "wrong-token"})
    assert refused.status_code in (400, 401), refused.text
    no_name = await create_connection(
        client, partner, "vobiz", "", carrier_body(sim, "vobiz", "+918011223366")
    )
    assert no_name.status_code == 400
    assert "name" in error_of(no_name)["message"]
    listed = (await client.get("/api/v2/telephony/connections", headers=partner.headers)).json()["data"]
    assert [c["name"] for c in listed] == ["Main"]


async def test_switching_the_default_and_the_legacy_put_updates_the_default(client, partner, sim, platform):
    one = (
        await create_connection(client, partner, "vobiz", "One", carrier_body(sim, "vobiz", "+918011220001"))
    ).json()
    two_body = carrier_body(sim, "vobiz", "+918011220002")
    two = (await create_connection(client, partner, "vobiz", "Two", two_body)).json()
    one_id, two_id = one["data"]["connection"]["id"], two["data"]["connection"]["id"]

    switched = await client.patch(
        f"/api/v2/telephony/connections/{two_id}", json={"is_default": True}, headers=partner.headers
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["data"]["connection"]["is_default"] is True
    first = (await client.get(f"/api/v2/telephony/connections/{one_id}", headers=partner.headers)).json()
    assert first["data"]["connection"]["is_default"] is False
    refused = await client.patch(
        f"/api/v2/telephony/connections/{two_id}", json={"is_default": False}, headers=partner.headers
    )
    assert refused.status_code == 400

    legacy = await client.put(
        "/api/v2/config/telephony/vobiz",
        json=two_body | {"from_number": "+918011220099"},
        headers=partner.headers,
    )
    assert legacy.status_code == 200, legacy.text
    async with platform.sessions() as session:
        rows = {row.name: row for row in await session.scalars(select(TelephonyConnection))}
    assert rows["Two"].identifiers["from_number"] == "+918011220099"
    assert rows["One"].identifiers["from_number"] == "+918011220001"
    config = (await client.get("/api/v2/config", headers=partner.headers)).json()["data"]
    assert config["telephony"]["vobiz"]["from_number"] == "+918011220099"


async def test_the_legacy_put_creates_the_default_named_after_its_carrier(client, partner, sim):
    put = await client.put(
        "/api/v2/config/telephony/twilio",
        json=carrier_body(sim, "twilio", "+14155550123"),
        headers=partner.headers,
    )
    assert put.status_code == 200, put.text
    listed = (await client.get("/api/v2/telephony/connections", headers=partner.headers)).json()["data"]
    assert [(c["name"], c["provider"], c["is_default"]) for c in listed] == [("Twilio", "twilio", True)]


async def test_a_start_needs_connection_id_when_the_carrier_has_several(client, partner, sim, platform):
    agent = await new_agent(client, partner)
    one = (
        await create_connection(client, partner, "vobiz", "One", carrier_body(sim, "vobiz", "+918011220001"))
    ).json()
    alone = await start_call(client, partner, agent, "vobiz", "+919876543210")
    assert alone.status_code == 200, alone.text
    assert alone.json()["data"]["from_number"] == "+918011220001"

    two = (
        await create_connection(client, partner, "vobiz", "Two", carrier_body(sim, "vobiz", "+918011220002"))
    ).json()
    ambiguous = await start_call(client, partner, agent, "vobiz", "+919876543211")
    assert ambiguous.status_code == 400
    assert error_of(ambiguous)["reason"] == "connection_id_required"
    assert error_of(ambiguous)["code"] == "BAD_REQUEST"
    assert "connection_id" in error_of(ambiguous)["message"]

    two_id = two["data"]["connection"]["id"]
    named = await start_call(client, partner, agent, "vobiz", "+919876543212", connection_id=two_id)
    assert named.status_code == 200, named.text
    assert named.json()["data"]["from_number"] == "+918011220002"
    async with platform.sessions() as session:
        call = await session.get(Call, named.json()["data"]["call_id"])
        assert call.connection_id == two_id
    # The named connection says its carrier when provider is left out.
    inferred = await client.post(
        "/api/v2/calls/start",
        json={"agent_id": agent, "to_number": "+919876543219", "connection_id": two_id},
        headers=partner.headers,
    )
    assert inferred.status_code == 200, inferred.text
    assert (inferred.json()["data"]["provider"], inferred.json()["data"]["from_number"]) == (
        "vobiz",
        "+918011220002",
    )

    # An inactive connection no longer counts: the carrier has one active connection again.
    paused = await client.patch(
        f"/api/v2/telephony/connections/{two_id}", json={"status": "INACTIVE"}, headers=partner.headers
    )
    assert paused.status_code == 200, paused.text
    again = await start_call(client, partner, agent, "vobiz", "+919876543213")
    assert again.status_code == 200, again.text
    assert again.json()["data"]["from_number"] == "+918011220001"
    inactive = await start_call(client, partner, agent, "vobiz", "+919876543214", connection_id=two_id)
    assert error_of(inactive)["reason"] == "connection_inactive"
    wrong_carrier = await start_call(
        client, partner, agent, "twilio", "+919876543215", connection_id=one["data"]["connection"]["id"]
    )
    assert wrong_carrier.status_code == 404


async def test_deleting_the_default_waits_for_another_default(client, partner, sim, platform):
    agent = await new_agent(client, partner)
    one = (
        await create_connection(client, partner, "plivo", "One", carrier_body(sim, "plivo", "+14155550001"))
    ).json()
    two = (
        await create_connection(client, partner, "plivo", "Two", carrier_body(sim, "plivo", "+14155550002"))
    ).json()
    one_id, two_id = one["data"]["connection"]["id"], two["data"]["connection"]["id"]
    started = await start_call(client, partner, agent, "plivo", "+919876543210", connection_id=two_id)
    assert started.status_code == 200, started.text

    refused = await client.delete(f"/api/v2/telephony/connections/{one_id}", headers=partner.headers)
    assert refused.status_code == 409
    assert error_of(refused)["reason"] == "default_connection"
    deleted = await client.delete(f"/api/v2/telephony/connections/{two_id}", headers=partner.headers)
    assert deleted.status_code == 200
    assert (
        await client.get(f"/api/v2/telephony/connections/{two_id}", headers=partner.headers)
    ).status_code == 404
    call = await client.get(f"/api/v2/calls/{started.json()['data']['call_id']}", headers=partner.headers)
    assert call.status_code == 200  # the call's record outlives its connection
    last = await client.delete(f"/api/v2/telephony/connections/{one_id}", headers=partner.headers)
    assert last.status_code == 200


async def test_another_partner_cannot_read_change_delete_or_dial_through_a_connection(
    client, partner, sim, platform
):
    mine = await create_connection(
        client, partner, "vobiz", "Mine", carrier_body(sim, "vobiz", "+918011220001")
    )
    connection_id = mine.json()["data"]["connection"]["id"]
    other = await make_partner(platform, "other-corp")
    path = f"/api/v2/telephony/connections/{connection_id}"
    assert (await client.get(path, headers=other.headers)).status_code == 404
    patched = await client.patch(path, json={"name": "Theirs", "is_default": True}, headers=other.headers)
    assert patched.status_code == 404
    assert error_of(patched)["reason"] == "connection_not_found"
    assert (await client.delete(path, headers=other.headers)).status_code == 404
    assert (await client.get("/api/v2/telephony/connections", headers=other.headers)).json()["data"] == []
    agent = await new_agent(client, other)
    await create_connection(client, other, "vobiz", "Theirs", carrier_body(sim, "vobiz", "+918011220002"))
    borrowed = await start_call(client, other, agent, "vobiz", "+919876543210", connection_id=connection_id)
    assert borrowed.status_code == 404
    still = (await client.get(path, headers=partner.headers)).json()["data"]["connection"]
    assert (still["name"], still["is_default"]) == ("Mine", True)
