"""Webhooks end to end: a partner registers a real local receiver through the API, a whole call
runs through the carrier simulator, and the endpoint that opted in to every event gets
call.ringing, call.answered, call.ended and session.completed — signed, each once, the
transcript in session.completed — while an endpoint left at the default gets session.completed
alone; the delivery log shows them."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.helpers import (
    after_the_intro,
    hang_up_after_the_reply,
    make_tenant,
    new_number,
    start_call,
    wait_for_status,
)
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

SPOKEN = "I would like to book an appointment for tomorrow morning"
REPLY = "Sure, I have booked you for nine tomorrow morning."


@pytest.fixture
async def receiver():
    receiver = await WebhookReceiver().start()
    yield receiver
    await receiver.stop()


@pytest.mark.parametrize("provider", ["vobiz", "twilio"])
async def test_a_call_reaches_the_partners_receiver_as_signed_events(api, carrier_sim, receiver, provider):
    tenant = await make_tenant(api, carrier_sim, [provider], script={"replies": [{"text": REPLY}]})
    every_event = ["call.ringing", "call.answered", "call.ended", "session.completed"]
    created = await api.post(
        "/api/v2/config/webhooks",
        json={"label": "e2e", "url": receiver.url("/e2e"), "events": every_event},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()["data"]
    receiver.secrets.append(endpoint["secret"])
    plain = await api.post(
        "/api/v2/config/webhooks", json={"label": "plain", "url": receiver.url("/plain")}, headers=tenant.headers
    )
    assert plain.json()["data"]["events"] == ["session.completed"]
    receiver.secrets.append(plain.json()["data"]["secret"])

    number = new_number()
    carrier_sim.set_scenario(number, after_the_intro(SPOKEN))
    call_id = await start_call(api, tenant, provider, number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier=provider, timeout=15)
    await hang_up_after_the_reply(carrier_sim, sim_call)
    await wait_for_status(api, tenant, call_id, timeout=45)
    (completed,) = await receiver.wait_for(1, path="/e2e", event="session.completed", timeout=30)
    await receiver.wait_for(1, path="/plain", event="session.completed", timeout=30)
    assert [r.event_type for r in receiver.of(path="/plain")] == ["session.completed"]

    # Events are sent in parallel and a delivery may be retried: each is waited for, not assumed
    # there once session.completed has come.
    for event in every_event:
        try:
            await receiver.wait_for(1, path="/e2e", event=event, timeout=30)
        except AssertionError as missing:
            status = ("CallStatus", "call_status", "CallStatusCallbackEvent")
            calls = [(c.kind, [c.params.get(k) for k in status], c.sent_at, c.status_code) for c in sim_call.callbacks]
            raise AssertionError(f"{missing}; the carrier's requests (kind, status, sent, answer): {calls}") from None
    got = receiver.of(path="/e2e")
    assert sorted(r.event_type for r in got) == ["call.answered", "call.ended", "call.ringing", "session.completed"]
    assert all(r.signed_with == endpoint["secret"] for r in got)
    assert len({r.event_id for r in got}) == 4
    data = completed.json["data"]
    call = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
    assert data["call"] == {
        "call_id": call_id, "from_number": call["from_number"], "to_number": number,
        "direction": "outbound", "status": "completed", "disposition": "completed",
        "answered_by": call["answered_by"],
    }
    assert data["session_id"] == call["session_id"] and data["agent_id"] == tenant.agent_id
    # The transcript the call record keeps once the media has ended (what the caller said is
    # Whisper's to get right, tested in test_conversation; a slow machine may miss the reply).
    assert data["transcript"] == call["transcript"]
    assert data["transcript"][0]["content"] == "Hello Asha, this is a quick test call from Callwright."
    assert data["latency"] == call["latency"] and data["variables"] == {"name": "Asha"}
    assert data["duration_seconds"] == call["duration_seconds"]
    # GET /calls/{id} agrees with the webhook: processing is complete, at the same moment.
    assert call["processing_complete"] is True
    assert data["pipeline_completed_at"] == call["pipeline_completed_at"] is not None
    assert call["session"]["transcript"] == data["transcript"]

    # The receiver has the events; the sender records each 200 a moment after sending it.
    deadline = time.monotonic() + 10
    while True:
        log = await api.get(f"/api/v2/config/webhooks/{endpoint['id']}/deliveries", headers=tenant.headers)
        deliveries = log.json()["data"]
        if {d["status"] for d in deliveries} == {"delivered"} or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert {d["status"] for d in deliveries} == {"delivered"} and len(deliveries) == 4
    assert all(d["attempts"][-1]["status_code"] == 200 for d in deliveries)
