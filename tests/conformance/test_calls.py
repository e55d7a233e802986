"""Calls, as the docs pages give them: start-an-outbound-call, list-calls, get-call-details,
get-current-call-concurrency."""

from __future__ import annotations

import pytest

from tests.conformance.shapes import documented, nullable
from tests.conformance.support import (
    API,
    LATENCY,
    TURN,
    docs_agent,
    fail,
    mcube_account,
    start_call,
    talk_and_hang_up,
)

STARTED = {
    "call_id": "string", "session_id": "string", "status": "string", "provider": "string",
    "from_number": "string", "to_number": "string", "agent_id": "string",
}  # fmt: skip
# A call in list-calls; get-call-details adds the session and the post-call fields.
LISTED = {
    "call_id": "string", "agent_id": "string", "session_id": "string", "direction": "string",
    "from_number": "string", "to_number": "string", "status": "string", "provider": "string",
    "duration_seconds": "integer|null", "error_message": "string|null",
    "started_at": "datetime|null", "ended_at": "datetime|null", "created_at": "datetime",
}  # fmt: skip
LIST = {"calls": [LISTED], "total": "integer", "limit": "integer", "offset": "integer"}
SESSION = {
    "session_id": "string", "duration_seconds": "integer|null", "transcript": [TURN],
    "latency": nullable(LATENCY), "recording_url": "string|null", "status": "string",
    "started_at": "datetime|null", "ended_at": "datetime|null",
}  # fmt: skip
DETAIL = LISTED | {"session": SESSION, "processing_complete": "boolean", "pipeline_completed_at": "datetime|null"}
CONCURRENCY = {"limit": "integer", "limit_source": "string", "active": "integer", "remaining": "integer",
               "statuses_counted": ["string"]}  # fmt: skip


@pytest.fixture
async def agent_id(client, platform, partner):
    await mcube_account(platform, partner.id)
    return await docs_agent(client, partner)


async def test_start_an_outbound_call(client, partner, agent_id):
    body = {"agent_id": agent_id, "to_number": "+919876543210", "provider": "mcube",
            "variables": {"callee_name": "Asha"}}  # fmt: skip
    response = await client.post(f"{API}/calls/start", json=body, headers=partner.headers)
    data = documented(response, STARTED)
    assert (data["status"], data["provider"], data["agent_id"]) == ("pending", "mcube", agent_id)


async def test_start_without_a_provider_is_mcube(client, partner, agent_id):
    body = {"agent_id": agent_id, "to_number": "+919876543210"}
    data = documented(await client.post(f"{API}/calls/start", json=body, headers=partner.headers), STARTED)
    assert data["provider"] == "mcube"


async def test_list_calls(client, platform, partner, agent_id):
    done = await start_call(client, partner, agent_id)
    await talk_and_hang_up(platform, done["call_id"])
    await start_call(client, partner, agent_id, to="+919876543211")
    page = documented(await client.get(f"{API}/calls", headers=partner.headers), LIST)
    assert (page["total"], page["limit"], page["offset"]) == (2, 10, 0)
    # The status filter is case-insensitive, as the page says.
    page = documented(await client.get(f"{API}/calls?limit=1&offset=0&status=COMPLETED", headers=partner.headers), LIST)
    assert [c["call_id"] for c in page["calls"]] == [done["call_id"]] and page["limit"] == 1


async def test_get_call_details_once_processing_is_complete(client, platform, partner, agent_id):
    call_id = (await start_call(client, partner, agent_id))["call_id"]
    await talk_and_hang_up(platform, call_id)
    call = documented(await client.get(f"{API}/calls/{call_id}", headers=partner.headers), DETAIL)
    assert call["processing_complete"] is True and call["pipeline_completed_at"] is not None
    session = call["session"]
    assert session["transcript"] and session["latency"] is not None and session["status"] == "completed"
    assert session["duration_seconds"] == call["duration_seconds"] == 7


async def test_get_call_details_while_processing(client, partner, agent_id):
    call_id = (await start_call(client, partner, agent_id))["call_id"]
    call = documented(await client.get(f"{API}/calls/{call_id}", headers=partner.headers), DETAIL)
    assert (call["processing_complete"], call["pipeline_completed_at"], call["error_message"]) == (False, None, None)


async def test_a_failed_calls_error_message(client, platform, partner, agent_id):
    call_id = (await start_call(client, partner, agent_id))["call_id"]
    await fail(platform, call_id)
    call = documented(await client.get(f"{API}/calls/{call_id}", headers=partner.headers), DETAIL)
    assert (call["status"], call["error_message"]) == ("failed", "No route to destination")


async def test_get_current_call_concurrency(client, partner, agent_id):
    await start_call(client, partner, agent_id)
    data = documented(await client.get(f"{API}/calls/concurrency", headers=partner.headers), CONCURRENCY)
    assert data == {"limit": 10, "limit_source": "partner", "active": 1, "remaining": 9,
                    "statuses_counted": ["PENDING", "RINGING", "IN_PROGRESS"]}  # fmt: skip


async def test_credits_used_in_the_calls_session(client, platform, partner, agent_id):
    call_id = (await start_call(client, partner, agent_id))["call_id"]
    await talk_and_hang_up(platform, call_id)
    documented(await client.get(f"{API}/calls/{call_id}", headers=partner.headers), {"session": {"credits_used": "number"}})
