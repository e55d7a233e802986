"""MCube end to end: the click-to-call rings an executive number of ours on another carrier (here
Vobiz), the simulator's MCube bridges the customer onto that leg, and the leg's media stream
carries the MCube call's conversation (services.mcube_bridge). The call record stays the MCube
call; MCube's refurl webhook settles it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callwright.sim import Scenario
from tests.e2e.helpers import finished_call, heard_speech_secs
from tests.e2e.inbound_support import (
    INTRO,
    InboundTenant,
    caller_number,
    inbound_calls,
    inbound_tenant,
    our_number,
)
from tests.voice.test_whisper_stt import word_error_rate

pytestmark = pytest.mark.e2e

MCUBE_JWT = "mcube-bridge-jwt"
REPLY = "Thank you, goodbye."
# The agent hangs up after its reply: the call ends once the sentence was heard and answered.
SCRIPT = {"replies": [{"text": REPLY, "end_call": True}]}


async def _tenant(api: Any, sim: Any, pool_size: int) -> tuple[InboundTenant, list[str]]:
    """A partner with a Vobiz connection whose ``pool_size`` numbers are bound to its agent, and an
    MCube connection whose executive_numbers are those numbers."""
    tenant = await inbound_tenant(
        api, sim, ["vobiz"], also_allowed=("mcube",), script=SCRIPT, prompt="You confirm orders.", agent_type="outbound"
    )
    account_id, connection_id, first, _ = tenant.lines["vobiz"]
    pool = [first]
    for _ in range(pool_size - 1):
        number = our_number("vobiz")
        sim.add_number("vobiz", account_id, number)
        pool.append(number)
    synced = await api.post("/api/v2/phone-numbers/sync", json={"connection_id": connection_id}, headers=tenant.headers)
    assert synced.status_code == 200, synced.text
    for row in synced.json()["data"]["phone_numbers"]:
        if row["phone_number"] in pool[1:]:
            bound = await api.put(f"/api/v2/phone-numbers/{row['id']}", json={"agent_id": tenant.agent_id}, headers=tenant.headers)
            assert bound.status_code == 200 and bound.json()["data"]["routed_to_callwright"], bound.text
    sim.add_account("mcube", jwt_token=MCUBE_JWT)
    mcube = await api.post(
        "/api/v2/telephony/connections",
        json={"provider": "mcube", "name": "MCube", "jwt_token": MCUBE_JWT, "exe_number": "9876500001", "executive_numbers": pool},
        headers=tenant.headers,
    )
    assert mcube.status_code == 201, mcube.text
    return tenant, pool


async def _start(api: Any, tenant: InboundTenant, customer: str) -> Any:
    return await api.post(
        "/api/v2/calls/start",
        json={"agent_id": tenant.agent_id, "to_number": customer, "provider": "mcube"},
        headers=tenant.headers,
    )


async def _sim_call_to(sim: Any, customer: str, timeout: float = 20.0) -> Any:
    """The simulator's MCube call to ``customer`` (dialled nationally), once placed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = [c for c in sim.calls() if c.carrier == "mcube" and c.to == customer[-10:]]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"MCube never dialled {customer}")


def _leg(sim: Any, mcube_call: Any) -> Any:
    [note] = [n for n in mcube_call.notes if n.startswith("executive leg ")]
    return sim.call(note.split()[2])


async def test_an_mcube_call_is_heard_and_answered_over_its_executive_leg(api, carrier_sim):
    tenant, [executive] = await _tenant(api, carrier_sim, 1)
    customer = caller_number()
    spoken = "I would like to confirm my order"
    carrier_sim.set_scenario(customer, Scenario.caller_hangs_up_after(60.0, spoken, leading_silence_secs=3.5))
    started = await _start(api, tenant, customer)
    assert started.status_code == 200, started.text
    call_id = started.json()["data"]["call_id"]
    mcube_call = await _sim_call_to(carrier_sim, customer)
    await carrier_sim.wait_for_call_end(mcube_call.call_id, timeout=60)
    leg = _leg(carrier_sim, mcube_call)
    await carrier_sim.wait_for_call_end(leg.call_id, timeout=20)
    call = await finished_call(api, tenant, call_id)
    where = str(call)
    # MCube rang our Vobiz number as the executive, and the leg's request came to that connection.
    assert mcube_call.dial["exenumber"] == executive[-10:], mcube_call.dial
    [asked] = leg.callbacks_of("answer")
    assert asked.status_code == 200 and asked.url.endswith(f"/inbound/vobiz/{tenant.lines['vobiz'][1]}"), asked
    assert f"/media/vobiz/{call_id}/" in asked.body, asked.body
    # One call: the MCube call, settled by its refurl webhook.
    assert call["provider"] == "mcube" and call["direction"] == "outbound", where
    assert call["status"] == "completed", where
    assert call["provider_call_id"] == mcube_call.call_id, where
    assert call["from_number"] == executive and call["to_number"] == customer, where
    assert [w.params.get("dialstatus") for w in mcube_call.callbacks_of("webhook")][-1] == "ANSWER"
    assert await inbound_calls(api, tenant) == []
    turns = call["transcript"]
    assert [t["role"] for t in turns][:2] == ["bot", "user"], where
    assert turns[0]["content"] == INTRO, where
    assert word_error_rate(spoken, turns[1]["content"]) <= 0.3, f"heard {turns[1]['content']!r}"
    spoken_until = leg.caller_speech()[-1].ends_at
    assert heard_speech_secs(leg, until=spoken_until) >= 1.0, "the customer did not hear the intro"


