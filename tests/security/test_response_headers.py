"""Response headers: nosniff everywhere, no-store unless a route says otherwise, CORS only for the
configured origins, interactive docs off in production unless asked for."""

from __future__ import annotations

import httpx
import pytest

from callwright.api.app import create_app
from callwright.platform import Platform
from callwright.settings import Environment

CONSOLE = "https://console.example.com"


@pytest.fixture
async def client_with(settings, platform):
    made: list[Platform] = []
    clients: list[httpx.AsyncClient] = []

    async def make(**update: object) -> httpx.AsyncClient:
        made.append(Platform.from_settings(settings.model_copy(update=update)))
        transport = httpx.ASGITransport(app=create_app(platform=made[-1]), raise_app_exceptions=False)
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://callwright.test"))
        return clients[-1]

    yield make
    for each in clients:
        await each.aclose()
    for each in made:
        await each.close()


async def test_every_response_says_nosniff_and_no_store(client, partner, admin_headers):
    responses = [
        await client.get("/api/v2/config", headers=partner.headers),
        await client.post("/admin/v1/partners/acme-corp/keys", headers=admin_headers, json={}),  # a new key
        await client.get("/api/v2/config"),  # 401
        await client.get("/api/v2/calls/nope", headers=partner.headers),  # 404
        await client.get("/healthz"),
        await client.get("/nowhere"),
    ]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff", response.request.url
        assert response.headers["cache-control"] == "no-store", response.request.url
    assert responses[1].status_code == 201 and responses[1].json()["data"]["api_key"].startswith("rg_live_")


async def test_a_route_that_sets_its_own_cache_control_keeps_it(client):
    # The recording route answers a bad signature with its own "private, no-store".
    response = await client.get("/recordings/some-call.wav?expires=1&sig=forged")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers.get_list("cache-control") == [response.headers["cache-control"]]


async def test_no_cors_headers_unless_origins_are_configured(client, partner):
    response = await client.get("/api/v2/config", headers=partner.headers | {"Origin": CONSOLE})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


async def test_the_consoles_origin_may_call_the_api_and_others_may_not(client_with, partner):
    client = await client_with(cors_origins=[CONSOLE])
    preflight = await client.options(
        "/api/v2/calls/start",
        headers={
            "Origin": CONSOLE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == CONSOLE
    assert "access-control-allow-credentials" not in preflight.headers  # bearer keys, no cookies
    actual = await client.get("/api/v2/config", headers=partner.headers | {"Origin": CONSOLE})
    assert actual.headers["access-control-allow-origin"] == CONSOLE
    other = await client.get("/api/v2/config", headers=partner.headers | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    refused = await client.options(
        "/api/v2/calls/start",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui-bundle.js"])
async def test_interactive_docs_are_off_in_production_unless_enabled(client_with, path):
    served = 307 if path == "/redoc" else 200  # /redoc sends to the offline Swagger UI
    production = await client_with(env=Environment.PRODUCTION)
    assert (await production.get(path)).status_code == 404
    enabled = await client_with(env=Environment.PRODUCTION, docs_enabled=True)
    assert (await enabled.get(path)).status_code == served
    development = await client_with()
    assert (await development.get(path)).status_code == served
    disabled = await client_with(docs_enabled=False)
    assert (await disabled.get(path)).status_code == 404
