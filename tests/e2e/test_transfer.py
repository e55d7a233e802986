"""Cold transfer through the simulator: the partner asks (``POST /calls/{id}/transfer``), the agent
says its transfer message, the carrier's transfer API (Plivo's and Vobiz's ``POST /Call/{uuid}/``
with an ``aleg_url``, Twilio's call update with TwiML) dials the human's simulated phone, and the
outcome — the human answers, is busy, or does not answer — is typed on the call and in the
``session.completed`` webhook. When the human is not reached the caller hears so. Exotel and MCube
are refused with a reason naming the carrier."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from callwright.domain.transfers import AGENT_BACK_MESSAGE
from callwright.sim import Outcome, Scenario
from tests.conftest import error_of
from tests.e2e.helpers import (
    Tenant,
    finished_call,
    hang_up_once_the_agent_spoke_after,
    make_tenant,
    new_number,
    start_call,
    transfer_leg_over,
    wait_for_status,
)
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

HOLD = "Hold on, a colleague will take it from here."
HUMANS = {
    "transferred": Scenario.answer(hangs_up_after_secs=1.0),
    "busy": Scenario.busy(),
    "no_answer": Scenario(outcome=Outcome.NO_ANSWER, no_answer_after_secs=1.0),
}
CARRIER_WORDS = {  # Plivo's DialStatus and Twilio's DialCallStatus
    "transferred": "completed",
    "busy": "busy",
    "no_answer": "no-answer",
}


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = await WebhookReceiver().start()
    yield receiver
    await receiver.stop()


async def _transfer_tenant(api, carrier_sim, provider: str, human: str, receiver: WebhookReceiver | None) -> Tenant:
    tenant = await make_tenant(
        api, carrier_sim, [provider], script={"replies": [{"text": "Sure."}]},
        transferEnabled=True, transferNumber=human, transferMessage=HOLD,
    )
    if receiver is not None:
        created = await api.post(
            "/api/v2/config/webhooks", json={"label": "t", "url": receiver.url("/t")}, headers=tenant.headers
        )
        assert created.status_code == 201, created.text
        receiver.secrets.append(created.json()["data"]["secret"])
    return tenant


async def _ask_transfer(api, tenant: Tenant, call_id: str, body: dict[str, str] | None = None) -> dict:
    """POST the transfer once the call's agent runs (until then: 409 call_not_live)."""
    await wait_for_status(api, tenant, call_id, {"in_progress"}, timeout=30)
    deadline = time.monotonic() + 60  # the session's start; a hang guard
    while True:
        response = await api.post(f"/api/v2/calls/{call_id}/transfer", json=body or {}, headers=tenant.headers)
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response.json()["data"]
        assert error_of(response)["reason"] == "call_not_live", response.text
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("outcome", ["transferred", "busy", "no_answer"])
@pytest.mark.parametrize("provider", ["plivo", "vobiz", "twilio"])
async def test_the_partner_transfers_a_live_call(api, carrier_sim, receiver, provider: str, outcome: str):
    human = new_number()
    carrier_sim.set_scenario(human, HUMANS[outcome])
    tenant = await _transfer_tenant(api, carrier_sim, provider, human, receiver)
    number = new_number()
    # Bridged, the call ends with the human's hang-up; otherwise the caller hangs up once the
    # agent, back on the line, has spoken (the fixed 150 s is only a backstop, past the wait's own).
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(150.0, leading_silence_secs=149.0))
    call_id = await start_call(api, tenant, provider, number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier=provider, timeout=15)

    asked = await _ask_transfer(api, tenant, call_id)
    assert asked == {"message": "Call transfer queued", "callId": call_id, "sessionId": asked["sessionId"], "to": human}
    if outcome != "transferred":
        await hang_up_once_the_agent_spoke_after(carrier_sim, sim_call, transfer_leg_over(sim_call))
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=60)
    call = await finished_call(api, tenant, call_id)

    assert len(sim_call.dials) == 1, (call["transfer"], call["end_reason"], call["transcript"], sim_call.summary())
    [leg] = sim_call.dials
    assert (leg.to, leg.status) == (human, CARRIER_WORDS[outcome])
    transfer = call["transfer"]
    assert (transfer["status"], transfer["to"], transfer["source"]) == (outcome, human, "api"), transfer
    assert transfer["carrier_status"] == CARRIER_WORDS[outcome] and transfer["completed_at"]
    bot_lines = [t["content"] for t in call["transcript"] if t["role"] == "bot"]
    assert call["end_reason"] == "transferred"
    if outcome == "transferred":
        assert HOLD in bot_lines and AGENT_BACK_MESSAGE not in bot_lines, bot_lines
    else:
        # Not reached: the call comes back to the agent on a fresh stream, which says so; the
        # transcript goes on from before the transfer.
        assert bot_lines.index(HOLD) < bot_lines.index(AGENT_BACK_MESSAGE), bot_lines
    assert sim_call.carrier_said == []

    (completed,) = await receiver.wait_for(1, path="/t", event="session.completed", timeout=30)
    assert completed.json["data"]["transfer"] == transfer


