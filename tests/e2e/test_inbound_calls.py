"""Calls to a partner's numbers on Twilio, Plivo, Vobiz and Exotel: the simulator's caller rings a
number bound to an agent, the carrier asks the number's URL (signed, or Exotel's Voicebot URL with
its secret), the agent greets the caller, hears a sentence and the call ends ``completed`` with
``direction: inbound``. And the refusals: a number without an agent, a partner at its limit, a
forged request, another partner's connection."""

from __future__ import annotations

import pytest

from callwright.sim import EndReason, Scenario
from callwright.sim.signing import plivo_headers, twilio_headers
from tests.e2e.helpers import ADMIN, after_the_intro, finished_call, heard_speech_secs
from tests.e2e.inbound_support import (
    INTRO,
    bind_number,
    caller_number,
    inbound_calls,
    inbound_tenant,
    ring,
    the_inbound_call,
)
from tests.voice.test_whisper_stt import word_error_rate

pytestmark = pytest.mark.e2e

CARRIERS = ["twilio", "plivo", "vobiz", "exotel"]
SPOKEN = "I would like to book an appointment"
REPLY = "Sure, I have booked you for nine tomorrow morning."
# The agent hangs up after its reply: the call ends once the sentence was heard and answered,
# however long a loaded machine takes to transcribe it.
SCRIPT = {"replies": [{"text": REPLY, "end_call": True}]}


async def _answered_call(api, sim, tenant, provider):
    caller = caller_number()
    # The caller lets the intro ("Hello, thank you for calling Callwright.") finish before speaking,
    # and would give up after 60 s.
    sim.set_scenario(caller, after_the_intro(SPOKEN, hangs_up_after_secs=60.0))
    sim_call = await ring(sim, tenant, provider, caller)
    await sim.wait_for_call_end(sim_call.call_id, timeout=45)
    listed = await the_inbound_call(api, tenant, caller)
    return caller, sim_call, await finished_call(api, tenant, listed["call_id"])


@pytest.mark.parametrize("provider", CARRIERS)
async def test_a_call_to_a_bound_number_reaches_its_agent(api, carrier_sim, provider):
    tenant = await inbound_tenant(api, carrier_sim, [provider], script=SCRIPT, prompt="You book appointments.")
    caller, sim_call, call = await _answered_call(api, carrier_sim, tenant, provider)
    where = f"{provider}: {call}"
    _, connection_id, number, _ = tenant.lines[provider]
    assert sim_call.end_reason == EndReason.STREAM_CLOSED, f"{provider}: {sim_call.notes}"
    assert call["status"] == "completed", where
    assert call["end_reason"] == "ended by agent", where
    assert call["direction"] == "inbound", where
    assert (call["from_number"], call["to_number"]) == (caller, number), where
    assert call["provider"] == provider and call["agent_id"] == tenant.agent_id, where
    assert call["provider_call_id"] in {sim_call.call_id, *sim_call.aliases}, where
    assert call["answered_at"] and call["ended_at"], where
    assert call["processing_complete"] is True, where  # session.completed was written
    turns = call["transcript"]
    # The reply's own turn is not asserted: on a loaded machine the end of the call can come before
    # the reply's turn is written (seen once on Exotel, whose audio goes out in 200 ms packets).
    assert [t["role"] for t in turns][:2] == ["bot", "user"], where
    assert turns[0]["content"] == INTRO, where
    assert word_error_rate(SPOKEN, turns[1]["content"]) <= 0.3, f"{provider}: heard {turns[1]['content']!r}"
    spoken_until = sim_call.caller_speech()[-1].ends_at
    assert heard_speech_secs(sim_call, until=spoken_until) >= 1.0, f"{provider}: the caller did not hear the intro"
    # The carrier's own request: its inbound fields, sent to this connection's URL.
    [request] = sim_call.callbacks_of("answer")
    assert request.status_code == 200, where
    if provider == "exotel":
        assert request.params["Direction"] == "incoming" and "/telephony/exotel/voicebot/" in request.url
    else:
        assert request.params["Direction"] == "inbound"
        assert request.url.endswith(f"/inbound/{provider}/{connection_id}"), request.url
    # Listed like any call: the direction filter keeps it, the outbound filter does not.
    assert [c["call_id"] for c in await inbound_calls(api, tenant)] == [call["call_id"]]
    outbound = await api.get("/api/v2/calls", params={"direction": "outbound"}, headers=tenant.headers)
    assert outbound.status_code == 200 and call["call_id"] not in outbound.text


