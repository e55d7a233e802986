"""Projects as the docs give them: a Default project with every partner that is never deleted,
CRUD under /api/v2/projects, every agent in one project (project_id on create and update),
agents and calls filtered by project, a project's rate in the billing cascade, and tenancy."""

from __future__ import annotations

import pytest

from callwright.domain.calls import CallStatus, EventKind
from tests.conftest import error_of
from tests.connection_rows import add_connection
from tests.webhook_support import carrier_says, event

API = "/api/v2"
DOCS_FIELDS = {"id", "name", "description", "is_default", "agent_count", "created_at", "updated_at"}
MISSING = "00000000-0000-4000-8000-000000000000"
VOBIZ_IDS = {"auth_id": "MA_XXXXXXXX", "from_number": "+918011223344"}


async def _projects(client, handle) -> list[dict]:
    response = await client.get(f"{API}/projects", headers=handle.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _create(client, handle, **body) -> dict:
    response = await client.post(f"{API}/projects", json=body, headers=handle.headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def _agent(client, handle, name="Agent", **fields) -> dict:
    response = await client.post(f"{API}/agent", json={"agent_name": name} | fields, headers=handle.headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def test_every_partner_starts_with_one_default_project(client, partner):
    [default] = await _projects(client, partner)
    assert set(default) == DOCS_FIELDS
    assert (default["name"], default["description"], default["is_default"], default["agent_count"]) == (
        "Default", None, True, 0,
    )


async def test_create_and_read_a_project_as_the_docs_show_it(client, partner):
    created = await _create(client, partner, name="Client A", description="Agents for Client A")
    assert set(created) == DOCS_FIELDS
    assert (created["name"], created["description"], created["is_default"], created["agent_count"]) == (
        "Client A", "Agents for Client A", False, 0,
    )
    fetched = await client.get(f"{API}/projects/{created['id']}", headers=partner.headers)
    assert fetched.json()["data"] == created
    listed = await client.get(f"{API}/projects", headers=partner.headers)
    body = listed.json()
    assert [p["name"] for p in body["data"]] == ["Default", "Client A"]
    assert body["pagination"] == {"limit": 100, "offset": 0, "total": 2}


async def test_update_changes_name_and_description_only(client, partner):
    project = await _create(client, partner, name="Client A")
    url = f"{API}/projects/{project['id']}"
    response = await client.put(url, json={"description": "Updated description"}, headers=partner.headers)
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["name"], data["description"]) == ("Client A", "Updated description")
    renamed = await client.put(url, json={"name": "Client A (updated)"}, headers=partner.headers)
    assert renamed.json()["data"]["name"] == "Client A (updated)"
    assert renamed.json()["data"]["description"] == "Updated description"
    for body, field in [({}, "body"), ({"name": None}, "name"), ({"name": "x" * 101}, "name"),
                        ({"description": "d" * 501}, "description"), ({"is_default": True}, "is_default")]:
        refused = await client.put(url, json=body, headers=partner.headers)
        assert refused.status_code == 400, body
        assert error_of(refused)["details"][0]["field"] == field


async def test_bad_project_bodies_are_refused_naming_the_field(client, partner):
    for body, field in [({}, "name"), ({"name": ""}, "name"), ({"name": "   "}, "name"),
                        ({"name": "A", "colour": "red"}, "colour")]:
        response = await client.post(f"{API}/projects", json=body, headers=partner.headers)
        assert response.status_code == 400, body
        assert error_of(response)["details"][0]["field"] == field


async def test_the_default_project_is_never_deleted(client, partner):
    [default] = await _projects(client, partner)
    response = await client.delete(f"{API}/projects/{default['id']}", headers=partner.headers)
    assert response.status_code == 409
    error = error_of(response)
    assert (error["code"], error["reason"]) == ("CONFLICT", "default_project")
    assert "Default project cannot be deleted" in error["message"]


async def test_a_project_with_agents_is_not_deleted_until_they_move(client, partner):
    project = await _create(client, partner, name="Client A")
    agent = await _agent(client, partner, project_id=project["id"])
    url = f"{API}/projects/{project['id']}"
    refused = await client.delete(url, headers=partner.headers)
    assert refused.status_code == 409
    error = error_of(refused)
    assert error["reason"] == "project_has_agents"
    assert error["message"].startswith("this project still has 1 agent; move them")

    moved = await client.put(f"{API}/agent/{agent['id']}", json={"project_id": None}, headers=partner.headers)
    assert moved.status_code == 200
    [default, _] = await _projects(client, partner)
    assert moved.json()["data"]["project_id"] == default["id"] and default["agent_count"] == 1
    deleted = await client.delete(url, headers=partner.headers)
    assert deleted.status_code == 200
    assert deleted.json()["data"] == {"id": project["id"], "deleted": True}
    assert (await client.get(url, headers=partner.headers)).status_code == 404


async def test_agents_go_to_the_default_project_or_the_one_named(client, partner, other_partner):
    [default] = await _projects(client, partner)
    project = await _create(client, partner, name="Client A")
    assert (await _agent(client, partner, "Plain"))["project_id"] == default["id"]
    placed = await _agent(client, partner, "Placed", project_id=project["id"])
    assert placed["project_id"] == project["id"]
    fetched = await client.get(f"{API}/agent/{placed['id']}", headers=partner.headers)
    assert fetched.json()["data"]["project_id"] == project["id"]
    counts = {p["name"]: p["agent_count"] for p in await _projects(client, partner)}
    assert counts == {"Default": 1, "Client A": 1}

    moved = await client.put(
        f"{API}/agent/{placed['id']}", json={"project_id": default["id"]}, headers=partner.headers
    )
    assert moved.json()["data"]["project_id"] == default["id"]

    [theirs] = await _projects(client, other_partner)
    malformed = await client.post(
        f"{API}/agent", json={"agent_name": "Xbad", "project_id": "not-a-uuid"}, headers=partner.headers
    )
    assert malformed.status_code == 400 and error_of(malformed)["details"][0]["field"] == "project_id"
    for project_id in (MISSING, theirs["id"]):
        response = await client.post(
            f"{API}/agent", json={"agent_name": f"X{project_id[:4]}", "project_id": project_id}, headers=partner.headers
        )
        assert response.status_code == 404, project_id
        error = error_of(response)
        assert error["reason"] == "project_not_found"
        assert error["message"] == f"project_id: no project with id {project_id!r}"
        assert error["details"][0]["field"] == "project_id"
        update = await client.put(
            f"{API}/agent/{placed['id']}", json={"project_id": project_id}, headers=partner.headers
        )
        assert (update.status_code, error_of(update)["reason"]) == (404, "project_not_found")
    still = await client.get(f"{API}/agent/{placed['id']}", headers=partner.headers)
    assert still.json()["data"]["project_id"] == default["id"]


async def test_agents_and_calls_are_filtered_by_project(client, platform, partner, other_partner):
    await add_connection(platform, partner.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    [default] = await _projects(client, partner)
    project = await _create(client, partner, name="Client A")
    inside = await _agent(client, partner, "Inside", project_id=project["id"])
    outside = await _agent(client, partner, "Outside")
    call_ids = {}
    for agent in (inside, outside):
        started = await client.post(
            f"{API}/calls/start",
            json={"agent_id": agent["id"], "to_number": "+919876543210", "provider": "vobiz"},
            headers=partner.headers,
        )
        assert started.status_code == 200, started.text
        call_ids[agent["agent_name"]] = started.json()["data"]["call_id"]

    agents = await client.get(f"{API}/agents?project_id={project['id']}", headers=partner.headers)
    assert [a["agent_name"] for a in agents.json()["data"]] == ["Inside"]
    assert agents.json()["pagination"]["total"] == 1
    calls = await client.get(f"{API}/calls?project_id={project['id']}", headers=partner.headers)
    assert [c["call_id"] for c in calls.json()["data"]["calls"]] == [call_ids["Inside"]]
    assert calls.json()["data"]["calls"][0]["project_id"] == project["id"]
    defaults = await client.get(f"{API}/calls?project_id={default['id']}", headers=partner.headers)
    assert [c["call_id"] for c in defaults.json()["data"]["calls"]] == [call_ids["Outside"]]

    # A call keeps the project its agent was in when it started.
    await client.put(f"{API}/agent/{inside['id']}", json={"project_id": None}, headers=partner.headers)
    calls = await client.get(f"{API}/calls?project_id={project['id']}", headers=partner.headers)
    assert [c["call_id"] for c in calls.json()["data"]["calls"]] == [call_ids["Inside"]]

    [theirs] = await _projects(client, other_partner)
    for path in ("agents", "calls"):
        for project_id in (MISSING, theirs["id"]):
            response = await client.get(f"{API}/{path}?project_id={project_id}", headers=partner.headers)
            assert (response.status_code, error_of(response)["reason"]) == (404, "project_not_found")


async def test_another_partners_project_answers_404_exactly_like_a_missing_one(client, partner, other_partner):
    theirs = await _create(client, other_partner, name="Globex private")
    assert [p["name"] for p in await _projects(client, partner)] == ["Default"]
    for method, body in [("get", None), ("put", {"name": "stolen"}), ("delete", None)]:
        responses = [
            await client.request(method, f"{API}/projects/{project_id}", json=body, headers=partner.headers)
            for project_id in (theirs["id"], MISSING)
        ]
        assert [r.status_code for r in responses] == [404, 404], method
        errors = [error_of(r) for r in responses]
        assert errors[0]["reason"] == errors[1]["reason"] == "project_not_found"
        assert errors[0]["message"].replace(theirs["id"], MISSING) == errors[1]["message"]
    still = await client.get(f"{API}/projects/{theirs['id']}", headers=other_partner.headers)
    assert still.json()["data"]["name"] == "Globex private"


async def test_project_routes_need_an_api_key(client):
    for method in ("get", "post"):
        assert (await client.request(method, f"{API}/projects")).status_code == 401
    for method in ("get", "put", "delete"):
        assert (await client.request(method, f"{API}/projects/{MISSING}")).status_code == 401


async def test_a_project_rate_sits_between_the_agent_and_the_partner(client, platform, partner, admin_headers):
    await add_connection(platform, partner.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    project = await _create(client, partner, name="Client A")
    agent = await _agent(client, partner, project_id=project["id"])
    admin = f"/admin/v1/partners/{partner.name}"
    await client.post(f"{admin}/credits/top-ups", json={"amount": "100"}, headers=admin_headers)
    await client.put(f"{admin}/rate", json={"rate_per_minute": "3.60"}, headers=admin_headers)
    rated = await client.put(
        f"{admin}/projects/{project['id']}/rate", json={"rate_per_minute": "2"}, headers=admin_headers
    )
    assert rated.json()["data"] == {"project_id": project["id"], "rate_per_minute": 2.0}

    async def cost_of_a_minute() -> float:
        started = await client.post(
            f"{API}/calls/start",
            json={"agent_id": agent["id"], "to_number": "+919876543210", "provider": "vobiz"},
            headers=partner.headers,
        )
        call_id = started.json()["data"]["call_id"]
        await carrier_says(platform, call_id, event(EventKind.ANSWERED))
        await carrier_says(platform, call_id, event(EventKind.ENDED, outcome=CallStatus.COMPLETED, duration_seconds=60))
        return (await client.get(f"{API}/calls/{call_id}", headers=partner.headers)).json()["data"]["credits_used"]

    assert await cost_of_a_minute() == 2.0  # the project's, over the partner's
    await client.put(f"{admin}/agents/{agent['id']}/rate", json={"rate_per_minute": "5"}, headers=admin_headers)
    assert await cost_of_a_minute() == 5.0  # the agent's, over the project's

    usage = (await client.get(f"{admin}/usage", headers=admin_headers)).json()["data"]["rows"]
    assert [(r["project_id"], r["project_name"], r["calls"], r["credits_used"]) for r in usage] == [
        (project["id"], "Client A", 2, 7.0)
    ]
    other = await client.put(f"{admin}/projects/{MISSING}/rate", json={"rate_per_minute": "1"}, headers=admin_headers)
    assert other.status_code == 404


@pytest.mark.parametrize("name", ["Client A", "  Padded  "])
async def test_names_are_kept_trimmed(client, partner, name):
    assert (await _create(client, partner, name=name))["name"] == name.strip()
