"""A model-driven agent through the simulator: the operator's OpenAI-compatible endpoint (a local
server speaking OpenAI's streaming protocol) answers the caller, gets the agent's prompt with the
call's variables filled in, and hangs up through the ``end_call`` tool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.helpers import (
    after_the_intro,
    finished_call,
    hang_up_after_the_reply,
    heard_speech_secs,
    make_tenant,
    new_number,
    start_call,
)
from tests.voice.openai_server import FakeOpenAIServer, local_llm_settings, serving_in_thread
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

GOODBYE = "Glad I could help, Asha. Goodbye!"


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(pieces=["Glad I could", " help, Asha.", " Goodbye!"], tool_call="end_call")
    with serving_in_thread(server):
        yield server


@pytest.fixture(scope="module")
def platform_settings(llm_server: FakeOpenAIServer) -> dict[str, object]:
    return local_llm_settings(llm_server)


async def test_the_model_answers_with_the_prompt_and_ends_the_call_through_its_tool(
    api, carrier_sim, llm_server: FakeOpenAIServer
):
    tenant = await make_tenant(
        api,
        carrier_sim,
        ["vobiz"],
        prompt="You are a booking assistant calling {{name}} about {{topic}}.",
        variables=["name", "topic"],
        end_call_enabled=True,
        end_call_message="Thanks for your time.",
        end_call_instructions="End the call once {{name}} says goodbye.",
    )
    number = new_number()
    carrier_sim.set_scenario(number, after_the_intro("That is all for today thank you goodbye"))
    requests_before = len(llm_server.requests)
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=40)
    call = await finished_call(api, tenant, call_id)

    assert call["status"] == "completed", call
    assert call["end_reason"] == "ended by agent", call
    bot_lines = [t["content"] for t in call["transcript"] if t["role"] == "bot"]
    assert bot_lines[-2:] == [GOODBYE, "Thanks for your time."], call["transcript"]
    # Both the reply and the end-call message were heard after the caller spoke.
    spoken_until = sim_call.caller_speech()[-1].ends_at
    assert heard_speech_secs(sim_call, after=spoken_until) >= 1.5

    request = llm_server.requests[requests_before]
    assert request.authorization == "Bearer sk-local-test-key"
    assert request.body["model"] == "local-model" and request.body["stream"] is True
    system = request.body["messages"][0]
    assert system["role"] == "system"
    # {{name}} from the call's variables; {{topic}} was not given, so it renders as "".
    assert system["content"].startswith("You are a booking assistant calling Asha about .")
    assert "When to end the call:\nEnd the call once Asha says goodbye." in system["content"]
    tools = [t["function"]["name"] for t in request.body["tools"]]
    assert tools == ["end_call"]
    # The tool result asked for no further turn: one request for the one user turn.
    assert len(llm_server.requests) == requests_before + 1, [[m.get("role") for m in r.body["messages"]] + [r.body["messages"][-1]] for r in llm_server.requests[requests_before:]]

    reply = next(t for t in call["transcript"] if t["content"] == GOODBYE)
    breakdown = reply["breakdown"]
    assert set(breakdown) == {"vad_stop", "stt_final", "llm_first_token", "tts_first_audio"}
    assert breakdown["vad_stop"] <= breakdown["stt_final"] <= breakdown["llm_first_token"]
    assert breakdown["llm_first_token"] <= breakdown["tts_first_audio"] <= reply["latency_ms"]


async def test_without_end_call_enabled_the_model_gets_no_tool(api, carrier_sim, llm_server: FakeOpenAIServer):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], prompt="Be brief.")
    number = new_number()
    carrier_sim.set_scenario(number, after_the_intro("What is this about"))
    requests_before = len(llm_server.requests)
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await hang_up_after_the_reply(carrier_sim, sim_call)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await finished_call(api, tenant, call_id)

    assert call["end_reason"] != "ended by agent", call
    request = llm_server.requests[requests_before]
    assert "tools" not in request.body
    assert request.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [t["role"] for t in call["transcript"]] == ["bot", "user", "bot"], call["transcript"]


async def test_after_the_call_its_extraction_arrives_in_session_completed(
    api, carrier_sim, llm_server: FakeOpenAIServer
):
    receiver = await WebhookReceiver().start()
    llm_server.completions = ['{"booked": "yes", "reason": "a booking", "callback_on": null}']
    try:
        tenant = await make_tenant(
            api,
            carrier_sim,
            ["vobiz"],
            prompt="You are a booking assistant calling {{name}}.",
            end_call_enabled=True,
            extraction_config={
                "prompt": "Did the caller book?",
                "keys": [
                    {"name": "booked", "type": "boolean"},
                    {"name": "reason", "type": "string"},
                    {"name": "callback_on", "type": "date"},
                ],
            },
        )
        created = await api.post(
            "/api/v2/config/webhooks", json={"label": "x", "url": receiver.url("/x")}, headers=tenant.headers
        )
        assert created.status_code == 201, created.text
        receiver.secrets.append(created.json()["data"]["secret"])
        number = new_number()
        carrier_sim.set_scenario(number, after_the_intro("That is all for today thank you goodbye"))
        call_id = await start_call(api, tenant, "vobiz", number)

        (completed,) = await receiver.wait_for(1, event="session.completed", timeout=60)
        assert completed.signed_with is not None
        block = completed.json["data"]["extraction"]
        assert block["status"] == "success", block
        assert block["values"] == {"booked": True, "reason": "a booking", "callback_on": None}
        request = llm_server.of_kind(streamed=False)[-1]
        assert request.body["model"] == "local-model"
        assert f"bot: {GOODBYE}" in request.body["messages"][1]["content"]
        call = await finished_call(api, tenant, call_id)
        assert call["session"]["extraction"] == block
    finally:
        llm_server.completions = ["{}"]
        await receiver.stop()