async def test_unbound_numbers_and_suspended_partners_hear_a_refusal(api, carrier_sim):
    tenant = await inbound_tenant(api, carrier_sim, ["twilio", "plivo", "exotel"], bind=False)
    await bind_number(api, carrier_sim, tenant, "twilio")
    await bind_number(api, carrier_sim, tenant, "exotel")
    for provider in ("twilio", "exotel"):
        _, _, _, number_id = tenant.lines[provider]
        # INACTIVE keeps the carrier pointed at us while no call may reach the agent.
        changed = await api.put(f"/api/v2/phone-numbers/{number_id}", json={"status": "INACTIVE"}, headers=tenant.headers)
        assert changed.status_code == 200, changed.text
    caller = caller_number()
    carrier_sim.set_scenario(caller, Scenario.caller_hangs_up_after(20.0))
    twilio_call = await ring(carrier_sim, tenant, "twilio", caller)
    await carrier_sim.wait_for_call_end(twilio_call.call_id, timeout=20)
    assert twilio_call.carrier_said == ["Sorry, this number is not in service. Goodbye."]
    assert twilio_call.end_reason == EndReason.ANSWER_HANGUP
    # Exotel's Voicebot applet cannot speak: the URL refuses, and the flow moves on (here: ends).
    exotel_call = await ring(carrier_sim, tenant, "exotel", caller)
    await carrier_sim.wait_for_call_end(exotel_call.call_id, timeout=20)
    [asked] = exotel_call.callbacks_of("answer")
    assert asked.status_code == 404 and "number_not_bound" in asked.body
    assert exotel_call.end_reason == EndReason.ANSWER_FAILED and exotel_call.media_started_at is None

    # Plivo's number is bound, but the operator suspends the partner.
    await bind_number(api, carrier_sim, tenant, "plivo")
    suspended = await api.patch(f"/admin/v1/partners/{tenant.name}", json={"status": "suspended"}, headers=ADMIN)
    assert suspended.status_code == 200, suspended.text
    plivo_call = await ring(carrier_sim, tenant, "plivo", caller)
    await carrier_sim.wait_for_call_end(plivo_call.call_id, timeout=20)
    assert plivo_call.carrier_said == ["Sorry, no one can take your call right now. Please try again later. Goodbye."]
    assert plivo_call.end_reason == EndReason.ANSWER_HANGUP
    await api.patch(f"/admin/v1/partners/{tenant.name}", json={"status": "active"}, headers=ADMIN)
    assert await inbound_calls(api, tenant) == []  # a refused call is no call


async def test_a_partner_at_its_limit_gives_the_next_caller_a_busy_message(api, carrier_sim):
    tenant = await inbound_tenant(api, carrier_sim, ["vobiz"], concurrency_limit=1)
    first, second = caller_number(), caller_number()
    carrier_sim.set_scenario(first, Scenario.caller_hangs_up_after(30.0))
    carrier_sim.set_scenario(second, Scenario.caller_hangs_up_after(30.0))
    talking = await ring(carrier_sim, tenant, "vobiz", first)
    listed = await the_inbound_call(api, tenant, first)
    assert listed["status"] in ("in_progress", "pending"), listed
    refused = await ring(carrier_sim, tenant, "vobiz", second)
    await carrier_sim.wait_for_call_end(refused.call_id, timeout=20)
    assert refused.carrier_said == ["Sorry, all our lines are busy right now. Please call again in a few minutes. Goodbye."]
    assert refused.end_reason == EndReason.ANSWER_HANGUP
    carrier_sim.caller_hangs_up(talking.call_id)
    await carrier_sim.wait_for_call_end(talking.call_id, timeout=20)
    assert [c["from_number"] for c in await inbound_calls(api, tenant)] == [first]


