"""The delivery log and redelivery through the Partner API, with a real receiver and sender."""

from __future__ import annotations

import pytest

from callwright.domain.calls import EventKind
from callwright.domain.webhooks import ALL_EVENTS
from callwright.services.webhook_sender import WebhookSender
from tests.conftest import error_of
from tests.webhook_receiver import WebhookReceiver
from tests.webhook_support import carrier_says, ended, event, new_call

HOOKS = "/api/v2/config/webhooks"


@pytest.fixture
async def receiver():
    receiver = await WebhookReceiver().start()
    yield receiver
    await receiver.stop()


async def _endpoint(client, partner, receiver, label="prod"):
    body = {"label": label, "url": receiver.url(f"/{label}"), "events": [e.value for e in ALL_EVENTS]}
    data = (await client.post(HOOKS, json=body, headers=partner.headers)).json()["data"]
    receiver.secrets.append(data["secret"])
    return data


async def _log(client, partner, endpoint_id, **params):
    response = await client.get(f"{HOOKS}/{endpoint_id}/deliveries", params=params, headers=partner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_log_shows_each_delivery_with_its_attempts(client, platform, partner, receiver):
    endpoint = await _endpoint(client, partner, receiver)
    call_id = await new_call(platform, partner.id)
    sender = WebhookSender(platform)
    try:
        receiver.status = 500
        await carrier_says(platform, call_id, event(EventKind.RINGING))
        assert await sender.send_due(wait=True) == 1
        receiver.status = 200
        await carrier_says(platform, call_id, ended())
        assert await sender.send_due(wait=True) == 2
    finally:
        await sender.stop()

    page = await _log(client, partner, endpoint["id"])
    assert page["pagination"] == {"limit": 20, "offset": 0, "total": 3}
    newest_first = [d["event_type"] for d in page["data"]]
    assert sorted(newest_first[:2]) == ["call.ended", "session.completed"] and newest_first[2] == "call.ringing"
    failed = page["data"][2]
    assert failed["status"] == "pending" and failed["attempt_count"] == 1 and failed["next_attempt_at"]
    (attempt,) = failed["attempts"]
    assert attempt["number"] == 1 and attempt["status_code"] == 500
    assert attempt["error"] == "receiver answered HTTP 500: try later" and attempt["latency_ms"] >= 0
    assert failed["call_id"] == call_id and failed["event_id"] == receiver.received[0].event_id
    delivered = page["data"][0]
    assert delivered["status"] == "delivered" and delivered["delivered_at"] and delivered["next_attempt_at"] is None
    assert [a["status_code"] for a in delivered["attempts"]] == [200]

    second_page = await _log(client, partner, endpoint["id"], limit=2, offset=2)
    assert [d["id"] for d in second_page["data"]] == [failed["id"]]
    listed = (await client.get(HOOKS, headers=partner.headers)).json()["data"][0]
    assert listed["last_delivery_status"] == "success" and listed["last_delivery_at"]


async def test_redelivery_sends_the_same_event_again_signed_with_the_current_secret(client, platform, partner, receiver):
    endpoint = await _endpoint(client, partner, receiver)
    call_id = await new_call(platform, partner.id)
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    sender = WebhookSender(platform)
    try:
        await sender.send_due(wait=True)
        (original,) = (await _log(client, partner, endpoint["id"]))["data"]
        rotated = await client.post(f"{HOOKS}/{endpoint['id']}/rotate-secret", headers=partner.headers)
        new_secret = rotated.json()["data"]["secret"]
        receiver.secrets.append(new_secret)

        queued = await client.post(f"/api/v2/webhook-deliveries/{original['id']}/redeliver", headers=partner.headers)
        assert queued.status_code == 202, queued.text
        fresh = queued.json()["data"]
        assert (fresh["status"], fresh["attempt_count"], fresh["redelivery_of"]) == ("pending", 0, original["id"])
        assert fresh["event_id"] == original["event_id"] and fresh["id"] != original["id"]
        assert await sender.send_due(wait=True) == 1
    finally:
        await sender.stop()
    first, again = receiver.received
    assert first.event_id == again.event_id and first.body == again.body
    assert first.signed_with == endpoint["secret"] and again.signed_with == new_secret
    page = await _log(client, partner, endpoint["id"])
    assert [d["status"] for d in page["data"]] == ["delivered", "delivered"]


async def test_another_partners_delivery_is_404_like_a_missing_one(client, platform, partner, other_partner, receiver):
    endpoint = await _endpoint(client, partner, receiver)
    call_id = await new_call(platform, partner.id)
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    (delivery,) = (await _log(client, partner, endpoint["id"]))["data"]
    missing = "00000000-0000-4000-8000-000000000000"
    theirs = await client.post(f"/api/v2/webhook-deliveries/{delivery['id']}/redeliver", headers=other_partner.headers)
    nothing = await client.post(f"/api/v2/webhook-deliveries/{missing}/redeliver", headers=other_partner.headers)
    assert theirs.status_code == nothing.status_code == 404
    assert error_of(theirs)["reason"] == error_of(nothing)["reason"] == "webhook_delivery_not_found"
    assert error_of(theirs)["message"].replace(delivery["id"], missing) == error_of(nothing)["message"]
    assert len((await _log(client, partner, endpoint["id"]))["data"]) == 1  # nothing was queued


async def test_deleting_an_endpoint_drops_its_pending_deliveries(client, platform, partner, receiver):
    endpoint = await _endpoint(client, partner, receiver)
    call_id = await new_call(platform, partner.id)
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    assert (await client.delete(f"{HOOKS}/{endpoint['id']}", headers=partner.headers)).status_code == 200
    sender = WebhookSender(platform)
    try:
        assert await sender.send_due(wait=True) == 0
    finally:
        await sender.stop()
    assert receiver.received == []
