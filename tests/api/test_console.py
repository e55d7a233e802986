"""The console and the API docs as the server hands them out (the pages work offline, under a
CSP with no inline script), and the Partner API additions the console reads: the call list's
filters, a call's event trail and its webhook deliveries, each owned by one partner."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from callwright.store.models import Call
from tests.conftest import error_of
from tests.connection_rows import add_connection

VOBIZ_IDS = {"auth_id": "MA_XXXXXXXX", "from_number": "+918011223344"}
EXTERNAL = re.compile(r"""(src|href)=["']https?://""")


async def test_the_root_sends_a_person_to_the_console(client):
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/console/"


async def test_the_console_page_loads_only_its_own_scripts(client):
    page = await client.get("/console/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert not EXTERNAL.search(html), "nothing from another origin"
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    for asset in re.findall(r'(?:src|href)="(/console/assets/[^"]+)"', html):
        served = await client.get(asset)
        assert served.status_code == 200, asset
    script = await client.get("/console/assets/app.js")
    assert "javascript" in script.headers["content-type"]
    same_page = await client.get("/console/assets/index.html")
    assert same_page.headers["content-security-policy"] == csp


async def test_the_api_docs_are_served_from_local_assets(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    assert not EXTERNAL.search(page.text)
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
        assert (await client.get(asset)).status_code == 200, asset
    assert "unsafe-eval" not in page.headers["content-security-policy"]


async def test_authorize_in_the_docs_takes_the_api_key(client):
    schema = (await client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["PartnerApiKey"] == schemes["PartnerApiKey"] | {"type": "http", "scheme": "bearer"}
    assert schema["paths"]["/api/v2/calls"]["get"]["security"] == [{"PartnerApiKey": []}]
    assert schema["paths"]["/admin/v1/partners"]["get"]["security"] == [{"AdminToken": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]


@pytest.fixture
async def agent_id(client, platform, partner) -> str:
    await add_connection(platform, partner.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    response = await client.post(
        "/api/v2/agent", json={"agent_name": "Caller", "intro_message": "Hello"}, headers=partner.headers
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def _call(client, partner, agent_id, to: str) -> str:
    body = {"agent_id": agent_id, "to_number": to, "provider": "vobiz"}
    response = await client.post("/api/v2/calls/start", json=body, headers=partner.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]["call_id"]


async def _listed(client, partner, query: str) -> list[str]:
    response = await client.get(f"/api/v2/calls?limit=100&{query}", headers=partner.headers)
    assert response.status_code == 200, response.text
    return [c["to_number"] for c in response.json()["data"]["calls"]]


async def test_the_call_list_narrows_by_number_direction_agent_carrier_and_date(client, platform, partner, agent_id):
    first = await _call(client, partner, agent_id, "+919876543210")
    await _call(client, partner, agent_id, "+919812345678")
    async with platform.sessions() as session:  # one call from yesterday, taken inbound
        yesterday = datetime.now(UTC) - timedelta(days=1)
        await session.execute(update(Call).where(Call.id == first).values(created_at=yesterday, direction="inbound"))
        await session.commit()
    today = datetime.now(UTC).date().isoformat()

    assert await _listed(client, partner, "number=12345") == ["+919812345678"]
    assert await _listed(client, partner, "direction=inbound") == ["+919876543210"]
    assert await _listed(client, partner, f"agent_id={agent_id}&provider=vobiz") == ["+919812345678", "+919876543210"]
    assert await _listed(client, partner, "provider=twilio") == []
    assert await _listed(client, partner, f"created_from={today}T00:00:00Z") == ["+919812345678"]
    assert await _listed(client, partner, f"created_to={today}T00:00:00Z") == ["+919876543210"]


async def test_a_bad_filter_is_400_naming_the_field(client, partner):
    response = await client.get("/api/v2/calls?direction=sideways", headers=partner.headers)
    assert response.status_code == 400
    assert "direction" in error_of(response)["message"]
    response = await client.get("/api/v2/calls?number=abc", headers=partner.headers)
    assert response.status_code == 400
    assert "number" in error_of(response)["message"]


async def test_a_calls_event_trail_and_deliveries_are_its_partners_only(client, partner, other_partner, agent_id):
    call_id = await _call(client, partner, agent_id, "+919876543210")
    events = await client.get(f"/api/v2/calls/{call_id}/events", headers=partner.headers)
    assert events.status_code == 200, events.text
    assert [(e["kind"], e["source"], e["status_after"]) for e in events.json()["data"]] == [
        ("created", "api", "pending")
    ]
    deliveries = await client.get(f"/api/v2/calls/{call_id}/webhook-deliveries", headers=partner.headers)
    assert deliveries.status_code == 200 and deliveries.json()["data"] == []

    for path in ("events", "webhook-deliveries"):
        foreign = await client.get(f"/api/v2/calls/{call_id}/{path}", headers=other_partner.headers)
        assert foreign.status_code == 404, path
        assert error_of(foreign)["reason"] == "call_not_found"


async def test_the_operator_sees_every_partners_calls_and_each_calls_trail(
    client, partner, other_partner, agent_id, admin_headers
):
    call_id = await _call(client, partner, agent_id, "+919876543210")

    listed = await client.get("/admin/v1/calls?limit=100", headers=admin_headers)
    assert listed.status_code == 200, listed.text
    assert [(c["call_id"], c["partner"]) for c in listed.json()["data"]["calls"]] == [(call_id, partner.name)]
    mine = await client.get(f"/admin/v1/calls?partner={other_partner.name}", headers=admin_headers)
    assert mine.json()["data"]["calls"] == []
    narrowed = await client.get("/admin/v1/calls?number=99999", headers=admin_headers)
    assert narrowed.json()["data"]["total"] == 0

    one = await client.get(f"/admin/v1/calls/{call_id}", headers=admin_headers)
    assert one.status_code == 200 and one.json()["data"]["partner"] == partner.name
    events = await client.get(f"/admin/v1/calls/{call_id}/events", headers=admin_headers)
    assert [e["kind"] for e in events.json()["data"]] == ["created"]
    deliveries = await client.get(f"/admin/v1/calls/{call_id}/webhook-deliveries", headers=admin_headers)
    assert deliveries.status_code == 200 and deliveries.json()["data"] == []
    missing = await client.get("/admin/v1/calls/0b7c6a9e-4f2d-4c1e-9a55-3f1f2f0a7c11/events", headers=admin_headers)
    assert missing.status_code == 404 and error_of(missing)["reason"] == "call_not_found"


async def test_a_partner_key_opens_no_operator_call_view(client, partner, agent_id):
    call_id = await _call(client, partner, agent_id, "+919876543210")
    for path in ("/admin/v1/calls", f"/admin/v1/calls/{call_id}"):
        response = await client.get(path, headers=partner.headers)
        assert response.status_code == 401, path


async def test_a_partner_reads_its_own_usage_only(client, platform, partner, other_partner, agent_id):
    call_id = await _call(client, partner, agent_id, "+919876543210")
    now = datetime.now(UTC)
    async with platform.sessions() as session:
        await session.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(
                status="completed",
                answered_at=now - timedelta(seconds=30),
                ended_at=now,
                duration_seconds=30,
                credits_used_paise=0,  # billed when it ended (the charge is written then)
            )
        )
        await session.commit()

    mine = await client.get("/api/v2/usage", headers=partner.headers)
    assert mine.status_code == 200, mine.text
    assert mine.json()["data"]["totals"]["calls"] == 1
    assert [r["agent_id"] for r in mine.json()["data"]["rows"]] == [agent_id]
    theirs = await client.get("/api/v2/usage", headers=other_partner.headers)
    assert theirs.json()["data"]["totals"]["calls"] == 0 and theirs.json()["data"]["rows"] == []
    backwards = await client.get("/api/v2/usage?from=2026-12-02&to=2026-12-01", headers=partner.headers)
    assert backwards.status_code == 400


async def test_the_console_forms_are_drawn_from_the_api_models(client):
    """The agent form's schema is POST /agent's body (every AGENT_FIELD); each carrier's names its secrets."""
    from callwright.api.schemas.agents import AGENT_FIELDS

    agent = await client.get("/console/schema/agent.json")
    assert agent.status_code == 200
    assert list(agent.json()["properties"]) == [f.name for f in AGENT_FIELDS]
    assert set(agent.json()["x-unbuilt"]) == {f.name for f in AGENT_FIELDS if f.unbuilt}
    carriers = (await client.get("/console/schema/carriers.json")).json()
    assert set(carriers) == {"twilio", "plivo", "vobiz", "exotel", "mcube"}
    assert carriers["vobiz"]["secret_fields"] == ["auth_token"]
    assert set(carriers["vobiz"]["schema"]["required"]) == {"auth_id", "auth_token", "from_number"}
