"""Speech-recognition dictionaries (``/dictionaries``, ``/agent/{id}/dictionaries``): the Vocobase
shapes, normalised terms, the 10,000-character cap per agent with DICTIONARY_CHAR_LIMIT_EXCEEDED,
and tenancy."""

from __future__ import annotations

from sqlalchemy import select

from callwright.domain.agent_spec import AgentSpec
from callwright.store.models import Agent
from tests.conftest import error_of

DICTIONARIES = "/api/v2/dictionaries"


async def create(client, partner, **fields):
    body = {"name": "Product catalog", "description": "Names and SKUs.", "terms": ["Callwright", "SKU-4471"]} | fields
    return await client.post(DICTIONARIES, json=body, headers=partner.headers)


async def agent(client, partner, name: str = "Support") -> str:
    response = await client.post("/api/v2/agent", json={"agent_name": name}, headers=partner.headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def attach(client, partner, agent_id: str, ids: list[str]):
    return await client.put(f"/api/v2/agent/{agent_id}/dictionaries", json={"dictionary_ids": ids}, headers=partner.headers)


async def test_create_get_list_update_delete_in_the_vocobase_shape(client, partner):
    created = await create(client, partner, terms=["  Meera   Iyer ", "Zyntrax", "", "Zyntrax", "Nguyen => Win"])
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert list(data) == [
        "id", "name", "description", "terms", "term_count", "char_count", "attached_agent_count", "created_at", "updated_at",
    ]
    assert data["terms"] == ["Meera Iyer", "Zyntrax", "Nguyen => Win"]
    assert (data["term_count"], data["char_count"], data["attached_agent_count"]) == (3, 10 + 7 + 13, 0)
    got = (await client.get(f"{DICTIONARIES}/{data['id']}", headers=partner.headers)).json()["data"]
    assert got == data
    listed = (await client.get(DICTIONARIES, headers=partner.headers)).json()
    assert [d["id"] for d in listed["data"]] == [data["id"]] and listed["pagination"]["total"] == 1

    blank = await client.patch(f"{DICTIONARIES}/{data['id']}", json={"description": "", "terms": ["Acme"]}, headers=partner.headers)
    assert blank.status_code == 200, blank.text
    assert (blank.json()["data"]["description"], blank.json()["data"]["char_count"]) == (None, 4)
    assert (await create(client, partner)).status_code == 409  # the name is taken
    deleted = await client.delete(f"{DICTIONARIES}/{data['id']}", headers=partner.headers)
    assert deleted.status_code == 200
    assert (await client.get(f"{DICTIONARIES}/{data['id']}", headers=partner.headers)).status_code == 404


async def test_attach_replaces_the_set_and_lists_the_summary_shape(client, partner, platform):
    one = (await create(client, partner, name="One")).json()["data"]
    two = (await create(client, partner, name="Two", terms=["Zyntrax"])).json()["data"]
    agent_id = await agent(client, partner)
    attached = await attach(client, partner, agent_id, [one["id"], two["id"], one["id"]])
    assert attached.status_code == 200, attached.text
    summaries = attached.json()["data"]["dictionaries"]
    assert [d["id"] for d in summaries] == [one["id"], two["id"]]
    assert "terms" not in summaries[0] and "description" not in summaries[0]
    assert summaries[0]["attached_agent_count"] == 1
    listed = (await client.get(f"/api/v2/agent/{agent_id}/dictionaries", headers=partner.headers)).json()["data"]
    assert listed == attached.json()["data"]
    async with platform.sessions() as session:
        row = await session.scalar(select(Agent).where(Agent.id == agent_id))
        assert AgentSpec.parse(row.settings).dictionary_ids == (one["id"], two["id"])

    # A deleted dictionary leaves every agent; [] detaches all.
    await client.delete(f"{DICTIONARIES}/{two['id']}", headers=partner.headers)
    listed = (await client.get(f"/api/v2/agent/{agent_id}/dictionaries", headers=partner.headers)).json()["data"]
    assert [d["id"] for d in listed["dictionaries"]] == [one["id"]]
    assert (await attach(client, partner, agent_id, [])).json()["data"]["dictionaries"] == []


async def test_the_character_cap_holds_when_attaching_and_when_terms_change(client, partner):
    big = (await create(client, partner, name="Big", terms=[f"term{i:06d}x" for i in range(900)])).json()["data"]
    assert big["char_count"] == 9900
    small = (await create(client, partner, name="Small", terms=["a" * 101])).json()["data"]
    agent_id = await agent(client, partner)
    over = await attach(client, partner, agent_id, [big["id"], small["id"]])
    assert over.status_code == 400
    error = error_of(over)
    assert error["code"] == "DICTIONARY_CHAR_LIMIT_EXCEEDED"
    assert error["details"] == {"agent_id": agent_id, "char_count": 10001, "limit": 10000}
    assert (await client.get(f"/api/v2/agent/{agent_id}/dictionaries", headers=partner.headers)).json()["data"]["dictionaries"] == []

    assert (await attach(client, partner, agent_id, [big["id"]])).status_code == 200
    grown = await client.patch(f"{DICTIONARIES}/{big['id']}", json={"terms": ["x" * 999 + chr(97 + i) for i in range(11)]}, headers=partner.headers)
    assert grown.status_code == 400 and error_of(grown)["code"] == "DICTIONARY_CHAR_LIMIT_EXCEEDED"
    assert (await client.get(f"{DICTIONARIES}/{big['id']}", headers=partner.headers)).json()["data"]["char_count"] == 9900


async def test_validation(client, partner):
    assert error_of(await create(client, partner, name=""))["code"] == "VALIDATION_ERROR"
    assert error_of(await create(client, partner, description="d" * 501))["code"] == "VALIDATION_ERROR"
    agent_id = await agent(client, partner)
    unknown = await attach(client, partner, agent_id, ["3c90c3cc-0d44-4b50-8888-8dd25736052a"])
    assert unknown.status_code == 400 and error_of(unknown)["code"] == "VALIDATION_ERROR"


async def test_another_partner_cannot_see_change_attach_or_delete_them(client, partner, other_partner):
    mine = (await create(client, partner)).json()["data"]
    my_agent = await agent(client, partner)
    assert (await attach(client, partner, my_agent, [mine["id"]])).status_code == 200
    theirs = await agent(client, other_partner)
    for response in (
        await client.get(f"{DICTIONARIES}/{mine['id']}", headers=other_partner.headers),
        await client.patch(f"{DICTIONARIES}/{mine['id']}", json={"terms": []}, headers=other_partner.headers),
        await client.delete(f"{DICTIONARIES}/{mine['id']}", headers=other_partner.headers),
        await client.get(f"/api/v2/agent/{my_agent}/dictionaries", headers=other_partner.headers),
        await attach(client, other_partner, my_agent, []),
    ):
        assert response.status_code == 404, response.text
    refused = await attach(client, other_partner, theirs, [mine["id"]])
    assert refused.status_code == 400 and error_of(refused)["code"] == "VALIDATION_ERROR"
    assert (await client.get(DICTIONARIES, headers=other_partner.headers)).json()["data"] == []
    still = (await client.get(f"{DICTIONARIES}/{mine['id']}", headers=partner.headers)).json()["data"]
    assert still["terms"] == ["Callwright", "SKU-4471"] and still["attached_agent_count"] == 1
