"""Driving inbound calls: a partner with a connection per carrier, a number synced from the carrier
and bound to an agent, and the simulator's caller ringing it."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from callwright.sim import CarrierSimulator
from tests.e2e.helpers import ADMIN

_numbers = itertools.count(10)

INTRO = "Hello, thank you for calling Callwright."
TOKENS = {"twilio": "twilio-in-token", "plivo": "plivo-in-token", "vobiz": "vobiz-in-token"}


@dataclass
class InboundTenant:
    name: str
    headers: dict[str, str]
    agent_id: str
    # provider → (account id, connection id, bound number, its phone-number id)
    lines: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # provider → the account's auth token


def our_number(provider: str) -> str:
    """A fresh DID for the carrier: a US number for Twilio and Plivo, an Indian one otherwise."""
    serial = next(_numbers) + int(time.monotonic_ns() % 10_000) * 100
    if provider in ("twilio", "plivo"):
        return f"+1415555{serial % 10_000:04d}"
    return f"+9180{serial % 100_000_000:08d}"


def caller_number() -> str:
    return f"+9197{(next(_numbers) * 7919 + time.monotonic_ns()) % 100_000_000:08d}"


def _account(sim: CarrierSimulator, provider: str, number: str) -> tuple[str, dict[str, Any]]:
    digits = str(uuid.uuid4().int)
    token = f"{TOKENS.get(provider, '')}-{digits[-6:]}"  # each account its own
    if provider == "twilio":
        sid = "AC" + uuid.uuid4().hex
        sim.add_account("twilio", account_sid=sid, auth_token=token)
        sim.add_number("twilio", sid, number)
        return sid, {"account_sid": sid, "auth_token": token, "from_number": number}
    if provider in ("plivo", "vobiz"):
        auth_id = "MA" + digits[:18] if provider == "plivo" else "MA_" + digits[:12]
        sim.add_account(provider, auth_id=auth_id, auth_token=token)
        sim.add_number(provider, auth_id, number)
        return auth_id, {"auth_id": auth_id, "auth_token": token, "from_number": number}
    sid = "inb" + digits[:10]
    sim.add_account("exotel", account_sid=sid, api_key="in-key", api_token="in-token", exophones=[number])
    body = {
        "account_sid": sid,
        "api_key": "in-key",
        "api_token": "in-token",
        "subdomain": "api.in.exotel.com",
        "caller_id": number,
    }
    return sid, body


async def inbound_tenant(
    api: httpx.AsyncClient,
    sim: CarrierSimulator,
    providers: list[str],
    *,
    concurrency_limit: int = 20,
    bind: bool = True,
    also_allowed: tuple[str, ...] = (),
    **agent_fields: Any,
) -> InboundTenant:
    """A partner with one connection per provider, the connection's number synced and (``bind``)
    bound to its agent: the carrier points the number at us, or (Exotel) the flow is set."""
    name = f"inb-{uuid.uuid4().hex[:10]}"
    created = await api.post(
        "/admin/v1/partners",
        json={
            "name": name,
            "allowed_telephony_providers": [*providers, *also_allowed],
            "concurrency_limit": concurrency_limit,
            "requests_per_minute": 0,
            "calls_per_minute": 0,
        },
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {created.json()['data']['api_key']}"}
    agent = await api.post(
        "/api/v2/agent",
        json={"agent_name": "Front desk", "intro_message": INTRO, "agent_type": "inbound"} | agent_fields,
        headers=headers,
    )
    assert agent.status_code == 201, agent.text
    tenant = InboundTenant(name, headers, agent.json()["data"]["id"])
    for provider in providers:
        number = our_number(provider)
        account_id, body = _account(sim, provider, number)
        connection = await api.post(
            "/api/v2/telephony/connections", json={"provider": provider, "name": "Main"} | body, headers=headers
        )
        assert connection.status_code == 201, connection.text
        connection_id = connection.json()["data"]["connection"]["id"]
        synced = await api.post("/api/v2/phone-numbers/sync", json={"connection_id": connection_id}, headers=headers)
        assert synced.status_code == 200, synced.text
        [row] = [n for n in synced.json()["data"]["phone_numbers"] if n["phone_number"] == number]
        tenant.lines[provider] = (account_id, connection_id, number, row["id"])
        tenant.tokens[provider] = str(body.get("auth_token", ""))
        if bind:
            await bind_number(api, sim, tenant, provider)
    return tenant


async def bind_number(
    api: httpx.AsyncClient, sim: CarrierSimulator, tenant: InboundTenant, provider: str, agent_id: str | None = None
) -> dict[str, Any]:
    account_id, _, number, number_id = tenant.lines[provider]
    bound = await api.put(
        f"/api/v2/phone-numbers/{number_id}", json={"agent_id": agent_id or tenant.agent_id}, headers=tenant.headers
    )
    assert bound.status_code == 200, bound.text
    view = bound.json()["data"]
    if provider == "exotel":
        # What the partner does in Exotel's dashboard: a Voicebot applet with this URL first in
        # the ExoPhone's flow.
        sim.set_exotel_flow(account_id, number, view["carrier_setup"]["voicebot_url"])
    else:
        assert view["routed_to_callwright"] is True, view
    return view


async def ring(sim: CarrierSimulator, tenant: InboundTenant, provider: str, caller: str):  # type: ignore[no-untyped-def]
    account_id, _, number, _ = tenant.lines[provider]
    return await sim.place_inbound_call(provider, account_id, to=number, from_=caller)


async def inbound_calls(api: httpx.AsyncClient, tenant: InboundTenant, **query: str) -> list[dict[str, Any]]:
    listed = await api.get("/api/v2/calls", params={"direction": "inbound", **query}, headers=tenant.headers)
    assert listed.status_code == 200, listed.text
    data = listed.json()["data"]
    return data["calls"] if isinstance(data, dict) else data


async def the_inbound_call(
    api: httpx.AsyncClient, tenant: InboundTenant, caller: str, timeout: float = 15.0
) -> dict[str, Any]:
    """The tenant's inbound call from ``caller``, once it is listed."""
    deadline = time.monotonic() + timeout
    while True:
        found = await inbound_calls(api, tenant, number=caller.lstrip("+"))
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no inbound call from {caller} was listed in {timeout} s")
        await asyncio.sleep(0.1)
