"""The agent's side of transfer and DTMF in whole calls through the simulator: the model (a local
server speaking OpenAI's streaming protocol) calls ``transfer_call`` — offered with the agent's
transfer instructions in its description and its prompt — and the carrier dials the human; a
scripted agent transfers by rule; the caller's key presses reach the brain as a user turn in the
transcript on each carrier's media stream; the model's ``send_dtmf`` reaches the simulated
carrier's DTMF resource where the carrier has one, and is not offered where it has none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callwright.domain.transfers import AGENT_BACK_MESSAGE
from callwright.sim import DtmfPress, Scenario
from tests.e2e.helpers import (
    Tenant,
    finished_call,
    hang_up_once_the_agent_spoke_after,
    make_tenant,
    new_number,
    start_call,
    transfer_leg_over,
)
from tests.voice.openai_server import FakeOpenAIServer, local_llm_settings, serving_in_thread

pytestmark = pytest.mark.e2e

HOLD = "Connecting you to a person now."
WHEN = "Transfer when the caller asks for a human or a manager."


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(pieces=["Of course."], after_tool=["Done."])
    with serving_in_thread(server):
        yield server


@pytest.fixture(scope="module")
def platform_settings(llm_server: FakeOpenAIServer) -> dict[str, object]:
    return local_llm_settings(llm_server)


async def _run(api, carrier_sim, tenant: Tenant, provider: str, scenario: Scenario, *, back_from_transfer: bool = False):
    """One call to its end. ``back_from_transfer``: the caller hangs up once the agent, back on the
    line after a transfer leg that reached nobody, has spoken (the scenario's time is a backstop)."""
    number = new_number()
    carrier_sim.set_scenario(number, scenario)
    call_id = await start_call(api, tenant, provider, number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier=provider, timeout=15)
    if back_from_transfer:
        await hang_up_once_the_agent_spoke_after(carrier_sim, sim_call, transfer_leg_over(sim_call))
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=60)
    return sim_call, await finished_call(api, tenant, call_id)


@pytest.mark.parametrize("provider", ["plivo", "vobiz", "twilio"])
async def test_the_model_transfers_the_call_to_a_human(api, carrier_sim, llm_server: FakeOpenAIServer, provider: str):
    llm_server.tool_call, llm_server.tool_arguments = "transfer_call", {}
    human = new_number()
    carrier_sim.set_scenario(human, Scenario.answer(hangs_up_after_secs=1.0))
    tenant = await make_tenant(
        api, carrier_sim, [provider], prompt="You answer questions.",
        transfer_enabled=True, transfer_number=human, transfer_message=HOLD, transfer_instructions=WHEN,
    )
    before = len(llm_server.requests)
    sim_call, call = await _run(
        api, carrier_sim, tenant, provider,
        Scenario.caller_hangs_up_after(40.0, "Let me speak to a manager", leading_silence_secs=4.0),
    )

    offered = llm_server.requests[before].body
    [tool] = [t["function"] for t in offered["tools"]]
    assert tool["name"] == "transfer_call" and WHEN in tool["description"]
    assert f"When to transfer the call:\n{WHEN}" in offered["messages"][0]["content"]
    assert [(leg.to, leg.status) for leg in sim_call.dials] == [(human, "completed")]
    assert call["transfer"]["status"] == "transferred" and call["transfer"]["source"] == "agent"
    bot_lines = [t["content"] for t in call["transcript"] if t["role"] == "bot"]
    assert HOLD in bot_lines, call["transcript"]


