"""Partner config and carrier credentials, as configuring-your-account, byop-setup, vobiz-setup
and set-or-update-exotel-credentials give them."""

from __future__ import annotations

import pytest

from tests.conformance.shapes import documented
from tests.conformance.support import API, WEBHOOK_ENDPOINT, docs_agent, mcube_account, start_call

WITH_NUMBER = {"configured": "boolean", "from_number": "string|null"}
CONFIG = {
    "name": "string", "display_name": "string", "agent_limit": "integer", "current_agent_count": "integer",
    "allowed_voices": ["string"], "allowed_languages": ["string"], "status": "string",
    "webhook": {"configured": "boolean", "url": "string|null", "secret": "null"},
    "webhooks": [WEBHOOK_ENDPOINT],
    "allowed_telephony_providers": ["string"],
    "telephony": {
        "twilio": WITH_NUMBER, "plivo": WITH_NUMBER, "vobiz": WITH_NUMBER,
        "mcube": {"configured": "boolean"}, "exotel": {"configured": "boolean"},
    },
}  # fmt: skip
VOBIZ_SAVED = {"auth_id": "string", "from_number": "string", "message": "string"}
EXOTEL_SAVED = {"account_sid": "string", "subdomain": "string", "caller_id": "string", "applet_id": "string",
                "message": "string"}  # fmt: skip

VOBIZ = {"auth_id": "MA_ABCD1234", "auth_token": "vobiz-docs-token", "from_number": "+918011223344"}
EXOTEL = {"account_sid": "acme", "api_key": "exotel-docs-key", "api_token": "exotel-docs-token",
          "subdomain": "api.exotel.com", "caller_id": "+919876543210", "applet_id": "12345"}  # fmt: skip


@pytest.fixture
def settings(settings, sim):
    """Carriers' REST APIs are the simulator's, with the accounts the examples name."""
    sim.add_account("vobiz", auth_id=VOBIZ["auth_id"], auth_token=VOBIZ["auth_token"])
    # The example's caller_id is one of the account's ExoPhones, as the credential check demands.
    exotel = {k: EXOTEL[k] for k in ("account_sid", "api_key", "api_token")}
    sim.add_account("exotel", **exotel, exophones=[EXOTEL["caller_id"]])
    urls = sim.api_urls()
    return settings.model_copy(update={"vobiz_api_url": urls["vobiz"], "exotel_api_url": urls["exotel"]})


async def test_a_new_accounts_config(client, partner):
    data = documented(await client.get(f"{API}/config", headers=partner.headers), CONFIG)
    assert data["webhook"] == {"configured": False, "url": None, "secret": None} and data["webhooks"] == []
    assert not any(entry["configured"] for entry in data["telephony"].values())
    assert data["concurrency"] == {"limit": 10, "active": 0}


async def test_set_vobiz_credentials(client, partner):
    response = await client.put(f"{API}/config/telephony/vobiz", json=VOBIZ, headers=partner.headers)
    data = documented(response, VOBIZ_SAVED)
    assert (data["auth_id"], data["message"]) == ("MA_A****1234", "Vobiz credentials updated successfully.")
    config = documented(await client.get(f"{API}/config", headers=partner.headers), CONFIG)
    assert config["telephony"]["vobiz"] | {"auth_id": None} == {
        "configured": True, "from_number": "+918011223344", "auth_id": None,
    }


async def test_set_exotel_credentials(client, partner):
    response = await client.put(f"{API}/config/telephony/exotel", json=EXOTEL, headers=partner.headers)
    data = documented(response, EXOTEL_SAVED)
    assert data["message"] == "Exotel credentials updated successfully."
    assert data["account_sid"] == "conf****ured"  # the page shows the placeholder, not a masked SID
    assert (data["subdomain"], data["caller_id"], data["applet_id"]) == ("api.exotel.com", "+919876543210", "12345")


async def test_config_counts_the_active_calls(client, platform, partner):
    await mcube_account(platform, partner.id)
    await start_call(client, partner, await docs_agent(client, partner))
    data = documented(await client.get(f"{API}/config", headers=partner.headers), CONFIG)
    assert data["concurrency"]["active"] == 1 and data["current_agent_count"] == 1


async def test_the_credits_balance(client, partner):
    documented(await client.get(f"{API}/config", headers=partner.headers), {"credits": "number"})
