"""Projects, as the projects page gives them: ``GET/POST /projects``, ``GET/PUT/DELETE
/projects/{id}``; a Default project made with every partner and never deleted, a project with
agents not deleted, every agent in exactly one project."""

from __future__ import annotations

from tests.conformance.shapes import documented
from tests.conformance.support import API

PROJECT = {
    "id": "string", "name": "string", "description": "string|null", "is_default": "boolean",
    "agent_count": "integer", "created_at": "datetime", "updated_at": "datetime",
}  # fmt: skip


async def _create(client, partner, **body):
    return await client.post(f"{API}/projects", json=body, headers=partner.headers)


async def test_list_projects_starts_with_the_default_project(client, partner):
    response = await client.get(f"{API}/projects", headers=partner.headers)
    [default] = documented(response, [PROJECT])
    assert default["is_default"] is True and default["agent_count"] == 0


async def test_create_get_update_and_delete_a_project(client, partner):
    created = documented(
        await _create(client, partner, name="Client A", description="Agents for Client A"), PROJECT, status=201
    )
    assert (created["name"], created["is_default"]) == ("Client A", False)
    url = f"{API}/projects/{created['id']}"
    assert documented(await client.get(url, headers=partner.headers), PROJECT)["id"] == created["id"]
    updated = documented(await client.put(url, json={"name": "Client A (updated)"}, headers=partner.headers), PROJECT)
    assert (updated["name"], updated["description"]) == ("Client A (updated)", "Agents for Client A")
    deleted = await client.delete(url, headers=partner.headers)
    assert deleted.status_code == 200 and deleted.json()["success"] is True
    assert (await client.get(url, headers=partner.headers)).status_code == 404


async def test_an_agent_names_its_project_and_keeps_it_from_deletion(client, partner):
    project = (await _create(client, partner, name="Client B")).json()["data"]
    body = {"agent_name": "Client B bot", "project_id": project["id"]}
    agent = await client.post(f"{API}/agent", json=body, headers=partner.headers)
    assert agent.status_code == 201 and agent.json()["data"]["project_id"] == project["id"]
    url = f"{API}/projects/{project['id']}"
    assert documented(await client.get(url, headers=partner.headers), PROJECT)["agent_count"] == 1
    refused = await client.delete(url, headers=partner.headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CONFLICT"


async def test_the_default_project_is_never_deleted(client, partner):
    [default] = (await client.get(f"{API}/projects", headers=partner.headers)).json()["data"]
    refused = await client.delete(f"{API}/projects/{default['id']}", headers=partner.headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CONFLICT"


async def test_another_partners_project_is_not_found(client, partner, other_partner):
    project = (await _create(client, partner, name="Mine")).json()["data"]
    url = f"{API}/projects/{project['id']}"
    for response in (
        await client.get(url, headers=other_partner.headers),
        await client.put(url, json={"name": "Theirs"}, headers=other_partner.headers),
        await client.delete(url, headers=other_partner.headers),
    ):
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"
    assert (await client.get(url, headers=partner.headers)).json()["data"]["name"] == "Mine"
