"""Warm transfer through the simulator: the caller stays with the agent while the carrier calls the
human (a second call), the human's phone hears a summary of the call (the carrier's ``<Say>`` /
``<Speak>``), and only then are both legs bridged in a conference (TwiML ``<Dial><Conference>``,
VobizXML/PlivoXML ``<Conference>``). A human who is busy or does not answer never takes the caller
away from the agent, who says so. Outcomes are typed on the call and in ``session.completed``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from callwright.domain.transfers import AGENT_BACK_MESSAGE, DEFAULT_WARM_TRANSFER_MESSAGE
from callwright.sim import Scenario
from callwright.sim.conference import JOINED, SAID
from tests.conftest import error_of
from tests.e2e.helpers import (
    Tenant,
    finished_call,
    hang_up_once_the_agent_spoke_after,
    make_tenant,
    new_number,
    start_call,
    wait_for_status,
)
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = await WebhookReceiver().start()
    yield receiver
    await receiver.stop()


async def _with_webhook(api, tenant: Tenant, receiver: WebhookReceiver) -> None:
    created = await api.post(
        "/api/v2/config/webhooks", json={"label": "t", "url": receiver.url("/t")}, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    receiver.secrets.append(created.json()["data"]["secret"])


async def _until(check, what: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """Poll ``check()`` until it returns something truthy (an event, not a duration, is awaited)."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.05)
    return found


@pytest.mark.parametrize("provider", ["twilio", "vobiz"])
async def test_the_human_hears_the_summary_before_the_caller_is_bridged(api, carrier_sim, receiver, provider: str):
    human = new_number()
    carrier_sim.set_scenario(human, Scenario.answer())  # picks up; hangs up when the test says
    script = {"rules": [{"keywords": ["human"], "reply": "Sure.", "transfer": True}]}
    tenant = await make_tenant(
        api, carrier_sim, [provider], script=script,
        transfer_enabled=True, transfer_number=human, transfer_mode="warm",
    )
    await _with_webhook(api, tenant, receiver)
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(90.0, "I want a human please", leading_silence_secs=4.0))
    call_id = await start_call(api, tenant, provider, number)
    caller = await carrier_sim.wait_for_call(to=number, carrier=provider, timeout=15)

    # The carrier calls the human while the caller is still with the agent.
    human_leg = await carrier_sim.wait_for_call(to=human, carrier=provider, timeout=60)
    await _until(lambda: caller.conferences, "the caller joining the conference")
    carrier_sim.caller_hangs_up(human_leg.call_id)  # the human ends the bridged call
    await carrier_sim.wait_for_call_end(caller.call_id, timeout=60)
    call = await finished_call(api, tenant, call_id)

    transfer = call["transfer"]
    summary = transfer["summary"]
    assert "human" in summary.lower(), summary  # the caller's own words, from the transcript
    assert human_leg.carrier_said == [summary]  # what the human's phone heard
    # In the one order things happened: summary said to the human, then the bridge.
    order = [(e.call_id, e.kind) for e in carrier_sim.timeline() if e.call_id in (caller.call_id, human_leg.call_id)]
    said = order.index((human_leg.call_id, SAID))
    assert said < order.index((human_leg.call_id, JOINED)), order
    assert said < order.index((caller.call_id, JOINED)), order
    assert caller.conferences == human_leg.conferences == [f"callwright-{call_id}"]
    assert caller.dials == []  # no cold <Dial>

    assert (transfer["status"], transfer["mode"], transfer["source"], transfer["to"]) == (
        "transferred", "warm", "agent", human,
    ), transfer
    assert transfer["carrier_status"] == "in-progress" and transfer["completed_at"] and transfer["bridged_at"]
    assert call["end_reason"] == "transferred"
    bot_lines = [t["content"] for t in call["transcript"] if t["role"] == "bot"]
    assert bot_lines.index("Sure.") < bot_lines.index(DEFAULT_WARM_TRANSFER_MESSAGE), bot_lines
    assert AGENT_BACK_MESSAGE not in bot_lines

    (completed,) = await receiver.wait_for(1, path="/t", event="session.completed", timeout=30)
    assert completed.json["data"]["transfer"] == transfer