async def test_the_model_transfers_warm_and_the_llm_briefs_the_human(api, carrier_sim, llm_server: FakeOpenAIServer):
    llm_server.tool_call, llm_server.tool_arguments = "transfer_call", {}
    llm_server.completions = ["Asha would like a manager to call about her order."]
    human = new_number()
    carrier_sim.set_scenario(human, Scenario.answer(hangs_up_after_secs=6.0))
    tenant = await make_tenant(
        api, carrier_sim, ["twilio"], prompt="You answer questions.", transfer_enabled=True,
        transfer_number=human, transfer_message=HOLD, transfer_instructions=WHEN, transfer_mode="warm",
    )
    before = len(llm_server.requests)
    _, call = await _run(
        api, carrier_sim, tenant, "twilio",
        Scenario.caller_hangs_up_after(60.0, "Let me speak to a manager", leading_silence_secs=4.0),
    )
    [asked] = [r.body for r in llm_server.requests[before:] if not r.body.get("stream")]
    transcript = asked["messages"][-1]["content"]  # the transcript so far, as the LLM got it
    assert f"Agent: {HOLD}" in transcript and "Caller:" in transcript and "manager" in transcript.lower()
    human_leg = carrier_sim.calls(to=human, carrier="twilio")[-1]
    assert human_leg.carrier_said == ["Asha would like a manager to call about her order."]
    transfer = call["transfer"]
    assert (transfer["status"], transfer["mode"], transfer["source"]) == ("transferred", "warm", "agent"), transfer
    assert transfer["summary"] == "Asha would like a manager to call about her order."


async def test_a_scripted_agent_transfers_by_rule(api, carrier_sim):
    human = new_number()
    carrier_sim.set_scenario(human, Scenario.busy())
    script = {"rules": [{"keywords": ["human"], "reply": "Sure.", "transfer": True}]}
    tenant = await make_tenant(
        api, carrier_sim, ["vobiz"], script=script, transfer_enabled=True, transfer_number=human,
    )
    sim_call, call = await _run(
        api, carrier_sim, tenant, "vobiz",
        Scenario.caller_hangs_up_after(60.0, "I want a human please", leading_silence_secs=4.0),
        back_from_transfer=True,
    )
    assert [(leg.to, leg.status) for leg in sim_call.dials] == [(human, "busy")]
    assert call["transfer"]["status"] == "busy" and call["transfer"]["carrier_reason"] == "USER_BUSY"
    bot_lines = [t["content"] for t in call["transcript"] if t["role"] == "bot"]
    assert bot_lines.index("Sure.") < bot_lines.index("Please hold while I transfer you."), bot_lines
    # The human was busy: the agent is back on the line and says so.
    assert bot_lines.index("Please hold while I transfer you.") < bot_lines.index(AGENT_BACK_MESSAGE), bot_lines


@pytest.mark.parametrize("provider", ["plivo", "vobiz", "twilio", "exotel"])
async def test_the_callers_key_presses_are_a_user_turn(api, carrier_sim, provider: str):
    script = {"rules": [{"keywords": ["DTMF"], "reply": "You pressed some keys."}]}
    tenant = await make_tenant(api, carrier_sim, [provider], script=script)
    presses = tuple(DtmfPress(digit=d, at_secs=5.0 + i * 0.2) for i, d in enumerate("42#"))
    _, call = await _run(
        api, carrier_sim, tenant, provider,
        Scenario.caller_hangs_up_after(12.0, leading_silence_secs=11.0, dtmf=presses),
    )
    turns = [(t["role"], t["content"]) for t in call["transcript"]]
    assert ("user", "DTMF: 42#") in turns, turns
    assert turns[turns.index(("user", "DTMF: 42#")) + 1] == ("bot", "You pressed some keys.")


async def test_the_model_presses_keys_where_the_carrier_can(api, carrier_sim, llm_server: FakeOpenAIServer):
    llm_server.tool_call, llm_server.tool_arguments = "send_dtmf", {"digits": "1#"}
    tenant = await make_tenant(api, carrier_sim, ["plivo", "twilio"], prompt="Get through the menu.", send_dtmf_enabled=True)
    first = len(llm_server.requests)
    sim_call, _ = await _run(
        api, carrier_sim, tenant, "plivo",
        Scenario.caller_hangs_up_after(12.0, "Press one for sales", leading_silence_secs=4.0),
    )
    assert sim_call.dtmf_sent == ["1#"]
    assert [t["function"]["name"] for t in llm_server.requests[first].body["tools"]] == ["send_dtmf"]

    before = len(llm_server.requests)
    await _run(
        api, carrier_sim, tenant, "twilio",
        Scenario.caller_hangs_up_after(10.0, "Press one for sales", leading_silence_secs=4.0),
    )
    # Twilio cannot press keys without ending the media stream: the tool is not offered.
    assert "tools" not in llm_server.requests[before].body
