"""``extraction_config`` on agents (Vocobase's shape, validated) and ``POST /calls/{id}/extract``:
the agent's current schema, dry run or stored, 400 without a schema, the webhook never sent
again, another partner's call 404 — with the operator's LLM a local OpenAI-compatible server."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from callwright.domain.calls import EventKind
from callwright.services.extraction import ExtractionWorker
from callwright.store.models import WebhookDelivery, WebhookEvent
from tests.conftest import error_of
from tests.extraction_support import CONFIG, GOOD_VALUES, call_row, call_with, llm_settings, serving_llm
from tests.voice.openai_server import FakeOpenAIServer
from tests.webhook_support import add_endpoint, carrier_says, ended, event

AGENTS = "/api/v2/agent"


@pytest.fixture
def llm_server():
    yield from serving_llm()


@pytest.fixture
def settings(settings, llm_server):
    """The conftest's settings, the operator's LLM being the local server."""
    return settings.model_copy(update=llm_settings(llm_server))


async def _agent(client, partner, **fields) -> dict:
    response = await client.post(AGENTS, json={"agent_name": "Sales bot"} | fields, headers=partner.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]


# --- the schema on the agent -----------------------------------------------------------------------


async def test_the_schema_is_stored_and_shown_in_vocobase_shape(client, partner):
    agent = await _agent(client, partner, extraction_config=CONFIG)
    assert agent["extraction_config"] == CONFIG
    shown = (await client.get(f"{AGENTS}/{agent['id']}", headers=partner.headers)).json()["data"]
    assert shown["extraction_config"] == CONFIG

    snake = CONFIG | {"include_tool_logs": True}
    del snake["includeToolLogs"]
    changed = await client.put(f"{AGENTS}/{agent['id']}", json={"extraction_config": snake}, headers=partner.headers)
    assert changed.json()["data"]["extraction_config"]["includeToolLogs"] is True

    cleared = await client.put(f"{AGENTS}/{agent['id']}", json={"extraction_config": None}, headers=partner.headers)
    assert cleared.json()["data"]["extraction_config"] is None


async def test_a_key_without_type_is_a_string(client, partner):
    agent = await _agent(client, partner, extraction_config={"keys": [{"name": "summary"}]})
    assert agent["extraction_config"]["keys"] == [{"name": "summary", "type": "string", "description": None}]
    assert agent["extraction_config"]["includeToolLogs"] is False


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"keys": [{"name": "x", "type": "money"}]}, "extraction_config.keys.0.type"),
        ({"keys": [{"name": "2x"}]}, "extraction_config.keys.0.name"),
        ({"keys": [{"name": "has-dash"}]}, "extraction_config.keys.0.name"),
        ({"keys": [{"name": "x" * 65}]}, "extraction_config.keys.0.name"),
        ({"keys": [{"name": "a"}, {"name": "a"}]}, "'a' appears twice"),
        ({"keys": []}, "extraction_config.keys"),
        ({"prompt": "p"}, "extraction_config.keys"),
        ({"prompt": "p", "keys": [{"name": "a"}], "colour": "blue"}, "colour"),
        ({"keys": [{"name": f"k{i}"} for i in range(51)]}, "extraction_config.keys"),
        ({"keys": [{"name": "a", "description": "d" * 2001}]}, "extraction_config.keys.0.description"),
        ({"prompt": "p" * 20_001, "keys": [{"name": "a"}]}, "extraction_config.prompt"),
        ({"keys": [{"name": "a"}], "includeToolLogs": "yes"}, "includeToolLogs"),
    ],
)
async def test_a_bad_schema_is_refused_naming_the_field(client, partner, config, words):
    response = await client.post(
        AGENTS, json={"agent_name": "Sales bot", "extraction_config": config}, headers=partner.headers
    )
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert words in error["message"] + str(error.get("details")), error


# --- replay -------------------------------------------------------------------------------------


async def _ended_call(platform, partner, agent_id: str, snapshot: dict | None) -> str:
    call_id = await call_with(platform, partner.id, snapshot, agent_id=agent_id)
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    await carrier_says(platform, call_id, ended())
    return call_id


async def _webhook_rows(platform, call_id: str) -> tuple[int, int, list[dict]]:
    async with platform.sessions() as session:
        events = list(await session.scalars(select(WebhookEvent).where(WebhookEvent.call_id == call_id)))
        deliveries = await session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.event_id.in_([e.id for e in events])
            )
        )
        return len(events), int(deliveries or 0), [e.data for e in events]


async def test_replay_uses_the_agents_current_schema_and_stores_unless_dry_run(
    client, platform, partner, llm_server: FakeOpenAIServer
):
    old = {"keys": [{"name": "old_key", "type": "string"}], "includeToolLogs": False}
    agent = await _agent(client, partner, extraction_config=CONFIG)
    await add_endpoint(platform, partner.id, "http://127.0.0.1:9/hook", "whsec_x")
    call_id = await _ended_call(platform, partner, agent["id"], old)  # the call's schema was older
    before = await _webhook_rows(platform, call_id)
    stored_before = (await call_row(platform, call_id)).extraction

    dry = await client.post(f"/api/v2/calls/{call_id}/extract", json={"dry_run": True}, headers=partner.headers)
    assert dry.status_code == 200, dry.text
    data = dry.json()["data"]
    assert data["call_id"] == call_id and data["dry_run"] is True
    assert data["session_id"] == (await call_row(platform, call_id)).session_id
    assert data["extraction"]["status"] == "success" and data["extraction"]["values"] == GOOD_VALUES
    assert (await call_row(platform, call_id)).extraction == stored_before  # not stored
    schema = llm_server.of_kind(streamed=False)[-1].body["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["interested", "callback_at", "outcome"]  # the current one

    real = await client.post(f"/api/v2/calls/{call_id}/extract", headers=partner.headers)  # no body: dry_run false
    assert real.status_code == 200 and real.json()["data"]["dry_run"] is False
    detail = (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]
    assert detail["session"]["extraction"] == real.json()["data"]["extraction"]
    assert detail["session"]["extraction"]["values"] == GOOD_VALUES

    assert await _webhook_rows(platform, call_id) == before  # no event, no delivery, data unchanged


async def test_replay_without_a_schema_is_400(client, platform, partner, llm_server: FakeOpenAIServer):
    agent = await _agent(client, partner)
    call_id = await _ended_call(platform, partner, agent["id"], CONFIG)  # the call had one; the agent no longer
    response = await client.post(f"/api/v2/calls/{call_id}/extract", json={"dry_run": True}, headers=partner.headers)
    assert response.status_code == 400
    assert error_of(response)["reason"] == "extraction_not_configured"
    assert llm_server.of_kind(streamed=False) == []


async def test_replay_body_is_validated(client, platform, partner):
    agent = await _agent(client, partner, extraction_config=CONFIG)
    call_id = await _ended_call(platform, partner, agent["id"], CONFIG)
    for body in ({"dry_run": "yes"}, {"dry_run": True, "other": 1}):
        response = await client.post(f"/api/v2/calls/{call_id}/extract", json=body, headers=partner.headers)
        assert response.status_code == 400 and error_of(response)["code"] == "VALIDATION_ERROR"


async def test_another_partners_call_is_404_and_untouched(
    client, platform, partner, other_partner, llm_server: FakeOpenAIServer
):
    agent = await _agent(client, partner, extraction_config=CONFIG)
    call_id = await _ended_call(platform, partner, agent["id"], CONFIG)
    stored = (await call_row(platform, call_id)).extraction
    for dry_run in (True, False):
        response = await client.post(
            f"/api/v2/calls/{call_id}/extract", json={"dry_run": dry_run}, headers=other_partner.headers
        )
        assert response.status_code == 404 and error_of(response)["reason"] == "call_not_found"
    assert (await call_row(platform, call_id)).extraction == stored
    assert llm_server.of_kind(streamed=False) == []


async def test_a_stored_replay_is_not_overwritten_by_the_calls_own_job(
    client, platform, partner, llm_server: FakeOpenAIServer
):
    agent = await _agent(client, partner, extraction_config=CONFIG)
    call_id = await _ended_call(platform, partner, agent["id"], {"keys": [{"name": "old_key"}]})
    assert (await call_row(platform, call_id)).extraction["status"] == "pending"  # its job waits

    replayed = await client.post(f"/api/v2/calls/{call_id}/extract", json={"dry_run": False}, headers=partner.headers)
    assert replayed.json()["data"]["extraction"]["values"] == GOOD_VALUES
    llm_server.completions = ['{"old_key": "from the call-time schema"}']
    assert await ExtractionWorker(platform).run_due() == 1

    call = await call_row(platform, call_id)
    assert call.extraction == replayed.json()["data"]["extraction"] and call.extraction_due_at is None
    _, _, datas = await _webhook_rows(platform, call_id)
    (data,) = [d for d in datas if "transcript" in d]  # session.completed
    assert data["extraction"]["values"] == {"old_key": "from the call-time schema"}  # the event: the call's own
