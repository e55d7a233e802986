"""Post-call extraction after a call, against a local OpenAI-compatible server and a local webhook
receiver: the block in ``session.completed`` and on the call, retries on an answer that is not
JSON, a failure that does not block the webhook, the bound on the wait, no LLM → skipped, the
function calls fed in with ``includeToolLogs``, and nothing held for agents without a schema."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select, update

from callwright.domain.calls import EventKind
from callwright.platform import Platform
from callwright.services.extraction import NO_LLM, ExtractionWorker
from callwright.services.webhook_sender import WebhookSender
from callwright.store.models import Call, WebhookDelivery, WebhookEvent, utcnow
from tests.extraction_support import (
    CONFIG,
    GOOD_ANSWER,
    GOOD_VALUES,
    call_row,
    call_with,
    function_called,
    llm_settings,
    serving_llm,
)
from tests.voice.openai_server import FakeOpenAIServer
from tests.webhook_receiver import WebhookReceiver
from tests.webhook_support import add_endpoint, carrier_says, ended, event

FAST = {"webhook_retry_base_secs": 0.1, "webhook_retry_max_delay_secs": 0.4, "webhook_timeout_secs": 3.0}


@pytest.fixture
def llm_server():
    yield from serving_llm()


@pytest.fixture
async def receiver():
    receiver = await WebhookReceiver(secrets=["whsec_x"]).start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def running(settings):
    """Start a platform with ``**overrides`` and its extraction worker and webhook sender."""
    started: list[tuple[Platform, list]] = []

    async def start(*, worker: bool = True, **overrides) -> Platform:
        platform = Platform.from_settings(settings.model_copy(update=FAST | overrides))
        loops: list = [WebhookSender(platform, poll_interval_secs=0.05)]
        if worker:
            loops.append(ExtractionWorker(platform, poll_interval_secs=0.05))
        for loop in loops:
            loop.start()
        started.append((platform, loops))
        return platform

    yield start
    for platform, loops in started:
        for loop in loops:
            await loop.stop()
        await platform.close()


async def _end(platform, call_id) -> None:
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    await carrier_says(platform, call_id, ended())  # no media: session.completed now


async def _completed(receiver, count: int = 1) -> list[dict]:
    got = await receiver.wait_for(count, event="session.completed")
    return [r.json["data"] for r in got]


async def test_values_arrive_in_session_completed_and_on_the_call_after_a_retry(
    platform, partner, receiver, running, llm_server: FakeOpenAIServer, client
):
    llm_server.completions = ["Sure! The caller wants a callback.", GOOD_ANSWER]
    live = await running(**llm_settings(llm_server, extraction_hold_secs=600))
    await add_endpoint(live, partner.id, receiver.url(), "whsec_x")
    call_id = await call_with(live, partner.id, CONFIG)
    await _end(live, call_id)

    (data,) = await _completed(receiver)
    block = data["extraction"]
    assert block["status"] == "success" and block["values"] == GOOD_VALUES
    assert block["attempts"] == 2 and block["error"] is None and block["model"] == "local-extractor"
    assert set(block) == {"status", "values", "model", "extractedAt", "latencyMs", "attempts", "error"}
    assert data["processing_complete"] is True and data["call"]["call_id"] == call_id

    sent = llm_server.of_kind(streamed=False)
    assert len(sent) == 2  # the first answer was not JSON: asked once more
    request = sent[-1]
    assert request.authorization == "Bearer sk-local-test-key"
    assert request.body["model"] == "local-extractor" and request.body["stream"] is False
    schema = request.body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["interested", "callback_at", "outcome"]
    assert schema["properties"]["interested"]["type"] == ["boolean", "null"]
    system, user = request.body["messages"]
    assert CONFIG["prompt"] in system["content"]
    assert "user: Hi." in user["content"] and "bot: See you tomorrow." in user["content"]

    detail = (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]
    assert detail["session"]["extraction"] == block
    assert (await call_row(live, call_id)).extraction_due_at is None


async def test_values_of_the_wrong_type_are_asked_again_then_reported_as_null(
    platform, partner, receiver, running, llm_server: FakeOpenAIServer
):
    wrong = '{"interested": "perhaps", "callback_at": "next week", "outcome": "sale_made"}'
    llm_server.completions = [wrong]
    live = await running(**llm_settings(llm_server, extraction_max_attempts=2, extraction_hold_secs=600))
    await add_endpoint(live, partner.id, receiver.url(), "whsec_x")
    call_id = await call_with(live, partner.id, CONFIG)
    await _end(live, call_id)

    (data,) = await _completed(receiver)
    block = data["extraction"]
    assert block["status"] == "success" and block["attempts"] == 2
    assert block["values"] == {"interested": None, "callback_at": None, "outcome": "sale_made"}
    assert block["error"] == (
        'interested: must be true or false, not "perhaps"; '
        'callback_at: must be an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ), not "next week"'
    )
    assert len(llm_server.of_kind(streamed=False)) == 2
    assert call_id


async def test_a_failing_llm_does_not_block_the_webhook(
    platform, partner, receiver, running, llm_server: FakeOpenAIServer
):
    llm_server.mode = "error"
    live = await running(**llm_settings(llm_server, extraction_hold_secs=600))
    await add_endpoint(live, partner.id, receiver.url(), "whsec_x")
    call_id = await call_with(live, partner.id, CONFIG)
    await _end(live, call_id)

    (data,) = await _completed(receiver)  # long before the 600 s hold
    block = data["extraction"]
    assert block["status"] == "failed" and block["attempts"] == 3
    assert block["error"] == "the LLM answered HTTP 500"
    assert block["values"] == {"interested": None, "callback_at": None, "outcome": None}
    assert data["transcript"] and (await call_row(live, call_id)).extraction == block


async def test_past_the_bound_the_event_leaves_with_extraction_pending(
    platform, partner, receiver, running, llm_server: FakeOpenAIServer
):
    # No extraction worker runs (as if it were stuck or every process crashed): the event is
    # durable and goes out once the hold is over.
    live = await running(worker=False, **llm_settings(llm_server, extraction_hold_secs=0.5))
    await add_endpoint(live, partner.id, receiver.url(), "whsec_x")
    call_id = await call_with(live, partner.id, CONFIG)
    await _end(live, call_id)

    (data,) = await _completed(receiver)
    assert data["extraction"]["status"] == "pending"
    assert data["extraction"]["values"] == {"interested": None, "callback_at": None, "outcome": None}
    # The job is still there: a worker started later runs it, and the call shows the result; the
    # event already sent is not sent again.
    worker = ExtractionWorker(live, poll_interval_secs=0.05)
    assert await worker.run_due() == 1
    assert (await call_row(live, call_id)).extraction["status"] == "success"
    async with live.sessions() as session:
        row = await session.scalar(select(WebhookEvent).where(WebhookEvent.call_id == call_id, WebhookEvent.type == "session.completed"))
        assert row is not None and row.data["extraction"]["status"] == "pending"
    assert len(receiver.of(event="session.completed")) == 1


async def test_without_an_llm_extraction_is_skipped_with_the_reason(platform, partner, receiver, running):
    live = await running(extraction_hold_secs=600)
    await add_endpoint(live, partner.id, receiver.url(), "whsec_x")
    call_id = await call_with(live, partner.id, CONFIG)
    await _end(live, call_id)

    (data,) = await _completed(receiver)
    assert data["extraction"]["status"] == "skipped" and data["extraction"]["error"] == NO_LLM
    assert data["extraction"]["attempts"] == 0
    assert (await call_row(live, call_id)).extraction["status"] == "skipped"


async def test_a_call_without_transcript_is_skipped_and_not_held(
    platform, partner, receiver, running, llm_server: FakeOpenAIServer
):
    live = await running(worker=False, **llm_settings(llm_server, extraction_hold_secs=600))
    await add_endpoint(live, partner.id, receiver.url(), "whsec_x")
    call_id = await call_with(live, partner.id, CONFIG, transcript=[])
    await _end(live, call_id)

    (data,) = await _completed(receiver)
    assert data["extraction"]["status"] == "skipped"
    assert data["extraction"]["error"] == "the call has no transcript to extract from"
    assert llm_server.of_kind(streamed=False) == []


async def test_include_tool_logs_feeds_the_calls_function_calls_in(
    platform, partner, receiver, running, llm_server: FakeOpenAIServer
):
    live = await running(**llm_settings(llm_server, extraction_hold_secs=600))
    await add_endpoint(live, partner.id, receiver.url(), "whsec_x")
    logged = {
        "function": "book_callback", "arguments": {"slot": "2026-05-01T15:00:00Z"}, "status": "ok",
        "status_code": 200, "latency_ms": 120, "result_bytes": 42, "error": None,
    }
    with_logs = await call_with(live, partner.id, CONFIG | {"includeToolLogs": True})
    without_logs = await call_with(live, partner.id, CONFIG)
    for call_id in (with_logs, without_logs):
        await function_called(live, call_id, partner.id, logged)

    await _end(live, with_logs)
    await _completed(receiver, 1)
    user = llm_server.of_kind(streamed=False)[-1].body["messages"][1]["content"]
    assert json.dumps(logged, sort_keys=True) in user

    await _end(live, without_logs)
    await _completed(receiver, 2)
    user = llm_server.of_kind(streamed=False)[-1].body["messages"][1]["content"]
    assert "book_callback" not in user and "Function calls" not in user


async def test_an_agent_without_a_schema_costs_nothing_and_waits_for_nothing(
    platform, partner, running, llm_server: FakeOpenAIServer
):
    live = await running(worker=False, **llm_settings(llm_server, extraction_hold_secs=600))
    await add_endpoint(live, partner.id, "http://127.0.0.1:9/hook", "whsec_x")
    call_id = await call_with(live, partner.id, None)
    await _end(live, call_id)

    call = await call_row(live, call_id)
    assert call.extraction is None and call.extraction_due_at is None
    async with live.sessions() as session:
        row = await session.scalar(select(WebhookEvent).where(WebhookEvent.call_id == call_id, WebhookEvent.type == "session.completed"))
        assert row is not None and "extraction" not in row.data
        delivery = await session.scalar(select(WebhookDelivery).where(WebhookDelivery.event_id == row.id))
        assert delivery is not None and delivery.next_attempt_at == row.created_at  # not held
    assert llm_server.requests == []


async def test_a_worker_stopped_mid_request_loses_nothing(
    platform, partner, receiver, running, llm_server: FakeOpenAIServer
):
    llm_server.mode = "hang"  # the first request is still waiting when the worker stops
    live = await running(worker=False, **llm_settings(llm_server, extraction_hold_secs=600))
    await add_endpoint(live, partner.id, receiver.url(), "whsec_x")
    call_id = await call_with(live, partner.id, CONFIG)
    await _end(live, call_id)

    first = ExtractionWorker(live, poll_interval_secs=0.05)
    first.start()
    while not llm_server.of_kind(streamed=False):
        await asyncio.sleep(0.02)
    await first.stop()  # as if the process died mid-request
    leased = await call_row(live, call_id)
    assert leased.extraction["status"] == "pending" and leased.extraction_due_at is not None
    assert receiver.of(event="session.completed") == []  # still held, not lost

    # The lease runs out (moved to now rather than waited for); another worker runs the job.
    async with live.sessions() as session:
        await session.execute(update(Call).where(Call.id == call_id).values(extraction_due_at=utcnow()))
        await session.commit()
    llm_server.mode = "stream"
    assert await ExtractionWorker(live).run_due() == 1
    (data,) = await _completed(receiver)
    assert data["extraction"]["status"] == "success" and data["extraction"]["values"] == GOOD_VALUES


async def test_get_call_shows_processing_until_extraction_has_run(
    platform, partner, running, client, llm_server: FakeOpenAIServer
):
    live = await running(worker=False, **llm_settings(llm_server, extraction_hold_secs=600))
    call_id = await call_with(live, partner.id, CONFIG)
    await _end(live, call_id)
    waiting = (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]
    assert waiting["processing_complete"] is False and waiting["pipeline_completed_at"] is None
    assert waiting["session"]["extraction"]["status"] == "pending"

    assert await ExtractionWorker(live).run_due() == 1
    done = (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]
    assert done["processing_complete"] is True and done["pipeline_completed_at"] is not None
    assert done["session"]["extraction"]["status"] == "success"
