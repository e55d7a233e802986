"""Webhook endpoints through the Partner API: secrets shown once and sealed at rest, the limit of
five, label rules, the legacy route, GET /config, URL rules (SSRF) and tenant isolation."""

from __future__ import annotations

import httpx
import pytest

from callwright.api.app import create_app
from callwright.platform import Platform
from callwright.services.webhooks import open_secret
from callwright.settings import Environment
from callwright.store.models import WebhookEndpoint
from tests.conftest import error_of, make_partner

HOOKS = "/api/v2/config/webhooks"


async def _create(client, partner, label="prod", url="http://127.0.0.1:9000/hook"):
    return await client.post(HOOKS, json={"label": label, "url": url}, headers=partner.headers)


async def test_the_secret_is_shown_once_and_sealed_at_rest(client, platform, partner):
    created = await _create(client, partner)
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    secret = data["secret"]
    assert secret.startswith("whsec_") and data["message"].startswith("Save this secret")
    assert data["label"] == "prod" and data["enabled"] is True and data["last_delivery_at"] is None

    listed = await client.get(HOOKS, headers=partner.headers)
    config = await client.get("/api/v2/config", headers=partner.headers)
    for response in (listed, config):
        assert secret not in response.text and secret[6:] not in response.text
    assert "secret" not in listed.text
    assert [e["id"] for e in listed.json()["data"]] == [data["id"]]
    assert config.json()["data"]["webhooks"] == listed.json()["data"]
    # The legacy block, as the docs show it: its secret is never shown again (always null).
    assert config.json()["data"]["webhook"] == {"configured": False, "url": None, "secret": None}

    async with platform.sessions() as session:
        row = await session.get(WebhookEndpoint, data["id"])
        assert secret not in row.sealed_secret and secret[6:] not in row.sealed_secret
        assert open_secret(row, secretbox=platform.secretbox) == secret


async def test_rotating_returns_a_new_secret_once(client, platform, partner):
    created = (await _create(client, partner)).json()["data"]
    rotated = await client.post(f"{HOOKS}/{created['id']}/rotate-secret", headers=partner.headers)
    assert rotated.status_code == 200
    new = rotated.json()["data"]["secret"]
    assert new.startswith("whsec_") and new != created["secret"]
    async with platform.sessions() as session:
        row = await session.get(WebhookEndpoint, created["id"])
        assert open_secret(row, secretbox=platform.secretbox) == new


async def test_at_most_five_endpoints(client, partner):
    for n in range(5):
        assert (await _create(client, partner, label=f"hook-{n}")).status_code == 201
    sixth = await _create(client, partner, label="hook-5")
    assert sixth.status_code == 409
    error = error_of(sixth)
    assert error["reason"] == "webhook_limit_reached" and "at most 5" in error["message"]
    legacy = await client.put("/api/v2/config/webhook", json={"webhook_url": "http://127.0.0.1:9/x"}, headers=partner.headers)
    assert legacy.status_code == 409  # the default endpoint counts too
    first = (await client.get(HOOKS, headers=partner.headers)).json()["data"][0]["id"]
    assert (await client.delete(f"{HOOKS}/{first}", headers=partner.headers)).status_code == 200
    assert (await _create(client, partner, label="hook-5")).status_code == 201


@pytest.mark.parametrize(
    ("label", "status", "code"),
    [("Prod", 400, "validation_error"), ("a" * 32, 400, "validation_error"), ("default", 400, "validation_error")],
)
async def test_label_rules(client, partner, label, status, code):
    response = await _create(client, partner, label=label)
    assert response.status_code == status
    error = error_of(response)
    assert error["reason"] == code and error["details"][0]["field"] == "label"


async def test_labels_are_unique_per_partner(client, partner, other_partner):
    assert (await _create(client, partner)).status_code == 201
    again = await _create(client, partner)
    assert again.status_code == 409 and error_of(again)["reason"] == "webhook_label_taken"
    assert (await _create(client, other_partner)).status_code == 201


