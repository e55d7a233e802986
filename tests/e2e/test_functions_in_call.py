"""Custom functions and the opt-out tool in a whole call through the simulator: the model (a local
server speaking OpenAI's streaming protocol) calls a function attached to the agent; the caller
hears its started message, a local receiver gets the POST with the decrypted header, and the
model speaks the result; a function that times out has its error message said instead. A callee
who asks not to be called again is suppressed, and a later dial to them is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import select

from callwright.store.db import create_engine, session_factory
from callwright.store.models import CallEventRow
from tests.conftest import error_of
from tests.e2e.helpers import (
    Tenant,
    after_the_intro,
    finished_call,
    hang_up_after_the_reply,
    make_tenant,
    new_number,
    start_call,
)
from tests.voice.openai_server import FakeOpenAIServer, local_llm_settings, serving_in_thread
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

STARTED = "One moment while I check your order."
ERROR_LINE = "Sorry, the order system is not answering right now."
RESULT_LINE = "Your order ships tomorrow."


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(pieces=[], after_tool=["Your order", " ships tomorrow."])
    with serving_in_thread(server):
        yield server


@pytest.fixture(scope="module")
def platform_settings(llm_server: FakeOpenAIServer) -> dict[str, object]:
    return local_llm_settings(llm_server)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = await WebhookReceiver(answer={"status": "shipped", "eta": "tomorrow"}).start()
    yield receiver
    await receiver.stop()


async def _order_function(api, carrier_sim, receiver: WebhookReceiver, *, timeout: int = 5) -> Tenant:
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], prompt="You help with orders.")
    function = await api.post(
        "/api/v2/functions",
        json={
            "name": "check_order",
            "description": "Look up the status of the caller's order.",
            "url": receiver.url("/orders"),
            "headers": [{"key": "Authorization", "value": "Bearer orders-secret-9"}],
            "input_schema": [
                {"name": "order_id", "type": "string", "description": "The order number", "required": True},
                {"name": "name", "type": "string", "description": "Filled from the call's variables"},
            ],
            "timeout": timeout,
            "started_messages": [STARTED],
            "error_message": ERROR_LINE,
        },
        headers=tenant.headers,
    )
    assert function.status_code == 201, function.text
    attached = await api.put(
        f"/api/v2/agent/{tenant.agent_id}", json={"function_ids": [function.json()["data"]["id"]]}, headers=tenant.headers
    )
    assert attached.status_code == 200, attached.text
    return tenant


async def _events(platform_server, call_id: str) -> list[CallEventRow]:
    engine = create_engine(platform_server.settings.resolved_database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(CallEventRow).where(CallEventRow.call_id == call_id).order_by(CallEventRow.created_at)
            return list(await session.scalars(query))
    finally:
        await engine.dispose()


async def _call(api, carrier_sim, tenant: Tenant, line: str) -> tuple[str, dict]:
    number = new_number()
    carrier_sim.set_scenario(number, after_the_intro(line))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    # Hung up once the agent has been quiet 3 s after the caller spoke: past the pause between
    # "one moment" and a function's result (or its timeout's message).
    await hang_up_after_the_reply(carrier_sim, sim_call, quiet_secs=3.0)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=40)
    return number, await finished_call(api, tenant, call_id)


async def test_the_model_calls_a_function_and_speaks_its_result(
    api, carrier_sim, llm_server: FakeOpenAIServer, receiver: WebhookReceiver, platform_server
):
    llm_server.tool_call, llm_server.tool_arguments = "check_order", {"order_id": "A-1001"}
    tenant = await _order_function(api, carrier_sim, receiver)
    requests_before = len(llm_server.requests)
    _, call = await _call(api, carrier_sim, tenant, "Where is my order")

    [request] = receiver.of(path="/orders")
    assert request.headers["authorization"] == "Bearer orders-secret-9"
    # The model's argument, and the input named after a pre-call variable filled from the call.
    assert request.json == {"order_id": "A-1001", "name": "Asha"}
    bot_lines = [t["content"] for t in call["transcript"] if t["role"] == "bot"]
    assert STARTED in bot_lines and RESULT_LINE in bot_lines, call["transcript"]
    assert bot_lines.index(STARTED) < bot_lines.index(RESULT_LINE)

    offered = llm_server.requests[requests_before].body
    [tool] = [t["function"] for t in offered["tools"]]
    assert tool["name"] == "check_order" and list(tool["parameters"]["properties"]) == ["order_id"]
    after = llm_server.requests[requests_before + 1].body["messages"][-1]
    assert after["role"] == "tool" and "shipped" in after["content"]

    [event] = [e for e in await _events(platform_server, call["call_id"]) if e.kind == "function_called"]
    assert {k: event.payload[k] for k in ("function", "arguments", "status", "status_code")} == {
        "function": "check_order", "arguments": {"order_id": "A-1001"}, "status": "ok", "status_code": 200
    }
    assert event.payload["latency_ms"] >= 0 and event.payload["result_bytes"] > 0
    assert "orders-secret-9" not in str(event.payload)


async def test_a_function_that_times_out_has_its_error_message_said(
    api, carrier_sim, llm_server: FakeOpenAIServer, receiver: WebhookReceiver, platform_server
):
    llm_server.tool_call, llm_server.tool_arguments = "check_order", {"order_id": "A-2002"}
    receiver.delay_secs = 3.0
    tenant = await _order_function(api, carrier_sim, receiver, timeout=1)
    requests_before = len(llm_server.requests)
    _, call = await _call(api, carrier_sim, tenant, "Where is my order")

    bot_lines = [t["content"] for t in call["transcript"] if t["role"] == "bot"]
    assert bot_lines.index(STARTED) < bot_lines.index(ERROR_LINE), call["transcript"]
    assert RESULT_LINE not in bot_lines
    # The caller heard the error message; the model was not asked for another turn.
    assert len(llm_server.requests) == requests_before + 1
    [event] = [e for e in await _events(platform_server, call["call_id"]) if e.kind == "function_called"]
    assert (event.payload["status"], event.payload["status_code"]) == ("timeout", None)


async def test_the_model_opts_the_callee_out_and_a_later_dial_is_refused(
    api, carrier_sim, llm_server: FakeOpenAIServer, platform_server
):
    llm_server.tool_call, llm_server.tool_arguments = "opt_out", {"reason": "asked not to be called again"}
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], prompt="Be brief.", opt_out_enabled=True)
    number, call = await _call(api, carrier_sim, tenant, "Please do not call me again")

    entries = (await api.get("/api/v2/suppressions", headers=tenant.headers)).json()["data"]
    assert [(e["phone"], e["source"], e["reason"], e["call_id"]) for e in entries] == [
        (number, "in_call", "asked not to be called again", call["call_id"])
    ]
    assert [e.kind for e in await _events(platform_server, call["call_id"])].count("opted_out") == 1
    again = await api.post(
        "/api/v2/calls/start",
        json={"agent_id": tenant.agent_id, "to_number": number, "provider": "vobiz", "variables": {"name": "Asha"}},
        headers=tenant.headers,
    )
    assert again.status_code == 403 and error_of(again)["reason"] == "number_suppressed", again.text


async def test_without_a_campaign_or_the_setting_no_opt_out_is_offered(api, carrier_sim, llm_server: FakeOpenAIServer):
    llm_server.tool_call = "opt_out"
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], prompt="Be brief.")
    requests_before = len(llm_server.requests)
    await _call(api, carrier_sim, tenant, "Please do not call me again")
    assert "tools" not in llm_server.requests[requests_before].body
    assert (await api.get("/api/v2/suppressions", headers=tenant.headers)).json()["data"] == []


async def test_a_scripted_agent_calls_a_function_and_opts_out_by_rule(
    api, carrier_sim, receiver: WebhookReceiver, platform_server
):
    tenant = await _order_function(api, carrier_sim, receiver)
    script = {
        "rules": [
            {"keywords": ["order"], "reply": "Let me look.", "function": "check_order", "arguments": {"order_id": "S-7"}},
            {"keywords": ["call me again"], "reply": "Understood, we will not call you again.", "opt_out": True},
        ],
    }
    updated = await api.put(f"/api/v2/agent/{tenant.agent_id}", json={"script": script}, headers=tenant.headers)
    assert updated.status_code == 200, updated.text
    number = new_number()
    # The caller lets the agent finish each answer before the next line (fixed times talked over
    # a late answer on a loaded box), and hangs up once the second is answered.
    carrier_sim.set_scenario(
        number, after_the_intro("Where is my order", "Please do not call me again", takes_turns=True, gap_secs=0.5)
    )
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await hang_up_after_the_reply(carrier_sim, sim_call, quiet_secs=3.0)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=40)
    call = await finished_call(api, tenant, call_id)

    assert [r.json for r in receiver.of(path="/orders")] == [{"order_id": "S-7", "name": "Asha"}]
    bot_lines = [t["content"] for t in call["transcript"] if t["role"] == "bot"]
    assert bot_lines.count("Let me look.") == 1 and STARTED in bot_lines, call["transcript"]
    assert bot_lines.count("Understood, we will not call you again.") == 1, call["transcript"]
    entries = (await api.get("/api/v2/suppressions", headers=tenant.headers)).json()["data"]
    assert [(e["phone"], e["source"], e["call_id"]) for e in entries] == [(number, "in_call", call_id)]
    kinds = [e.kind for e in await _events(platform_server, call_id)]
    assert kinds.count("function_called") == 1 and kinds.count("opted_out") == 1


async def test_a_script_rule_must_name_an_attached_function(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"])
    script = {"rules": [{"keywords": ["order"], "reply": "Let me look.", "function": "check_order"}]}
    refused = await api.put(f"/api/v2/agent/{tenant.agent_id}", json={"script": script}, headers=tenant.headers)
    assert refused.status_code == 400 and "check_order" in error_of(refused)["message"], refused.text