@pytest.mark.parametrize(
    ("outcome", "scenario", "carrier_word"),
    [("busy", Scenario.busy(), "busy"), ("no_answer", Scenario.no_answer(after_secs=1.0), "no-answer")],
)
async def test_a_human_not_reached_leaves_the_caller_with_the_agent(
    api, carrier_sim, receiver, outcome: str, scenario: Scenario, carrier_word: str
):
    human = new_number()
    carrier_sim.set_scenario(human, scenario)
    # The agent transfers cold by default; the partner asks for a warm one.
    tenant = await make_tenant(
        api, carrier_sim, ["plivo"], script={"replies": [{"text": "Sure."}]},
        transfer_enabled=True, transfer_number=human,
    )
    await _with_webhook(api, tenant, receiver)
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(90.0, leading_silence_secs=89.0))
    call_id = await start_call(api, tenant, "plivo", number)
    caller = await carrier_sim.wait_for_call(to=number, carrier="plivo", timeout=15)
    await wait_for_status(api, tenant, call_id, {"in_progress"}, timeout=30)
    deadline = time.monotonic() + 60  # the session's start; a hang guard
    while (asked := await api.post(
        f"/api/v2/calls/{call_id}/transfer", json={"mode": "warm"}, headers=tenant.headers
    )).status_code != 200:
        assert error_of(asked)["reason"] == "call_not_live" and time.monotonic() < deadline, asked.text
        await asyncio.sleep(0.2)

    async def settled() -> dict:
        call = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
        return call if (call["transfer"] or {}).get("status") not in (None, "pending") else {}

    deadline = time.monotonic() + 60
    while not (call := await settled()):
        assert time.monotonic() < deadline, "the transfer's outcome never came"
        await asyncio.sleep(0.1)
    # The agent is still on the line: the caller hears it again after the human's leg ended (on
    # the caller's clock; the agent may have spoken before the outcome was seen here), then hangs up.
    human_leg = carrier_sim.calls(to=human, carrier="plivo")[-1]

    def leg_over() -> float | None:
        return None if human_leg.ended_at is None else human_leg.t0 + human_leg.ended_at - caller.t0

    await hang_up_once_the_agent_spoke_after(carrier_sim, caller, leg_over)
    await carrier_sim.wait_for_call_end(caller.call_id, timeout=60)
    call = await finished_call(api, tenant, call_id)

    transfer = call["transfer"]
    assert (transfer["status"], transfer["mode"], transfer["source"]) == (outcome, "warm", "api"), transfer
    assert transfer["carrier_status"] == carrier_word and transfer["carrier_reason"], transfer
    assert "bridged_at" not in transfer
    assert human_leg.carrier_said == [] and human_leg.conferences == [] and caller.conferences == []
    bot_lines = [t["content"] for t in call["transcript"] if t["role"] == "bot"]
    assert bot_lines.index(DEFAULT_WARM_TRANSFER_MESSAGE) < bot_lines.index(AGENT_BACK_MESSAGE), bot_lines
    assert call["end_reason"] != "transferred"

    (completed,) = await receiver.wait_for(1, path="/t", event="session.completed", timeout=30)
    assert completed.json["data"]["transfer"] == transfer


async def test_warm_transfer_settings_are_checked(api, carrier_sim):
    bad = await api.post("/api/v2/agent", json={"agent_name": "x", "transfer_mode": "lukewarm"},
                         headers=(await make_tenant(api, carrier_sim, ["plivo"])).headers)
    assert bad.status_code == 400 and "transfer_mode" in error_of(bad)["message"], bad.text

    tenant = await make_tenant(
        api, carrier_sim, ["exotel", "plivo"], script={"replies": [{"text": "Sure."}]},
        transfer_enabled=True, transfer_number=new_number(), transfer_mode="warm",
    )
    agent = (await api.get(f"/api/v2/agent/{tenant.agent_id}", headers=tenant.headers)).json()["data"]
    assert agent["transfer_mode"] == "warm"
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(3.0, leading_silence_secs=1.0))
    call_id = await start_call(api, tenant, "exotel", number)
    refused = await api.post(f"/api/v2/calls/{call_id}/transfer", json={"mode": "warm"}, headers=tenant.headers)
    assert refused.status_code == 409 and "Exotel" in error_of(refused)["message"], refused.text
    mode = await api.post(f"/api/v2/calls/{call_id}/transfer", json={"mode": "hot"}, headers=tenant.headers)
    assert mode.status_code == 400 and "mode" in error_of(mode)["message"], mode.text


async def test_a_caller_who_hangs_up_while_the_human_rings_fails_the_transfer(api, carrier_sim, receiver):
    human = new_number()
    carrier_sim.set_scenario(human, Scenario.no_answer(after_secs=5.0))
    tenant = await make_tenant(
        api, carrier_sim, ["twilio"], script={"rules": [{"keywords": ["human"], "reply": "Sure.", "transfer": True}]},
        transfer_enabled=True, transfer_number=human, transfer_mode="warm",
    )
    await _with_webhook(api, tenant, receiver)
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(90.0, "I want a human please", leading_silence_secs=4.0))
    call_id = await start_call(api, tenant, "twilio", number)
    caller = await carrier_sim.wait_for_call(to=number, carrier="twilio", timeout=15)
    await carrier_sim.wait_for_call(to=human, carrier="twilio", timeout=60)  # the human's phone rings
    carrier_sim.caller_hangs_up(caller.call_id)
    call = await finished_call(api, tenant, call_id)

    transfer = call["transfer"]
    assert (transfer["status"], transfer["mode"], transfer["carrier_status"]) == ("failed", "warm", None), transfer
    assert "hung up" in transfer["carrier_reason"] and "bridged_at" not in transfer
    (completed,) = await receiver.wait_for(1, path="/t", event="session.completed", timeout=30)
    assert completed.json["data"]["transfer"] == transfer