async def test_the_legacy_route_manages_the_default_endpoint(client, partner):
    first = await client.put("/api/v2/config/webhook", json={"webhook_url": "http://127.0.0.1:9/one"}, headers=partner.headers)
    assert first.status_code == 200, first.text
    body = first.json()["data"]
    assert body["webhook_url"] == "http://127.0.0.1:9/one" and body["webhook_secret"].startswith("whsec_")
    second = await client.put("/api/v2/config/webhook", json={"url": "http://127.0.0.1:9/two"}, headers=partner.headers)
    assert second.json()["data"]["webhook_secret"] != body["webhook_secret"]
    config = (await client.get("/api/v2/config", headers=partner.headers)).json()["data"]
    assert config["webhook"] == {"configured": True, "url": "http://127.0.0.1:9/two", "secret": None}
    assert [w["label"] for w in config["webhooks"]] == ["default"]
    neither = await client.put("/api/v2/config/webhook", json={}, headers=partner.headers)
    assert neither.status_code == 400


@pytest.mark.parametrize(
    ("url", "rule"),
    [("ftp://example.com/x", "url must start with https://"), ("not a url", "url must not contain spaces")],
)
async def test_malformed_urls_are_400_naming_the_field(client, partner, url, rule):
    response = await _create(client, partner, url=url)
    assert response.status_code == 400
    error = error_of(response)
    assert error["details"][0]["field"] == "url" and error["message"].startswith(rule)


@pytest.fixture
async def production_client(settings, platform):
    production = Platform.from_settings(settings.model_copy(update={"env": Environment.PRODUCTION}))
    app = create_app(platform=production)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://callwright.test") as client:
        yield client, await make_partner(production, "prod-partner")
    await production.close()


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://93.184.216.34/hook", "url must use https"),
        ("https://127.0.0.1/hook", "url must point to a public address; 127.0.0.1 is loopback"),
        ("https://10.1.2.3/hook", "url must point to a public address; 10.1.2.3 is private"),
        ("https://192.168.0.10:8443/hook", "url must point to a public address; 192.168.0.10 is private"),
        ("https://169.254.169.254/latest", "url must point to a public address; 169.254.169.254 is link-local"),
        ("https://[::1]/hook", "url must point to a public address; ::1 is loopback"),
        ("https://[fe80::1]/hook", "url must point to a public address; fe80::1 is link-local"),
        ("https://[::ffff:127.0.0.1]/hook", "url must point to a public address; ::ffff:7f00:1 is IPv4-mapped 127.0.0.1"),
        ("https://localhost/hook", "url must point to a public address;"),  # resolves to loopback
        ("https://hooks.invalid/x", "url host hooks.invalid could not be resolved"),
    ],
)
async def test_production_refuses_plain_http_and_non_public_addresses(production_client, url, rule):
    client, partner = production_client
    response = await _create(client, partner, url=url)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["details"][0]["field"] == "url" and error["message"].startswith(rule), error["message"]


async def test_production_accepts_a_public_https_address(production_client):
    client, partner = production_client
    assert (await _create(client, partner, url="https://93.184.216.34/hook")).status_code == 201


async def test_another_partners_endpoint_is_404_like_a_missing_one(client, partner, other_partner):
    endpoint = (await _create(client, partner)).json()["data"]["id"]
    missing = "00000000-0000-4000-8000-000000000000"
    for method, path, body in [
        ("PATCH", f"{HOOKS}/{{}}", {"enabled": False}),
        ("DELETE", f"{HOOKS}/{{}}", None),
        ("POST", f"{HOOKS}/{{}}/rotate-secret", None),
        ("GET", f"{HOOKS}/{{}}/deliveries", None),
    ]:
        theirs = await client.request(method, path.format(endpoint), json=body, headers=other_partner.headers)
        nothing = await client.request(method, path.format(missing), json=body, headers=other_partner.headers)
        assert theirs.status_code == nothing.status_code == 404
        assert error_of(theirs)["reason"] == error_of(nothing)["reason"] == "webhook_not_found"
        assert error_of(theirs)["message"].replace(endpoint, missing) == error_of(nothing)["message"]
    assert (await client.get(HOOKS, headers=other_partner.headers)).json()["data"] == []
    assert len((await client.get(HOOKS, headers=partner.headers)).json()["data"]) == 1


