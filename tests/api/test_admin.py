"""The operator API (/admin/v1): admin-token auth, partners, keys, providers, connections, secrets."""

from __future__ import annotations

import pytest

from callwright.domain.providers import Provider
from callwright.services import partners
from callwright.store.secretbox import SecretBox
from tests.conftest import TEST_SECRET_KEY, error_of, make_partner
from tests.connection_rows import VOBIZ_SECRETS, open_connection, store_connection

A = "/admin/v1"
OLD_KEY = "previous-master-key-" + "p" * 32


async def _authenticates(platform, api_key: str) -> bool:
    async with platform.sessions() as session:
        return await partners.authenticate(session=session, api_key=api_key) is not None


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}],
    ids=["missing", "wrong", "not-bearer"],
)
async def test_admin_api_requires_the_admin_token(client, headers):
    response = await client.get(f"{A}/partners", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["reason"] == "invalid_admin_token"


async def test_partner_api_key_is_not_an_admin_token(client, partner):
    response = await client.get(f"{A}/partners", headers=partner.headers)
    assert response.status_code == 401


async def test_admin_api_disabled_without_a_configured_token(client, platform, admin_headers):
    platform.settings = platform.settings.model_copy(update={"admin_token": None})
    response = await client.get(f"{A}/partners", headers=admin_headers)
    assert response.status_code == 401
    error = error_of(response)
    assert error["reason"] == "admin_disabled"
    assert "CALLWRIGHT_ADMIN_TOKEN" in error["message"]


# --- partners -------------------------------------------------------------------------------


async def test_create_partner_returns_a_working_key_once(client, platform, admin_headers):
    response = await client.post(
        f"{A}/partners",
        headers=admin_headers,
        json={
            "name": "acme-corp",
            "display_name": "Acme Corp",
            "allowed_telephony_providers": ["vobiz", "twilio"],
            "concurrency_limit": 4,
        },
    )
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["name"] == "acme-corp"
    assert data["display_name"] == "Acme Corp"
    assert data["allowed_telephony_providers"] == ["vobiz", "twilio"]
    assert data["concurrency_limit"] == 4
    assert data["agent_limit"] == platform.settings.default_agent_limit
    assert data["api_key"].startswith("rg_live_")
    assert await _authenticates(platform, data["api_key"])

    config = await client.get(
        "/api/v2/config", headers={"Authorization": f"Bearer {data['api_key']}"}
    )
    assert config.json()["data"]["name"] == "acme-corp"

    detail = await client.get(f"{A}/partners/acme-corp", headers=admin_headers)
    assert data["api_key"] not in detail.text
    keys = await client.get(f"{A}/partners/acme-corp/keys", headers=admin_headers)
    assert data["api_key"] not in keys.text


async def test_create_partner_duplicate_is_409(client, partner, admin_headers):
    response = await client.post(f"{A}/partners", headers=admin_headers, json={"name": partner.name})
    assert response.status_code == 409
    assert error_of(response)["reason"] == "partner_exists"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Acme Corp"}, "name"),
        ({"name": "acme", "allowed_telephony_providers": ["nokia"]}, "allowed_telephony_providers"),
        ({"name": "acme", "concurrency_limit": -1}, "concurrency_limit"),
        ({"name": "acme", "surprise": True}, "surprise"),
        ({}, "name"),
    ],
)
async def test_create_partner_validation(client, admin_headers, body, field):
    response = await client.post(f"{A}/partners", headers=admin_headers, json=body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["details"][0]["field"] == field
    assert field in error["message"]


async def test_list_partners_paginates(client, platform, admin_headers):
    for name in ("acme-corp", "globex", "initech"):
        await make_partner(platform, name)
    response = await client.get(f"{A}/partners?limit=2&offset=1", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"limit": 2, "offset": 1, "total": 3}
    assert [p["name"] for p in body["data"]] == ["globex", "initech"]


async def test_get_partner_shows_counts_and_connections(client, platform, partner, admin_headers):
    await store_connection(platform.sessions, partner_id=partner.id, master_key=TEST_SECRET_KEY)
    response = await client.get(f"{A}/partners/{partner.name}", headers=admin_headers)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["name"] == partner.name
    assert data["current_agent_count"] == 0
    assert data["active_api_keys"] == 1
    [connection] = data["connections"]
    assert connection["provider"] == "vobiz"
    assert connection["carrier_voicemail_detection"] is False
    assert connection["cps"] is None
    assert "auth_token" not in response.text and "MA_TEST0001" not in response.text


async def test_unknown_partner_is_404_everywhere(client, admin_headers):
    for method, path, body in [
        ("GET", "/partners/nobody", None),
        ("PATCH", "/partners/nobody", {"status": "suspended"}),
        ("PUT", "/partners/nobody/providers/vobiz", None),
        ("DELETE", "/partners/nobody/providers/vobiz", None),
        ("POST", "/partners/nobody/keys", {"test": False}),
        ("GET", "/partners/nobody/keys", None),
        ("PATCH", "/partners/nobody/connections/vobiz", {"cps": 2}),
    ]:
        response = await client.request(method, A + path, headers=admin_headers, json=body)
        assert response.status_code == 404, (method, path)
        assert error_of(response)["reason"] == "partner_not_found"


async def test_update_partner_limits_and_suspension(client, partner, admin_headers):
    response = await client.patch(
        f"{A}/partners/{partner.name}",
        headers=admin_headers,
        json={"status": "suspended", "concurrency_limit": 20, "display_name": "ACME"},
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["status"], data["concurrency_limit"], data["display_name"]) == (
        "suspended",
        20,
        "ACME",
    )
    assert (await client.get("/api/v2/config", headers=partner.headers)).status_code == 403

    response = await client.patch(
        f"{A}/partners/{partner.name}", headers=admin_headers, json={"status": "active"}
    )
    assert response.json()["data"]["status"] == "active"
    assert (await client.get("/api/v2/config", headers=partner.headers)).status_code == 200


@pytest.mark.parametrize(
    "body", [{}, {"status": "deleted"}, {"agent_limit": 10**9}, {"name": "renamed"}]
)
async def test_update_partner_validation(client, partner, admin_headers, body):
    response = await client.patch(f"{A}/partners/{partner.name}", headers=admin_headers, json=body)
    assert response.status_code == 400
    assert error_of(response)["reason"] == "validation_error"


async def test_allow_and_disallow_provider(client, platform, admin_headers):
    handle = await make_partner(platform, "acme-corp", ["twilio"])
    response = await client.put(f"{A}/partners/acme-corp/providers/vobiz", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["data"]["allowed_telephony_providers"] == ["twilio", "vobiz"]
    config = await client.get("/api/v2/config", headers=handle.headers)
    assert config.json()["data"]["allowed_telephony_providers"] == ["twilio", "vobiz"]

    response = await client.delete(f"{A}/partners/acme-corp/providers/twilio", headers=admin_headers)
    assert response.json()["data"]["allowed_telephony_providers"] == ["vobiz"]
    # Allowing twice and disallowing an absent provider are harmless.
    await client.put(f"{A}/partners/acme-corp/providers/vobiz", headers=admin_headers)
    response = await client.delete(f"{A}/partners/acme-corp/providers/twilio", headers=admin_headers)
    assert response.json()["data"]["allowed_telephony_providers"] == ["vobiz"]


async def test_unknown_provider_is_404(client, partner, admin_headers):
    response = await client.put(f"{A}/partners/{partner.name}/providers/nokia", headers=admin_headers)
    assert response.status_code == 404
    assert error_of(response)["reason"] == "unknown_provider"


# --- API keys -------------------------------------------------------------------------------


async def test_issue_list_and_revoke_keys(client, platform, partner, admin_headers):
    response = await client.post(
        f"{A}/partners/{partner.name}/keys", headers=admin_headers, json={"test": True}
    )
    assert response.status_code == 201
    issued = response.json()["data"]
    assert issued["mode"] == "test" and issued["partner"] == partner.name
    assert issued["api_key"].startswith("rg_test_")
    assert await _authenticates(platform, issued["api_key"])

    response = await client.post(f"{A}/partners/{partner.name}/keys", headers=admin_headers)
    assert response.json()["data"]["mode"] == "live"  # no body: a live key

    listed = await client.get(f"{A}/partners/{partner.name}/keys", headers=admin_headers)
    body = listed.json()
    assert body["pagination"]["total"] == 3
    assert [k["mode"] for k in body["data"]] == ["live", "test", "live"]
    for key in body["data"]:
        assert set(key) == {
            "key_id", "partner", "display_prefix", "mode", "status", "created_at", "revoked_at"
        }
        assert len(key["display_prefix"]) == 12
    assert issued["api_key"] not in listed.text

    response = await client.delete(f"{A}/keys/{issued['key_id']}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "revoked"
    assert not await _authenticates(platform, issued["api_key"])
    assert await _authenticates(platform, partner.api_key)
    again = await client.delete(f"{A}/keys/{issued['key_id']}", headers=admin_headers)
    assert again.status_code == 200


async def test_revoke_unknown_key_is_404(client, admin_headers):
    unknown = "00000000-0000-0000-0000-000000000000"
    response = await client.delete(f"{A}/keys/{unknown}", headers=admin_headers)
    assert response.status_code == 404
    assert error_of(response)["reason"] == "api_key_not_found"


# --- connection switches --------------------------------------------------------------------


async def test_connection_switches(client, platform, partner, admin_headers):
    await store_connection(platform.sessions, partner_id=partner.id, master_key=TEST_SECRET_KEY)
    url = f"{A}/partners/{partner.name}/connections/vobiz"

    response = await client.patch(
        url, headers=admin_headers, json={"carrier_voicemail_detection": True, "cps": 2.5}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["carrier_voicemail_detection"], data["cps"]) == (True, 2.5)

    # Omitted fields stay; null clears the pacing cap.
    response = await client.patch(url, headers=admin_headers, json={"cps": None})
    data = response.json()["data"]
    assert (data["carrier_voicemail_detection"], data["cps"]) == (True, None)

    response = await client.patch(
        url, headers=admin_headers, json={"carrier_voicemail_detection": False}
    )
    assert response.json()["data"]["carrier_voicemail_detection"] is False


@pytest.mark.parametrize(
    "body",
    [{}, {"cps": 0}, {"cps": -1}, {"cps": 10**6}, {"carrier_voicemail_detection": None}, {"x": 1}],
)
async def test_connection_switches_validation(client, platform, partner, admin_headers, body):
    await store_connection(platform.sessions, partner_id=partner.id, master_key=TEST_SECRET_KEY)
    response = await client.patch(
        f"{A}/partners/{partner.name}/connections/vobiz", headers=admin_headers, json=body
    )
    assert response.status_code == 400
    assert error_of(response)["reason"] == "validation_error"


async def test_connection_switches_404_when_provider_not_configured(
    client, platform, partner, other_partner, admin_headers
):
    # Another partner's vobiz connection must not be reachable through this partner's name.
    await store_connection(platform.sessions, partner_id=other_partner.id, master_key=TEST_SECRET_KEY)
    response = await client.patch(
        f"{A}/partners/{partner.name}/connections/vobiz",
        headers=admin_headers,
        json={"carrier_voicemail_detection": True},
    )
    assert response.status_code == 404
    assert error_of(response)["reason"] == "provider_not_configured"

    response = await client.get(f"{A}/partners/{other_partner.name}", headers=admin_headers)
    assert response.json()["data"]["connections"][0]["carrier_voicemail_detection"] is False

    response = await client.patch(
        f"{A}/partners/{partner.name}/connections/nokia", headers=admin_headers, json={"cps": 1}
    )
    assert response.status_code == 404
    assert error_of(response)["reason"] == "unknown_provider"


# --- secrets --------------------------------------------------------------------------------


async def test_rotate_secrets_reseals_under_the_current_key(client, platform, partner, admin_headers):
    row = await store_connection(platform.sessions, partner_id=partner.id, master_key=OLD_KEY)
    platform.secretbox = SecretBox([TEST_SECRET_KEY, OLD_KEY])

    response = await client.post(f"{A}/secrets/rotate", headers=admin_headers)

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["resealed"], data["already_current"]) == (1, 0)
    assert data["key_id"] == SecretBox([TEST_SECRET_KEY]).current_key_id
    assert await open_connection(platform.sessions, row, TEST_SECRET_KEY) == VOBIZ_SECRETS
    again = await client.post(f"{A}/secrets/rotate", headers=admin_headers)
    assert (again.json()["data"]["resealed"], again.json()["data"]["already_current"]) == (0, 1)


async def test_rotate_secrets_refuses_when_a_value_cannot_be_opened(
    client, platform, partner, admin_headers
):
    row = await store_connection(
        platform.sessions, partner_id=partner.id, provider=Provider.PLIVO, master_key=OLD_KEY
    )
    response = await client.post(f"{A}/secrets/rotate", headers=admin_headers)
    assert response.status_code == 409
    error = error_of(response)
    assert error["reason"] == "secrets_unreadable"
    assert "CALLWRIGHT_PREVIOUS_SECRET_KEYS" in error["message"]
    assert await open_connection(platform.sessions, row, OLD_KEY) == VOBIZ_SECRETS


async def test_every_admin_route_is_documented_with_summary_and_example(client):
    schema = (await client.get("/openapi.json")).json()
    admin_ops = [
        (path, method, op)
        for path, methods in schema["paths"].items()
        if path.startswith(A)
        for method, op in methods.items()
    ]
    assert len(admin_ops) == 27  # 12 (the cluster's nodes among them), 8 for credits, rates and usage, 6 for calls across partners, 1 for phone numbers
    for path, method, op in admin_ops:
        assert op.get("summary"), (method, path)
        success = next(r for code, r in op["responses"].items() if code.startswith("2"))
        assert "example" in success["content"]["application/json"], (method, path)
