"""Custom functions (``/functions``): the Vocobase shape, sealed header values, the URL guard,
schema rules, attaching them to agents, the dry run, and tenancy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callwright.store.models import AgentFunction, Function
from tests.conftest import error_of
from tests.webhook_receiver import WebhookReceiver

FUNCTIONS = "/api/v2/functions"


@pytest.fixture
async def receiver():
    receiver = await WebhookReceiver(answer={"temperature": 32, "condition": "Sunny"}).start()
    yield receiver
    await receiver.stop()


def _body(url: str = "http://127.0.0.1:9/weather", **fields) -> dict:
    return {
        "name": "get_weather",
        "description": "Retrieve current weather for a city.",
        "url": url,
        "headers": [{"key": "Authorization", "value": "Bearer weather-secret-123"}],
        "input_schema": [{"name": "city", "type": "string", "description": "City name", "required": True}],
        "output_schema": [{"name": "temperature", "type": "number", "required": True}],
        "timeout": 5,
        "started_messages": ["Checking the weather..."],
        "error_message": "Sorry, I could not get the weather right now.",
    } | fields


async def _create(client, partner, **fields) -> dict:
    response = await client.post(FUNCTIONS, json=_body(**fields), headers=partner.headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def test_create_get_list_update_delete_in_the_vocobase_shape(client, partner, platform):
    created = await _create(client, partner)
    assert {k: created[k] for k in ("name", "method", "header_keys", "timeout", "error_message")} == {
        "name": "get_weather", "method": "POST", "header_keys": ["Authorization"], "timeout": 5,
        "error_message": "Sorry, I could not get the weather right now.",
    }
    assert created["input_schema"] == [{"name": "city", "type": "string", "description": "City name", "required": True}]
    assert "headers" not in created and "weather-secret-123" not in str(created)
    async with platform.sessions() as session:
        row = await session.scalar(select(Function).where(Function.id == created["id"]))
        assert row is not None and "weather-secret-123" not in row.sealed_headers

    got = (await client.get(f"{FUNCTIONS}/{created['id']}", headers=partner.headers)).json()["data"]
    assert got == created
    listed = (await client.get(FUNCTIONS, headers=partner.headers)).json()
    assert [f["id"] for f in listed["data"]] == [created["id"]] and listed["pagination"]["total"] == 1

    updated = await client.put(
        f"{FUNCTIONS}/{created['id']}",
        json={"timeout": 12, "headers": [{"key": "X-Api-Key", "value": "k2"}], "error_message": None},
        headers=partner.headers,
    )
    assert updated.status_code == 200, updated.text
    data = updated.json()["data"]
    assert (data["timeout"], data["header_keys"], data["error_message"], data["name"]) == (
        12, ["X-Api-Key"], None, "get_weather"
    )

    deleted = await client.delete(f"{FUNCTIONS}/{created['id']}", headers=partner.headers)
    assert deleted.json()["data"] == {"id": created["id"], "deleted": True}
    missing = await client.get(f"{FUNCTIONS}/{created['id']}", headers=partner.headers)
    assert missing.status_code == 404 and error_of(missing)["reason"] == "function_not_found"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "get weather"}, "name"),
        ({"name": "end_call"}, "name"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"input_schema": [{"name": "city", "type": "object"}]}, "input_schema"),
        ({"input_schema": [{"name": "a", "type": "string"}, {"name": "a", "type": "number"}]}, "input_schema"),
        ({"headers": [{"key": "Content-Type", "value": "text/plain"}]}, "headers"),
        ({"headers": [{"key": "Bad Key", "value": "x"}]}, "headers"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 31}, "timeout"),
    ],
)
async def test_bad_fields_are_refused_naming_the_field(client, partner, fields, field):
    response = await client.post(FUNCTIONS, json=_body(**fields), headers=partner.headers)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR" and field in error["message"], error


async def test_every_documented_schema_type_is_accepted(client, partner):
    types = ["string", "number", "boolean", "string[]", "number[]", "custom"]
    schema = [{"name": f"f{i}", "type": t} for i, t in enumerate(types)]
    created = await _create(client, partner, input_schema=schema, output_schema=schema)
    assert [f["type"] for f in created["input_schema"]] == types


async def test_names_are_unique_per_partner(client, partner, other_partner):
    await _create(client, partner)
    again = await client.post(FUNCTIONS, json=_body(), headers=partner.headers)
    assert again.status_code == 409 and error_of(again)["reason"] == "function_name_taken"
    await _create(client, other_partner)  # another account may use the name


async def test_attach_to_an_agent_by_function_ids(client, partner, other_partner, platform):
    mine = await _create(client, partner)
    theirs = await _create(client, other_partner)
    agent = await client.post(
        "/api/v2/agent", json={"agent_name": "Weather", "function_ids": [mine["id"]]}, headers=partner.headers
    )
    assert agent.status_code == 201, agent.text
    agent_id = agent.json()["data"]["id"]
    assert agent.json()["data"]["function_ids"] == [mine["id"]]

    for bad in ([theirs["id"]], ["3c90c3cc-0d44-4b50-8888-8dd25736052a"]):
        refused = await client.put(f"/api/v2/agent/{agent_id}", json={"function_ids": bad}, headers=partner.headers)
        assert refused.status_code == 400, refused.text
        assert "function_ids" in error_of(refused)["message"]
    refused = await client.post(
        "/api/v2/agent", json={"agent_name": "Other", "function_ids": [theirs["id"]]}, headers=partner.headers
    )
    assert refused.status_code == 400 and "function_ids" in error_of(refused)["message"]

    # Deleting the function detaches it from the agent.
    await client.delete(f"{FUNCTIONS}/{mine['id']}", headers=partner.headers)
    fetched = (await client.get(f"/api/v2/agent/{agent_id}", headers=partner.headers)).json()["data"]
    assert fetched["function_ids"] == []
    async with platform.sessions() as session:
        assert list(await session.scalars(select(AgentFunction))) == []


async def test_another_partner_gets_404_on_every_route(client, partner, other_partner):
    created = await _create(client, partner)
    url = f"{FUNCTIONS}/{created['id']}"
    for method, path, body in (
        ("GET", url, None),
        ("PUT", url, {"timeout": 3}),
        ("DELETE", url, None),
        ("POST", f"{url}/test", {"arguments": {}}),
    ):
        response = await client.request(method, path, json=body, headers=other_partner.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert error_of(response)["reason"] == "function_not_found"
    assert (await client.get(FUNCTIONS, headers=other_partner.headers)).json()["data"] == []
    assert (await client.get(url, headers=partner.headers)).json()["data"]["timeout"] == 5


async def test_dry_run_posts_the_arguments_with_the_decrypted_headers(client, partner, receiver):
    created = await _create(client, partner, url=receiver.url("/weather"))
    response = await client.post(
        f"{FUNCTIONS}/{created['id']}/test",
        json={"arguments": {"city": "Mumbai"}, "variables": {"customer_id": "c-42"}},
        headers=partner.headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["status"], data["status_code"], data["result"]) == ("ok", 200, {"temperature": 32, "condition": "Sunny"})
    assert data["latency_ms"] >= 0 and data["result_bytes"] > 0
    [request] = receiver.of(path="/weather")
    assert request.json == {"city": "Mumbai"}
    assert request.headers["authorization"] == "Bearer weather-secret-123"
    assert request.headers["content-type"] == "application/json"


async def test_dry_run_fills_an_input_named_after_a_variable_from_it(client, partner, receiver):
    schema = [{"name": "city", "type": "string"}, {"name": "customer_id", "type": "string"}]
    created = await _create(client, partner, url=receiver.url("/weather"), input_schema=schema)
    await client.post(
        f"{FUNCTIONS}/{created['id']}/test",
        json={"arguments": {"city": "Pune", "customer_id": "made-up"}, "variables": {"customer_id": "c-42"}},
        headers=partner.headers,
    )
    assert receiver.of(path="/weather")[0].json == {"city": "Pune", "customer_id": "c-42"}


async def test_dry_run_reports_a_timeout_and_an_error_status(client, partner, receiver):
    created = await _create(client, partner, url=receiver.url("/slow"), timeout=1)
    receiver.delay_secs = 1.5
    slow = (await client.post(f"{FUNCTIONS}/{created['id']}/test", json={}, headers=partner.headers)).json()["data"]
    assert (slow["status"], slow["status_code"]) == ("timeout", None)
    receiver.delay_secs, receiver.status = 0.0, 503
    failed = (await client.post(f"{FUNCTIONS}/{created['id']}/test", json={}, headers=partner.headers)).json()["data"]
    assert (failed["status"], failed["status_code"]) == ("error", 503)


@pytest.fixture
async def production_client(settings, platform):
    import httpx

    from callwright.api.app import create_app
    from callwright.platform import Platform
    from callwright.settings import Environment
    from tests.conftest import make_partner

    production = Platform.from_settings(settings.model_copy(update={"env": Environment.PRODUCTION}))
    transport = httpx.ASGITransport(app=create_app(platform=production), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://callwright.test") as client:
        yield client, await make_partner(production, "prod-partner")
    await production.close()


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://93.184.216.34/f", "url must use https"),
        ("https://127.0.0.1/f", "url must point to a public address; 127.0.0.1 is loopback"),
        ("https://169.254.169.254/latest", "url must point to a public address; 169.254.169.254 is link-local"),
        ("https://[::ffff:10.0.0.1]/f", "url must point to a public address;"),
    ],
)
async def test_production_refuses_non_public_urls_on_create_and_update(production_client, url, rule):
    client, partner = production_client
    response = await client.post(FUNCTIONS, json=_body(url=url), headers=partner.headers)
    assert response.status_code == 400 and error_of(response)["message"].startswith(rule), response.text
    created = await client.post(FUNCTIONS, json=_body(url="https://93.184.216.34/f"), headers=partner.headers)
    assert created.status_code == 201, created.text
    updated = await client.put(f"{FUNCTIONS}/{created.json()['data']['id']}", json={"url": url}, headers=partner.headers)
    assert updated.status_code == 400 and error_of(updated)["message"].startswith(rule), updated.text


async def test_the_guard_also_runs_at_request_time(client, production_client, receiver):
    """A function stored with a loopback URL (a development server's rules) is refused when a
    production server calls it: nothing reaches the receiver."""
    production, partner = production_client
    stored = await client.post(FUNCTIONS, json=_body(url=receiver.url("/weather")), headers=partner.headers)
    assert stored.status_code == 201, stored.text
    tried = await production.post(f"{FUNCTIONS}/{stored.json()['data']['id']}/test", json={}, headers=partner.headers)
    data = tried.json()["data"]
    assert data["status"] == "refused" and "url must use https" in data["error"], data
    assert receiver.received == []


async def test_renaming_onto_another_functions_name_is_a_conflict(client, partner):
    await _create(client, partner)
    other = await _create(client, partner, name="get_time")
    renamed = await client.put(f"{FUNCTIONS}/{other['id']}", json={"name": "get_weather"}, headers=partner.headers)
    assert renamed.status_code == 409 and error_of(renamed)["reason"] == "function_name_taken"
    nulled = await client.put(f"{FUNCTIONS}/{other['id']}", json={"url": None}, headers=partner.headers)
    assert nulled.status_code == 400 and "url" in error_of(nulled)["message"]
