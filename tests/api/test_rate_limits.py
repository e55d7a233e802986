"""Per-API-key rate limits: 60 requests a minute on general endpoints, 10 on /calls/*, 429 past
them, changed by the operator per partner (0 = no limit), shared through Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest

from callwright.api.app import create_app
from callwright.domain.rate_limits import KeyRates, RateCategory
from callwright.platform import Platform
from callwright.services import partners
from callwright.services.rate_limits import ApiRateLimiter
from tests.conftest import error_of, make_partner
from tests.redis_support import REDIS_URL, require_redis

RATE_HEADERS = {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}


async def test_the_61st_request_in_a_minute_is_refused_with_429_and_headers(client, platform):
    handle = await make_partner(platform, "limited", requests_per_minute=60, calls_per_minute=10)
    for n in range(60):
        response = await client.get("/api/v2/agents", headers=handle.headers)
        assert response.status_code == 200, (n, response.text)
        assert response.headers["X-RateLimit-Limit"] == "60"
        assert response.headers["X-RateLimit-Remaining"] == str(59 - n)
    refused = await client.get("/api/v2/agents", headers=handle.headers)
    assert refused.status_code == 429
    error = error_of(refused)
    assert (error["code"], error["reason"]) == ("RATE_LIMITED", "rate_limited")
    assert "60 requests per minute" in error["message"]
    assert refused.headers["X-RateLimit-Limit"] == "60"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert int(refused.headers["X-RateLimit-Reset"]) >= int(response.headers["X-RateLimit-Reset"])


async def test_call_endpoints_have_their_own_budget(client, platform):
    handle = await make_partner(platform, "split", requests_per_minute=5, calls_per_minute=3)
    for path in ("/api/v2/calls", "/api/v2/calls/concurrency", "/api/v2/calls?limit=1"):
        response = await client.get(path, headers=handle.headers)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
    refused = await client.get("/api/v2/calls/concurrency", headers=handle.headers)
    assert refused.status_code == 429
    assert "call endpoint requests" in error_of(refused)["message"]
    refused_start = await client.post(
        "/api/v2/calls/start", headers=handle.headers, json={"agent_id": "x", "to_number": "+919876543210"}
    )
    assert refused_start.status_code == 429  # counted before the body is looked at

    # The general budget was not touched by the call requests: all five are still there.
    for n in range(5):
        response = await client.get("/api/v2/config", headers=handle.headers)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Remaining"] == str(4 - n)
    assert (await client.get("/api/v2/config", headers=handle.headers)).status_code == 429


async def test_the_budget_is_per_api_key_not_per_partner(client, platform):
    handle = await make_partner(platform, "two-keys", requests_per_minute=2, calls_per_minute=2)
    async with platform.sessions() as session:
        second = await partners.create_api_key(session=session, partner_name=handle.name, test_mode=False)
    other_headers = {"Authorization": f"Bearer {second.api_key}"}
    for _ in range(2):
        assert (await client.get("/api/v2/config", headers=handle.headers)).status_code == 200
    assert (await client.get("/api/v2/config", headers=handle.headers)).status_code == 429
    fresh = await client.get("/api/v2/config", headers=other_headers)
    assert fresh.status_code == 200
    assert fresh.headers["X-RateLimit-Remaining"] == "1"


async def test_a_partner_with_no_limits_is_never_refused_and_gets_no_headers(client, partner):
    for _ in range(70):
        response = await client.get("/api/v2/calls", headers=partner.headers)
        assert response.status_code == 200
        assert not RATE_HEADERS & set(response.headers)


async def test_the_operators_change_applies_to_the_next_request(client, platform, admin_headers):
    handle = await make_partner(platform, "changing", requests_per_minute=2, calls_per_minute=2)
    for _ in range(2):
        await client.get("/api/v2/config", headers=handle.headers)
    assert (await client.get("/api/v2/config", headers=handle.headers)).status_code == 429

    raised = await client.patch(
        f"/admin/v1/partners/{handle.name}", headers=admin_headers, json={"requests_per_minute": 5}
    )
    assert raised.status_code == 200
    assert raised.json()["data"]["requests_per_minute"] == 5
    allowed = await client.get("/api/v2/config", headers=handle.headers)
    assert allowed.status_code == 200
    assert allowed.headers["X-RateLimit-Limit"] == "5"

    lifted = await client.patch(
        f"/admin/v1/partners/{handle.name}",
        headers=admin_headers,
        json={"requests_per_minute": 0, "calls_per_minute": 0},
    )
    lifted_data = lifted.json()["data"]
    assert (lifted_data["requests_per_minute"], lifted_data["calls_per_minute"]) == (0, 0)
    for _ in range(10):
        response = await client.get("/api/v2/config", headers=handle.headers)
        assert response.status_code == 200
        assert "x-ratelimit-limit" not in response.headers


async def test_a_new_partner_gets_the_documented_limits(client, admin_headers):
    created = await client.post("/admin/v1/partners", headers=admin_headers, json={"name": "fresh"})
    assert created.status_code == 201
    data = created.json()["data"]
    assert (data["requests_per_minute"], data["calls_per_minute"]) == (60, 10)
    headers = {"Authorization": f"Bearer {data['api_key']}"}
    response = await client.get("/api/v2/calls", headers=headers)
    assert response.headers["X-RateLimit-Limit"] == "10"


async def test_negative_limits_are_refused(client, platform, admin_headers):
    await make_partner(platform, "acme-corp")
    response = await client.patch(
        "/admin/v1/partners/acme-corp", headers=admin_headers, json={"calls_per_minute": -1}
    )
    assert response.status_code == 400
    assert error_of(response)["details"][0]["field"] == "calls_per_minute"


async def test_an_unauthenticated_request_spends_no_budget(client, platform):
    handle = await make_partner(platform, "strict", requests_per_minute=1, calls_per_minute=1)
    for _ in range(3):
        bad = await client.get("/api/v2/config", headers={"Authorization": "Bearer rg_live_" + "x" * 32})
        assert bad.status_code == 401
    assert (await client.get("/api/v2/config", headers=handle.headers)).status_code == 200


@pytest.fixture
async def two_nodes(platform: Platform):
    """Two app instances (two nodes) on one store and one Redis, each with its own limiter."""
    require_redis()
    shared = platform.settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_namespace": f"test-{uuid.uuid4().hex[:12]}"}
    )
    nodes = [Platform.from_settings(shared), Platform.from_settings(shared)]
    clients = []
    try:
        for node in nodes:
            transport = httpx.ASGITransport(app=create_app(platform=node), raise_app_exceptions=False)
            clients.append(httpx.AsyncClient(transport=transport, base_url="http://callwright.test"))
        yield clients
    finally:
        for c in clients:
            await c.aclose()
        for node in nodes:
            await node.close()


async def test_every_node_counts_against_one_budget_through_redis(platform, two_nodes):
    first, second = two_nodes
    handle = await make_partner(platform, "clustered", requests_per_minute=4, calls_per_minute=4)
    for node in (first, second, first, second):
        assert (await node.get("/api/v2/config", headers=handle.headers)).status_code == 200
    for node in (first, second):
        refused = await node.get("/api/v2/config", headers=handle.headers)
        assert refused.status_code == 429
        assert refused.headers["X-RateLimit-Remaining"] == "0"


async def test_with_redis_unreachable_requests_are_let_through(caplog):
    limiter = ApiRateLimiter("redis://127.0.0.1:1/0", namespace=f"test-{uuid.uuid4().hex[:8]}")
    try:
        rates = KeyRates(requests_per_minute=1, calls_per_minute=1)
        for _ in range(3):
            assert await limiter.check(key_id="k", category=RateCategory.GENERAL, rates=rates) == {}
    finally:
        await limiter.close()
    assert "rate limits not enforced" in caplog.text
