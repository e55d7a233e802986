"""Bounded inputs before authentication: credentials are checked before a body is read, bodies
are capped per route as they arrive (whatever Content-Length says), and a body that does not
arrive in time is answered 408. The "how much of the body was read" assertions count the chunks
the app pulled from the client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from callwright.api.app import create_app
from callwright.domain.call_tokens import TokenPurpose, call_token
from callwright.platform import Platform
from tests.conftest import error_of

CHUNK = 64 * 1024
BIG = 8 * 1024 * 1024  # far above every cap
GUARD_SECS = 30.0  # only so a broken guard fails the test instead of hanging it


class Upload:
    """A request body handed over a chunk at a time, counting what the server pulled."""

    def __init__(self, total: int, *, stall_after: int | None = None) -> None:
        self.total = total
        self.stall_after = stall_after  # chunks, then it never sends another
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            if self.stall_after is not None and self.pulled >= self.stall_after:
                await asyncio.Event().wait()
            self.pulled += 1
            piece = min(CHUNK, self.total - sent)
            sent += piece
            yield b" " * piece

    @property
    def bytes_pulled(self) -> int:
        return self.pulled * CHUNK


@pytest.fixture
async def app_client(settings, platform):
    """A client for an app whose settings the test chooses."""
    made: list[Platform] = []
    clients: list[httpx.AsyncClient] = []

    async def make(**update: object) -> httpx.AsyncClient:
        if update:
            made.append(Platform.from_settings(settings.model_copy(update=update)))
        app = create_app(platform=made[-1] if update else platform)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://callwright.test"))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()
    for each in made:
        await each.close()


async def _post(client: httpx.AsyncClient, path: str, upload: Upload, headers: dict[str, str]) -> httpx.Response:
    return await asyncio.wait_for(client.post(path, content=upload, headers=headers), GUARD_SECS)


@pytest.mark.parametrize("path", ["/api/v2/agent", "/api/v2/calls/start", "/admin/v1/partners"])
async def test_a_body_without_credentials_is_refused_before_it_is_read(app_client, path):
    client = await app_client()
    upload = Upload(BIG)
    response = await _post(client, path, upload, {"Content-Type": "application/json"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "UNAUTHORIZED"
    assert upload.pulled == 0


async def test_a_malformed_key_is_refused_before_the_body_is_read(app_client):
    client = await app_client()
    upload = Upload(BIG)
    response = await _post(client, "/api/v2/calls/start", upload, {"Authorization": "Bearer guess"})
    assert response.status_code == 401 and error_of(response)["reason"] == "invalid_api_key"
    assert upload.pulled == 0


async def test_a_wrong_key_costs_at_most_the_cap(app_client):
    client = await app_client()
    upload = Upload(BIG)
    headers = {"Authorization": "Bearer rg_live_" + "x" * 32, "Content-Type": "application/json"}
    response = await _post(client, "/api/v2/calls/start", upload, headers)
    assert response.status_code == 413
    assert (error_of(response)["code"], error_of(response)["reason"]) == ("PAYLOAD_TOO_LARGE", "payload_too_large")
    assert upload.bytes_pulled <= 256 * 1024 + CHUNK


async def test_an_honest_content_length_over_the_cap_is_refused_unread(app_client, partner):
    client = await app_client()
    upload = Upload(BIG)
    headers = partner.headers | {"Content-Length": str(BIG), "Content-Type": "application/json"}
    response = await _post(client, "/api/v2/calls/start", upload, headers)
    assert response.status_code == 413 and error_of(response)["reason"] == "payload_too_large"
    assert response.headers["connection"] == "close"
    assert upload.pulled == 0


async def test_a_lying_content_length_is_cut_at_the_cap(app_client, partner):
    client = await app_client()
    upload = Upload(BIG)
    headers = partner.headers | {"Content-Length": "100", "Content-Type": "application/json"}
    response = await _post(client, "/api/v2/calls/start", upload, headers)
    assert response.status_code == 413 and error_of(response)["reason"] == "payload_too_large"
    assert upload.bytes_pulled <= 256 * 1024 + CHUNK


async def test_a_chunked_body_over_the_cap_is_cut_at_the_cap(app_client, partner):
    client = await app_client()
    upload = Upload(BIG)
    response = await _post(client, "/api/v2/agent", upload, partner.headers | {"Content-Type": "application/json"})
    assert response.status_code == 413 and error_of(response)["reason"] == "payload_too_large"
    assert upload.bytes_pulled <= 1024 * 1024 + CHUNK


async def test_the_longest_agent_prompt_fits_the_agent_routes_cap(app_client, partner):
    client = await app_client()
    # 120,000 characters, each escaped to six bytes of JSON: 720 KB, above the default cap.
    body = json.dumps({"agent_name": "Long prompt", "prompt": "é" * 120_000}, ensure_ascii=True).encode()
    assert len(body) > 256 * 1024
    response = await client.post(
        "/api/v2/agent", content=body, headers=partner.headers | {"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text[:300]


@pytest.mark.parametrize("path", ["/api/v2/campaigns/some-campaign/contacts", "/api/v2/suppressions"])
async def test_bulk_lists_have_the_bulk_cap(app_client, partner, path):
    # 10,000 contacts a request (the docs' limit) do not fit the default cap; the bulk routes take
    # CAMPAIGN_CSV_MAX_BYTES and no more.
    client = await app_client(campaign_csv_max_bytes=2 * 1024 * 1024)
    upload = Upload(BIG)
    response = await _post(client, path, upload, partner.headers | {"Content-Type": "application/json"})
    assert response.status_code == 413 and error_of(response)["reason"] == "payload_too_large"
    assert 1024 * 1024 < upload.bytes_pulled <= 2 * 1024 * 1024 + CHUNK


async def test_a_carrier_callback_body_is_capped_small(app_client, platform):
    client = await app_client()
    call_id = "0b7c6a9e-4f2d-4c1e-9a55-3f1f2f0a7c11"  # a call id's shape: anything else is refused unread
    token = call_token(platform.token_keys[0], call_id, TokenPurpose.CALLBACK)
    upload = Upload(BIG)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await _post(client, f"/telephony/vobiz/{call_id}/status?token={token}", upload, headers)
    assert response.status_code == 413 and error_of(response)["reason"] == "payload_too_large"
    assert upload.bytes_pulled <= 64 * 1024 + CHUNK


async def test_a_body_that_stops_arriving_is_answered_408(app_client, partner):
    client = await app_client(request_body_timeout_secs=0.5)
    upload = Upload(BIG, stall_after=1)
    response = await _post(client, "/api/v2/calls/start", upload, partner.headers | {"Content-Type": "application/json"})
    assert response.status_code == 408
    assert (error_of(response)["code"], error_of(response)["reason"]) == ("REQUEST_TIMEOUT", "request_timeout")


@pytest.fixture
async def served(platform, monkeypatch):
    """The app behind uvicorn as ``callwright serve`` configures it, on a free local port."""
    import uvicorn

    from callwright.serving import uvicorn_options
    from callwright.settings import get_settings

    monkeypatch.setenv("CALLWRIGHT_REQUEST_HEADER_TIMEOUT_SECS", "0.5")
    get_settings.cache_clear()
    config = uvicorn.Config(
        create_app(platform=platform), host="127.0.0.1", port=0, lifespan="off",
        **uvicorn_options(platform.settings),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    await task
    get_settings.cache_clear()


async def _answer_to(port: int, sent: bytes) -> bytes:
    """Everything the server writes back until it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(sent)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), GUARD_SECS)
    finally:
        writer.close()


async def test_headers_that_never_finish_are_cut_off(served):
    assert (await _answer_to(served, b"")).startswith(b"HTTP/1.1 408 ")  # connected, said nothing
    answer = await _answer_to(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaa")
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_oversized_headers_are_refused(served):
    answer = await _answer_to(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000)
    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_a_served_request_still_works(served):
    answer = await _answer_to(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ") and b"x-content-type-options: nosniff" in answer.lower()