async def test_forged_inbound_requests_are_refused_and_create_nothing(api, carrier_sim, platform_server):
    tenant = await inbound_tenant(api, carrier_sim, ["twilio", "plivo", "exotel"])
    params = {"CallSid": "CA" + "0" * 32, "From": "+14155550999", "To": tenant.lines["twilio"][2], "Direction": "inbound"}
    path = f"/inbound/twilio/{tenant.lines['twilio'][1]}"
    url = platform_server.settings.public_url + path
    forged = twilio_headers(auth_token="not-the-token", url=url, params=params)
    assert (await api.post(path, data=params, headers=forged)).status_code == 403
    assert (await api.post(path, data=params)).status_code == 403  # unsigned
    plivo_path = f"/inbound/plivo/{tenant.lines['plivo'][1]}"
    plivo_params = {"CallUUID": "u-1", "From": "14155550999", "To": tenant.lines["plivo"][2].lstrip("+"), "Direction": "inbound"}
    forged_plivo = {"X-Plivo-Signature-V3": "AAAA", "X-Plivo-Signature-V3-Nonce": "12345"}
    assert (await api.post(plivo_path, data=plivo_params, headers=forged_plivo)).status_code == 403
    assert (await api.post("/inbound/twilio/not-a-connection", data=params, headers=forged)).status_code == 403
    # Exotel signs nothing: a wrong secret in its Voicebot URL finds nothing.
    connection = await api.get(f"/api/v2/telephony/connections/{tenant.lines['exotel'][1]}", headers=tenant.headers)
    voicebot = connection.json()["data"]["connection"]["voicebot_url"]
    voicebot_path = voicebot[voicebot.index("/telephony/") :]
    exotel_query = {"CallSid": "x1", "CallFrom": "09876543210", "CallTo": tenant.lines["exotel"][2], "Direction": "incoming"}
    assert (await api.get(voicebot_path[:-4] + "AAAA", params=exotel_query)).status_code == 403
    assert (await api.post(f"/inbound/exotel/{tenant.lines['exotel'][1]}", data=exotel_query)).status_code == 404
    # A correctly signed request still gets in: the refusals above were the signature's.
    signed = twilio_headers(auth_token=tenant.tokens["twilio"], url=url, params=params)
    answered = await api.post(path, data=params, headers=signed)
    assert answered.status_code == 200 and "<Connect><Stream" in answered.text, answered.text
    # Twilio asks once per call: the same request again is refused, and makes no second call.
    assert (await api.post(path, data=params, headers=signed)).status_code == 409
    # Plivo retries its answer URL (fresh nonces): the same call's document, not a second call;
    # a replayed signature (a spent nonce) is refused.
    plivo_url = platform_server.settings.public_url + plivo_path
    plivo_params["To"] = tenant.lines["plivo"][2].lstrip("+")

    def plivo_signed() -> dict[str, str]:
        return plivo_headers(auth_token=tenant.tokens["plivo"], method="POST", url=plivo_url, params=plivo_params, main_account=False)

    first_headers = plivo_signed()
    first = await api.post(plivo_path, data=plivo_params, headers=first_headers)
    again = await api.post(plivo_path, data=plivo_params, headers=plivo_signed())
    assert first.status_code == again.status_code == 200 and "<Stream" in again.text, again.text
    assert (await api.post(plivo_path, data=plivo_params, headers=first_headers)).status_code == 403
    calls = await inbound_calls(api, tenant)
    assert sorted(c["provider_call_id"] for c in calls) == sorted([params["CallSid"], "u-1"])


async def test_a_call_to_one_partners_number_never_reaches_another_partner(api, carrier_sim, platform_server):
    alice = await inbound_tenant(api, carrier_sim, ["twilio"])
    bob = await inbound_tenant(api, carrier_sim, ["twilio"])
    alice_number, bob_connection = alice.lines["twilio"][2], bob.lines["twilio"][1]
    params = {"CallSid": "CA" + "1" * 32, "From": "+14155550998", "To": alice_number, "Direction": "inbound"}
    path = f"/inbound/twilio/{bob_connection}"
    url = platform_server.settings.public_url + path
    # Signed by Alice's Twilio account, sent to Bob's connection: not Bob's carrier's signature…
    alice_signed = twilio_headers(auth_token=alice.tokens["twilio"], url=url, params=params)
    assert (await api.post(path, data=params, headers=alice_signed)).status_code == 403
    # …and Bob's own carrier asking about Alice's number finds no number of Bob's: a refusal.
    signed = twilio_headers(auth_token=bob.tokens["twilio"], url=url, params=params)
    refused = await api.post(path, data=params, headers=signed)
    assert refused.status_code == 200 and "not in service" in refused.text
    # Bob cannot bind Alice's number either.
    taken = await api.put(f"/api/v2/phone-numbers/{alice.lines['twilio'][3]}", json={"agent_id": bob.agent_id}, headers=bob.headers)
    assert taken.status_code == 404
    # A real call to Alice's number reaches Alice's agent only.
    caller = caller_number()
    carrier_sim.set_scenario(caller, Scenario.caller_hangs_up_after(3.0))
    sim_call = await ring(carrier_sim, alice, "twilio", caller)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await finished_call(api, alice, (await the_inbound_call(api, alice, caller))["call_id"])
    assert call["agent_id"] == alice.agent_id and call["status"] == "completed"
    assert await inbound_calls(api, bob) == []
    assert (await api.get(f"/api/v2/calls/{call['call_id']}", headers=bob.headers)).status_code == 404
