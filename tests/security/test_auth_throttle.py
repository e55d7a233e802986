"""Failed authentication is throttled: by client address (20 failures a minute, then 429 with
Retry-After for everything from it), and by key prefix (a prefix under a spread-out attack blocks
an address at its first failure), without ever refusing a valid key from an address that has not
failed. Counts are shared through Redis when it is configured."""

from __future__ import annotations

import secrets

import httpx
import pytest

from callwright.api.app import create_app
from callwright.platform import Platform
from tests.conftest import TEST_ADMIN_TOKEN, error_of
from tests.redis_support import REDIS_URL, require_redis

WRONG_KEY = "Bearer rg_live_" + "x" * 32


@pytest.fixture
async def node(settings, platform):
    """``node(client=(host, port), **settings)``: an HTTP client of one app (one process of the
    platform), seen from that client address; the same ``app`` can be reached from several."""
    made: list[Platform] = []
    clients: list[httpx.AsyncClient] = []

    def app_for(**update: object):  # type: ignore[no-untyped-def]
        if not update:
            return create_app(platform=platform)
        made.append(Platform.from_settings(settings.model_copy(update=update)))
        return create_app(platform=made[-1])

    def client(app, host: str = "203.0.113.7") -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(host, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://callwright.test"))
        return clients[-1]

    yield app_for, client
    for each in clients:
        await each.aclose()
    for each in made:
        await each.close()


async def _fail(client: httpx.AsyncClient, times: int, authorization: str = WRONG_KEY) -> list[int]:
    return [
        (await client.get("/api/v2/config", headers={"Authorization": authorization})).status_code
        for _ in range(times)
    ]


async def test_an_address_is_blocked_after_twenty_failures_and_others_are_not(node, partner):
    app_for, client = node
    app = app_for()
    attacker, holder = client(app, "203.0.113.7"), client(app, "198.51.100.9")
    assert [(await attacker.get("/api/v2/config", headers=partner.headers)).status_code for _ in range(5)] == [200] * 5
    assert await _fail(attacker, 20) == [401] * 20  # successes before did not count
    blocked = await attacker.get("/api/v2/config", headers={"Authorization": WRONG_KEY})
    assert blocked.status_code == 429
    assert (error_of(blocked)["code"], error_of(blocked)["reason"]) == ("RATE_LIMITED", "too_many_auth_failures")
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    # The blocked address's keys are not even looked at, a valid one included…
    assert (await attacker.get("/api/v2/config", headers=partner.headers)).status_code == 429
    # …while the key holder elsewhere is not affected.
    assert (await holder.get("/api/v2/config", headers=partner.headers)).status_code == 200


async def test_malformed_credentials_count_too_and_are_refused_before_the_body(node):
    app_for, client = node
    attacker = client(app_for())
    assert await _fail(attacker, 20, "Bearer guess") == [401] * 20
    response = await attacker.post("/api/v2/calls/start", headers={"Authorization": "Bearer guess"}, json={})
    assert response.status_code == 429


async def test_admin_token_guesses_are_throttled(node, admin_headers):
    app_for, client = node
    app = app_for()
    attacker, operator = client(app, "203.0.113.7"), client(app, "198.51.100.9")
    wrong = {"Authorization": "Bearer " + "g" * 40}
    assert [(await attacker.get("/admin/v1/partners", headers=wrong)).status_code for _ in range(20)] == [401] * 20
    assert (await attacker.get("/admin/v1/partners", headers=wrong)).status_code == 429
    assert (await attacker.get("/admin/v1/partners", headers=admin_headers)).status_code == 429
    assert (await operator.get("/admin/v1/partners", headers=admin_headers)).status_code == 200
    assert admin_headers["Authorization"] == f"Bearer {TEST_ADMIN_TOKEN}"


async def test_a_prefix_under_spread_out_attack_blocks_at_the_first_failure_but_not_its_holder(node, partner):
    app_for, client = node
    app = app_for(auth_prefix_failure_limit="5/minute")
    prefix = partner.api_key[: len("rg_live_") + 4]
    guess = f"Bearer {prefix}" + secrets.token_urlsafe(21)
    for n in range(5):  # five addresses, one guess each: each stays under its own limit
        assert await _fail(client(app, f"203.0.113.{n + 10}"), 1, guess) == [401]
    sixth = client(app, "203.0.113.99")
    assert await _fail(sixth, 1, guess) == [429]  # the prefix is hot: one strike
    assert await _fail(sixth, 1, WRONG_KEY) == [429]
    # The real holder, from an address that never failed, keeps working.
    holder = client(app, "198.51.100.9")
    assert (await holder.get("/api/v2/config", headers=partner.headers)).status_code == 200


async def test_failures_are_counted_across_nodes_through_redis(node, partner):
    require_redis()
    app_for, client = node
    shared = {"redis_url": REDIS_URL, "redis_namespace": f"cw-test-{secrets.token_hex(4)}"}
    one, two = client(app_for(**shared)), client(app_for(**shared))
    assert await _fail(one, 10) == [401] * 10
    assert await _fail(two, 10) == [401] * 10
    assert await _fail(two, 1) == [429]  # the 21st failure, on the other node
    assert await _fail(one, 1) == [429]  # and the first node learns it at the next failure


async def test_x_forwarded_for_is_believed_only_from_trusted_proxies(node, partner):
    app_for, client = node
    behind_proxy = app_for(trusted_proxies=["10.0.0.0/8"])
    balancer = client(behind_proxy, "10.1.2.3")

    async def fail_as(forwarded_for: str) -> int:
        headers = {"Authorization": WRONG_KEY, "X-Forwarded-For": forwarded_for}
        return (await balancer.get("/api/v2/config", headers=headers)).status_code

    assert [await fail_as("203.0.113.7") for _ in range(21)] == [401] * 20 + [429]
    assert await fail_as("198.51.100.9") == 401  # another client behind the same balancer
    headers = partner.headers | {"X-Forwarded-For": "198.51.100.9"}
    assert (await balancer.get("/api/v2/config", headers=headers)).status_code == 200

    # Without trusted proxies the header is the client's word and changes nothing.
    direct = client(app_for(), "203.0.113.50")
    for n in range(20):
        headers = {"Authorization": WRONG_KEY, "X-Forwarded-For": f"192.0.2.{n}"}
        assert (await direct.get("/api/v2/config", headers=headers)).status_code == 401
    assert (await direct.get("/api/v2/config", headers={"Authorization": WRONG_KEY, "X-Forwarded-For": "192.0.2.200"})).status_code == 429
