"""Sessions, as the get-a-session page gives them: a call's session, and a browser session
(``POST /sessions/webrtc``, whose start answers ``session_id`` as the start-a-browser-session page
says; ``offer_url`` stands where Daily's room and token were)."""

from __future__ import annotations

import pytest

from tests.conformance.shapes import documented
from tests.conformance.support import API, TURN, docs_agent, mcube_account, start_call, talk_and_hang_up

SESSION = {
    "session_id": "string", "agent_id": "string", "agent_name": "string", "status": "string",
    "duration_seconds": "integer|null", "transcript": [TURN], "recording_url": "string|null",
    "variables": "object", "started_at": "datetime|null", "ended_at": "datetime|null",
}  # fmt: skip


@pytest.fixture
async def call(client, platform, partner):
    await mcube_account(platform, partner.id)
    started = await start_call(client, partner, await docs_agent(client, partner))
    await talk_and_hang_up(platform, started["call_id"])
    return started


async def test_get_a_session(client, partner, call):
    data = documented(await client.get(f"{API}/sessions/{call['session_id']}", headers=partner.headers), SESSION)
    assert (data["session_id"], data["agent_name"], data["status"]) == (call["session_id"], "Sales Assistant", "completed")
    assert data["variables"] == {"callee_name": "Asha"} and data["transcript"]
    assert data["started_at"] is not None and data["ended_at"] is not None


async def test_another_partners_session_is_not_found(client, other_partner, call):
    response = await client.get(f"{API}/sessions/{call['session_id']}", headers=other_partner.headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


async def test_credits_used(client, partner, call):
    documented(await client.get(f"{API}/sessions/{call['session_id']}", headers=partner.headers), {"credits_used": "number"})


async def test_a_browser_session_reads_as_the_page_gives_a_session(client, partner):
    agent_id = await docs_agent(client, partner)
    started = documented(
        await client.post(f"{API}/sessions/webrtc", json={"agent_id": agent_id}, headers=partner.headers),
        {"session_id": "string", "offer_url": "string"},
    )
    data = documented(await client.get(f"{API}/sessions/{started['session_id']}", headers=partner.headers), SESSION)
    assert (data["agent_name"], data["status"], data["transcript"]) == ("Sales Assistant", "created", [])
    documented(await client.get(f"{API}/sessions/{started['session_id']}", headers=partner.headers), {"credits_used": "number"})