async def test_a_transfer_to_another_number_and_a_second_one_refused(api, carrier_sim):
    default_human, other_human = new_number(), new_number()
    carrier_sim.set_scenario(other_human, HUMANS["transferred"])
    tenant = await _transfer_tenant(api, carrier_sim, "vobiz", default_human, None)
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(60.0, leading_silence_secs=30.0))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await _ask_transfer(api, tenant, call_id, {"to": other_human})
    again = await api.post(f"/api/v2/calls/{call_id}/transfer", json={}, headers=tenant.headers)
    assert again.status_code == 409, again.text
    assert error_of(again)["reason"] in {"transfer_already_requested", "call_not_live"}
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=60)
    assert [leg.to for leg in sim_call.dials] == [other_human]


@pytest.mark.parametrize("provider", ["exotel", "mcube"])
async def test_carriers_without_a_transfer_api_are_refused_by_name(api, carrier_sim, provider: str):
    tenant = await make_tenant(
        api, carrier_sim, [provider], script={"replies": [{"text": "Sure."}]},
        transfer_enabled=True, transfer_number=new_number(),
    )
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(3.0, leading_silence_secs=1.0))
    call_id = await start_call(api, tenant, provider, number)
    refused = await api.post(f"/api/v2/calls/{call_id}/transfer", json={}, headers=tenant.headers)
    assert refused.status_code == 409, refused.text
    error = error_of(refused)
    assert error["reason"] == "transfer_not_supported_by_carrier"
    assert {"exotel": "Exotel", "mcube": "MCube"}[provider] in error["message"]


async def test_a_transfer_needs_the_setting_a_number_and_the_callers_own_call(api, carrier_sim):
    off = await make_tenant(api, carrier_sim, ["vobiz"], script={"replies": [{"text": "Sure."}]})
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(3.0, leading_silence_secs=1.0))
    call_id = await start_call(api, off, "vobiz", number)
    refused = await api.post(f"/api/v2/calls/{call_id}/transfer", json={"to": "+14155550111"}, headers=off.headers)
    assert refused.status_code == 409 and error_of(refused)["reason"] == "transfer_not_enabled", refused.text

    on = await _transfer_tenant(api, carrier_sim, "vobiz", new_number(), None)
    their_call = await api.post(f"/api/v2/calls/{call_id}/transfer", json={}, headers=on.headers)
    assert their_call.status_code == 404, their_call.text  # partner B never sees A's call
    own_id = await start_call(api, on, "vobiz", new_number())
    bad = await api.post(f"/api/v2/calls/{own_id}/transfer", json={"to": "12345"}, headers=on.headers)
    assert bad.status_code == 400 and "to" in error_of(bad)["message"], bad.text
