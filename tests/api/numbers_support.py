"""Shared by the connection and phone-number tests: carrier accounts on the simulator, each test's
own (the simulator outlives a test), and the calls that configure them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

TWILIO_TOKEN = "twilio-token-5e6f7a8b"
PLIVO_TOKEN = "plivo-token-1a2b3c4d"
VOBIZ_TOKEN = "vobiz-token-9f8e7d6c"
EXOTEL_KEY, EXOTEL_TOKEN = "exotel-key-77aa", "exotel-token-88bb"


@pytest.fixture
def settings(settings, sim):
    """Every carrier's REST base URL at the simulator."""
    urls = sim.api_urls()
    return settings.model_copy(
        update={f"{name}_api_url": urls[name] for name in ("vobiz", "plivo", "twilio", "exotel", "mcube")}
    )


def unique_digits(count: int) -> str:
    return str(uuid.uuid4().int)[:count]


def carrier_body(
    sim: Any, provider: str, from_number: str, *, exophones: list[str] | None = None
) -> dict[str, Any]:
    """A fresh simulated account of ``provider`` and the connection body that names it."""
    if provider == "twilio":
        sid = "AC" + uuid.uuid4().hex
        sim.add_account("twilio", account_sid=sid, auth_token=TWILIO_TOKEN)
        return {"account_sid": sid, "auth_token": TWILIO_TOKEN, "from_number": from_number}
    if provider in ("plivo", "vobiz"):
        auth_id = ("MA" if provider == "plivo" else "MA_") + unique_digits(18)
        token = PLIVO_TOKEN if provider == "plivo" else VOBIZ_TOKEN
        sim.add_account(provider, auth_id=auth_id, auth_token=token)
        return {"auth_id": auth_id, "auth_token": token, "from_number": from_number}
    if provider == "exotel":
        sid = "acme" + unique_digits(8)
        sim.add_account(
            "exotel",
            account_sid=sid,
            api_key=EXOTEL_KEY,
            api_token=EXOTEL_TOKEN,
            exophones=exophones or [from_number],
        )
        return {
            "account_sid": sid,
            "api_key": EXOTEL_KEY,
            "api_token": EXOTEL_TOKEN,
            "subdomain": "api.in.exotel.com",
            "caller_id": from_number,
            "applet_id": "123456",
        }
    raise AssertionError(provider)


def account_id(provider: str, body: dict[str, Any]) -> str:
    return body.get("auth_id") or body["account_sid"]


async def create_connection(
    client: Any, partner: Any, provider: str, name: str, body: dict[str, Any], **extra: Any
):
    return await client.post(
        "/api/v2/telephony/connections",
        json={"provider": provider, "name": name} | body | extra,
        headers=partner.headers,
    )


async def new_agent(client: Any, partner: Any, name: str = "Caller") -> str:
    response = await client.post(
        "/api/v2/agent", json={"agent_name": name, "intro_message": "Hello"}, headers=partner.headers
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def start_call(client: Any, partner: Any, agent_id: str, provider: str, to: str, **extra: Any):
    body = {"agent_id": agent_id, "to_number": to, "provider": provider} | extra
    return await client.post("/api/v2/calls/start", json=body, headers=partner.headers)
