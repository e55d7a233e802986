"""Tenancy at the edge: API keys, the 401 envelope, and GET /config."""

from __future__ import annotations

from callwright.services import partners
from tests.conftest import error_of, make_partner


async def test_missing_key_is_401_envelope(client):
    response = await client.get("/api/v2/config")
    assert response.status_code == 401
    assert (error_of(response)["code"], error_of(response)["reason"]) == ("UNAUTHORIZED", "missing_api_key")


async def test_unknown_key_is_401(client, partner):
    response = await client.get(
        "/api/v2/config", headers={"Authorization": "Bearer rg_live_" + "x" * 32}
    )
    assert response.status_code == 401
    assert error_of(response)["reason"] == "invalid_api_key"


async def test_malformed_authorization_is_401(client, partner):
    response = await client.get("/api/v2/config", headers={"Authorization": partner.api_key})
    assert response.status_code == 401


async def test_revoked_key_is_401(client, platform, partner):
    async with platform.sessions() as session:
        keys = await partners.list_api_keys(session=session, partner_name=partner.name)
        await partners.revoke_api_key(session=session, key_id=keys[0].id)
    response = await client.get("/api/v2/config", headers=partner.headers)
    assert response.status_code == 401
    assert error_of(response)["reason"] == "invalid_api_key"


async def test_suspended_partner_is_403(client, platform, partner):
    async with platform.sessions() as session:
        await partners.update_partner(session=session, partner_name=partner.name, status="suspended")
    response = await client.get("/api/v2/config", headers=partner.headers)
    assert response.status_code == 403


async def test_config_lists_all_five_providers_unconfigured(client, platform):
    handle = await make_partner(platform, "acme-corp", ["twilio", "vobiz"])
    response = await client.get("/api/v2/config", headers=handle.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["name"] == "acme-corp"
    assert data["status"] == "active"
    assert data["allowed_telephony_providers"] == ["twilio", "vobiz"]
    assert data["concurrency"] == {"limit": 10, "active": 0}
    assert data["current_agent_count"] == 0
    assert data["telephony"] == {
        "twilio": {"configured": False, "account_sid": None, "from_number": None},
        "mcube": {"configured": False, "exe_number": None},
        "exotel": {
            "configured": False,
            "account_sid": None,
            "subdomain": None,
            "caller_id": None,
            "applet_id": None,
        },
        "plivo": {"configured": False, "auth_id": None, "from_number": None},
        "vobiz": {"configured": False, "auth_id": None, "from_number": None},
    }
    assert "piper-joe-us" in data["allowed_voices"]
    assert "en" in data["allowed_languages"]


async def test_unknown_route_and_wrong_method_use_envelope(client, partner):
    response = await client.get("/api/v2/nope", headers=partner.headers)
    assert response.status_code == 404
    assert error_of(response)["reason"] == "not_found"
    response = await client.delete("/api/v2/config", headers=partner.headers)
    assert response.status_code == 405
    assert error_of(response)["reason"] == "method_not_allowed"