# --- enabled, events and the update route ---------------------------------------------------


async def test_create_takes_enabled_and_events_with_vocobases_defaults(client, partner):
    plain = (await _create(client, partner, label="plain")).json()["data"]
    assert (plain["enabled"], plain["events"]) == (True, ["session.completed"])
    body = {
        "label": "audit", "url": "http://127.0.0.1:9000/a", "enabled": False,
        "events": ["call.ended", "session.completed", "call.ringing", "call.ended"],
    }
    chosen = await client.post(HOOKS, json=body, headers=partner.headers)
    assert chosen.status_code == 201, chosen.text
    data = chosen.json()["data"]
    # Deduplicated, in the events' own order.
    assert (data["enabled"], data["events"]) == (False, ["call.ringing", "call.ended", "session.completed"])


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (["session.completed", "call.hangup"], "events has an unknown event 'call.hangup'; the events are "
         "call.ringing, call.answered, call.ended, session.completed"),
        ([], "events must name at least one event (to stop deliveries, set enabled to false)"),
    ],
)
async def test_events_are_checked(client, partner, events, message):
    body = {"label": "prod", "url": "http://127.0.0.1:9000/hook", "events": events}
    response = await client.post(HOOKS, json=body, headers=partner.headers)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["message"]) == ("VALIDATION_ERROR", message)
    assert error["details"] == [{"field": "events", "message": message}]


async def test_update_changes_url_label_enabled_and_events_and_keeps_the_secret(client, platform, partner):
    created = (await _create(client, partner)).json()["data"]
    url = f"{HOOKS}/{created['id']}"
    changes = {"url": "http://127.0.0.1:9000/new", "label": "staging", "enabled": False, "events": ["call.ended"]}
    response = await client.patch(url, json=changes, headers=partner.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert {k: data[k] for k in changes} == changes and "secret" not in data
    partial = (await client.patch(url, json={"enabled": True}, headers=partner.headers)).json()["data"]
    assert (partial["enabled"], partial["label"], partial["events"]) == (True, "staging", ["call.ended"])
    async with platform.sessions() as session:
        row = await session.get(WebhookEndpoint, created["id"])
        assert open_secret(row, secretbox=platform.secretbox) == created["secret"]


async def test_update_refuses_what_create_refuses(client, partner):
    created = (await _create(client, partner)).json()["data"]
    await _create(client, partner, label="taken")
    url = f"{HOOKS}/{created['id']}"
    for body, status, field in [
        ({}, 400, None),
        ({"label": "default"}, 400, "label"),
        ({"label": "Bad Label"}, 400, "label"),
        ({"events": ["call.unknown"]}, 400, "events"),
        ({"url": "ftp://example.com/x"}, 400, "url"),
        ({"secret": "whsec_mine"}, 400, None),
    ]:
        response = await client.patch(url, json=body, headers=partner.headers)
        assert response.status_code == status, (body, response.text)
        if field is not None:
            assert error_of(response)["details"][0]["field"] == field
    taken = await client.patch(url, json={"label": "taken"}, headers=partner.headers)
    assert taken.status_code == 409 and error_of(taken)["reason"] == "webhook_label_taken"
    unchanged = (await client.get(HOOKS, headers=partner.headers)).json()["data"][0]
    assert (unchanged["label"], unchanged["url"]) == ("prod", "http://127.0.0.1:9000/hook")


async def test_the_legacy_route_enables_the_default_endpoint_again(client, partner):
    await client.put("/api/v2/config/webhook", json={"webhook_url": "http://127.0.0.1:9/one"}, headers=partner.headers)
    default = (await client.get(HOOKS, headers=partner.headers)).json()["data"][0]
    assert default["events"] == ["session.completed"]
    await client.patch(f"{HOOKS}/{default['id']}", json={"enabled": False}, headers=partner.headers)
    await client.put("/api/v2/config/webhook", json={"webhook_url": "http://127.0.0.1:9/two"}, headers=partner.headers)
    again = (await client.get(HOOKS, headers=partner.headers)).json()["data"][0]
    assert (again["id"], again["enabled"], again["url"]) == (default["id"], True, "http://127.0.0.1:9/two")
