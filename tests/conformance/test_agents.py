"""Agents, read side: the answer to a minimal create, get-an-agent, the list, delete-an-agent and
the voices. The fields an agent is created or updated with are checked with the agent work of
issue 14; the fields both versions of get-an-agent list and Callwright has today are checked
here."""

from __future__ import annotations

import pytest

from tests.conformance.shapes import documented
from tests.conformance.support import API, docs_agent

AGENT = {
    "id": "string", "agent_name": "string", "prompt": "string", "voice_id": "string", "language": "string",
    "agent_type": "string", "intro_message": "string|null", "voicemail_detection_enabled": "boolean",
    "voicemail_message": "string|null", "enable_recording": "boolean", "variables": ["string"],
    "transferEnabled": "boolean", "transferNumber": "string|null", "transferMessage": "string|null",
    "transfer_instructions": "string|null", "end_call_instructions": "string|null",
    "max_call_duration_secs": "integer|null", "status": "string", "created_at": "datetime", "updated_at": "datetime",
}  # fmt: skip
# Listed by the newer get-an-agent page; they come with the agent work of issue 14.
AGENT_CORE = {"project_id": "string", "document_count": "integer", "endCallEnabled": "boolean",
              "endCallMessage": "string|null"}  # fmt: skip


@pytest.fixture
async def agent_id(client, partner):
    return await docs_agent(client, partner)


async def test_a_minimal_create_answers_an_agent(client, partner):
    body = {"agent_name": "Support", "prompt": "You answer questions about orders."}
    data = documented(await client.post(f"{API}/agent", json=body, headers=partner.headers), AGENT, status=201)
    assert (data["agent_name"], data["status"]) == ("Support", "active")


async def test_get_an_agent(client, partner, agent_id):
    data = documented(await client.get(f"{API}/agent/{agent_id}", headers=partner.headers), AGENT)
    assert data["id"] == agent_id and data["variables"] == ["callee_name"]


async def test_list_agents(client, partner, agent_id):
    (agent,) = documented(await client.get(f"{API}/agents", headers=partner.headers), [AGENT])
    assert agent["id"] == agent_id


async def test_delete_an_agent(client, partner, agent_id):
    response = await client.delete(f"{API}/agent/{agent_id}", headers=partner.headers)
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"message": "Agent deleted successfully"}}


async def test_the_voices(client, partner):
    voices = documented(await client.get(f"{API}/agent/voices", headers=partner.headers), [{"voice_id": "string"}])
    assert voices


@pytest.mark.xfail(reason="project_id, document_count and endCall* come with the agent work of issue 14", strict=False)
async def test_the_agent_core_fields(client, partner, agent_id):
    documented(await client.get(f"{API}/agent/{agent_id}", headers=partner.headers), AGENT_CORE)
