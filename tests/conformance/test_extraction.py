"""Post-call extraction, as the docs pages give it: post-call-extraction (the PUT example, the
block in session.completed and on data.session.extraction) and
run-post-call-extraction-test-analysis-replay (the request and response example)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callwright.services.extraction import ExtractionWorker
from callwright.store.models import WebhookEvent
from tests.conformance.shapes import documented
from tests.conformance.support import API, docs_agent, mcube_account, start_call, talk_and_hang_up
from tests.extraction_support import llm_settings, serving_llm

# The page's PUT example, as written there.
PUT_EXAMPLE = {
    "extraction_config": {
        "prompt": "Analyze the conversation and extract the caller's intent, sentiment, and any commitments made.",
        "keys": [
            {"name": "interested", "type": "boolean", "description": "Did the user express interest in our offering?"},
            {"name": "callback_at", "type": "datetime", "description": "ISO timestamp if the user requested a callback; null otherwise."},
            {"name": "outcome", "type": "string", "description": "One of: callback_requested, sale_made, not_interested, voicemail, no_answer."},
        ],
        "includeToolLogs": False,
    }
}  # fmt: skip
BLOCK = {"status": "string", "values": "object", "model": "string", "extractedAt": "datetime",
         "latencyMs": "integer", "attempts": "integer", "error": "string|null"}  # fmt: skip
REPLAY = {"call_id": "string", "session_id": "string", "dry_run": "boolean", "extraction": BLOCK}


@pytest.fixture
def llm_server():
    yield from serving_llm()


@pytest.fixture
def settings(settings, llm_server):
    return settings.model_copy(update=llm_settings(llm_server))


async def test_the_schema_the_replay_and_the_block(client, platform, partner):
    await mcube_account(platform, partner.id)
    agent_id = await docs_agent(client, partner)
    put = await client.put(f"{API}/agent/{agent_id}", json=PUT_EXAMPLE, headers=partner.headers)
    assert put.status_code == 200 and put.json()["data"]["extraction_config"] == PUT_EXAMPLE["extraction_config"]
    call_id = (await start_call(client, partner, agent_id))["call_id"]
    await talk_and_hang_up(platform, call_id)

    replay = await client.post(f"{API}/calls/{call_id}/extract", json={"dry_run": True}, headers=partner.headers)
    data = documented(replay, REPLAY)
    assert data["dry_run"] is True and set(data["extraction"]["values"]) == {"interested", "callback_at", "outcome"}

    assert await ExtractionWorker(platform).run_due() == 1
    call = documented(await client.get(f"{API}/calls/{call_id}", headers=partner.headers), {"session": {"extraction": BLOCK}})
    assert call["session"]["extraction"]["status"] == "success"
    async with platform.sessions() as session:
        event = await session.scalar(
            select(WebhookEvent).where(WebhookEvent.call_id == call_id, WebhookEvent.type == "session.completed")
        )
    assert event is not None and event.data["extraction"] == call["session"]["extraction"]