async def test_concurrent_mcube_calls_each_get_their_own_leg_and_a_full_pool_refuses(api, carrier_sim):
    tenant, pool = await _tenant(api, carrier_sim, 2)
    sentences = ["Please send the red bicycle", "I need seven blue chairs"]
    customers = [caller_number(), caller_number()]
    for customer, sentence in zip(customers, sentences, strict=True):
        carrier_sim.set_scenario(customer, Scenario.caller_hangs_up_after(60.0, sentence, leading_silence_secs=3.5))
    started = await asyncio.gather(*(_start(api, tenant, c) for c in customers))
    assert [s.status_code for s in started] == [200, 200], [s.text for s in started]
    call_ids = [s.json()["data"]["call_id"] for s in started]
    # Both executive numbers are held by live calls: a third start is refused, by name.
    third = await _start(api, tenant, caller_number())
    assert third.status_code == 409, third.text
    error = third.json()["error"]
    assert (error["code"], error["reason"]) == ("CONFLICT", "executive_pool_exhausted"), error
    assert "executive_numbers" in error["message"], error
    mcube_calls = [await _sim_call_to(carrier_sim, c) for c in customers]
    for mcube_call in mcube_calls:
        await carrier_sim.wait_for_call_end(mcube_call.call_id, timeout=90)
    calls = [await finished_call(api, tenant, call_id) for call_id in call_ids]
    # Each call rang its own executive number, and heard its own customer.
    assert sorted(c["from_number"] for c in calls) == sorted(pool)
    assert len({m.dial["exenumber"] for m in mcube_calls}) == 2
    for call, sentence, customer in zip(calls, sentences, customers, strict=True):
        assert call["status"] == "completed" and call["to_number"] == customer, call
        [heard] = [t["content"] for t in call["transcript"] if t["role"] == "user"][:1]
        assert word_error_rate(sentence, heard) <= 0.3, f"{customer}: heard {heard!r}, said {sentence!r}"
    # Both numbers are free again: a new call may start.
    again = await _start(api, tenant, caller_number())
    assert again.status_code == 200, again.text
    await api.post(f"/api/v2/calls/{again.json()['data']['call_id']}/end", headers=tenant.headers)


async def test_executive_numbers_must_be_the_partners_own_numbers_on_another_carrier(api, carrier_sim):
    _alice, [alice_number] = await _tenant(api, carrier_sim, 1)
    bob = await inbound_tenant(api, carrier_sim, ["vobiz"], also_allowed=("mcube",), agent_type="outbound")
    body = {"provider": "mcube", "name": "MCube", "jwt_token": MCUBE_JWT, "exe_number": "9876500002"}
    # Alice's number is not Bob's: refused, naming the field; nothing is stored.
    taken = await api.post("/api/v2/telephony/connections", json=body | {"executive_numbers": [alice_number]}, headers=bob.headers)
    assert taken.status_code == 400, taken.text
    assert "executive_numbers" in taken.text and alice_number in taken.text
    listed = await api.get("/api/v2/telephony/connections", params={"provider": "mcube"}, headers=bob.headers)
    assert "MCube" not in listed.text, listed.text
    # Not Indian, or repeated: refused too.
    us = await api.post("/api/v2/telephony/connections", json=body | {"executive_numbers": ["+14155550123"]}, headers=bob.headers)
    assert us.status_code == 400 and "+91" in us.text, us.text
    bob_number = bob.lines["vobiz"][2]
    twice = await api.post(
        "/api/v2/telephony/connections", json=body | {"executive_numbers": [bob_number, bob_number]}, headers=bob.headers
    )
    assert twice.status_code == 400 and "twice" in twice.text, twice.text
    # Bob's own number is accepted; Bob's MCube call rings Bob's number, never Alice's.
    ok = await api.post("/api/v2/telephony/connections", json=body | {"executive_numbers": [bob_number]}, headers=bob.headers)
    assert ok.status_code == 201, ok.text
    customer = caller_number()
    carrier_sim.set_scenario(customer, Scenario.caller_hangs_up_after(2.0))
    started = await _start(api, bob, customer)
    assert started.status_code == 200, started.text
    mcube_call = await _sim_call_to(carrier_sim, customer)
    assert mcube_call.dial["exenumber"] == bob_number[-10:]
    await carrier_sim.wait_for_call_end(mcube_call.call_id, timeout=60)
    call = await finished_call(api, bob, started.json()["data"]["call_id"])
    assert call["from_number"] == bob_number
    assert alice_number != bob_number
