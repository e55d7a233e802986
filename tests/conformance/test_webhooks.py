"""Webhook endpoints, as create-a-webhook-endpoint, rotate-a-webhook-endpoint-secret,
set-or-update-webhook-url and the setup page give them. The update route is Callwright's (the
docs have none); its answer is the endpoint, like the list's entries."""

from __future__ import annotations

from tests.conformance.shapes import documented
from tests.conformance.support import API, WEBHOOK_ENDPOINT

HOOKS = f"{API}/config/webhooks"
CREATED = WEBHOOK_ENDPOINT | {"secret": "string", "message": "string"}
ROTATED = {"id": "string", "label": "string", "secret": "string", "message": "string"}
LEGACY = {"webhook_url": "string", "webhook_secret": "string", "message": "string"}
NOTICE = "Save this secret — it will not be shown again."


async def _create(client, partner, **fields):
    body = {"label": "prod", "url": "http://127.0.0.1:9000/webhooks/vocobase", "enabled": True} | fields
    return await client.post(HOOKS, json=body, headers=partner.headers)


async def test_create_a_webhook_endpoint(client, partner):
    data = documented(await _create(client, partner), CREATED, status=201)
    assert (data["label"], data["enabled"], data["message"]) == ("prod", True, NOTICE)
    assert data["secret"].startswith("whsec_") and data["last_delivery_at"] is None
    disabled = documented(await _create(client, partner, label="staging", enabled=False), CREATED, status=201)
    assert disabled["enabled"] is False


async def test_list_webhook_endpoints(client, partner):
    await _create(client, partner)
    (endpoint,) = documented(await client.get(HOOKS, headers=partner.headers), [WEBHOOK_ENDPOINT])
    assert "secret" not in endpoint


async def test_rotate_a_webhook_endpoint_secret(client, partner):
    created = (await _create(client, partner)).json()["data"]
    data = documented(await client.post(f"{HOOKS}/{created['id']}/rotate-secret", headers=partner.headers), ROTATED)
    assert (data["id"], data["label"], data["message"]) == (created["id"], "prod", NOTICE)
    assert data["secret"] != created["secret"]


async def test_set_or_update_webhook_url(client, partner):
    body = {"webhook_url": "http://127.0.0.1:9000/webhooks/vocobase"}
    data = documented(await client.put(f"{API}/config/webhook", json=body, headers=partner.headers), LEGACY)
    assert (data["webhook_url"], data["message"]) == (body["webhook_url"], NOTICE)
    # It is the reserved `default` endpoint, and GET /config's legacy block shows it.
    (endpoint,) = (await client.get(HOOKS, headers=partner.headers)).json()["data"]
    assert endpoint["label"] == "default"
    config = (await client.get(f"{API}/config", headers=partner.headers)).json()["data"]
    assert config["webhook"] == {"configured": True, "url": body["webhook_url"], "secret": None}


async def test_update_and_delete_an_endpoint(client, partner):
    created = (await _create(client, partner)).json()["data"]
    response = await client.patch(f"{HOOKS}/{created['id']}", json={"enabled": False}, headers=partner.headers)
    assert documented(response, WEBHOOK_ENDPOINT)["enabled"] is False
    assert (await client.delete(f"{HOOKS}/{created['id']}", headers=partner.headers)).status_code == 200
    assert (await client.get(HOOKS, headers=partner.headers)).json()["data"] == []
