"""Campaigns API: create (Vocobase's shape and checks), list, get, update, delete, the lifecycle
actions, and tenancy. No scheduler runs here (the test client runs no lifespan)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callwright.store.models import Call, CampaignAttempt, CampaignContact
from tests.api.campaign_support import (
    act,
    add_contacts,
    create_campaign,
    indian_noon_clock,
    numbers,
    ready_partner,
)
from tests.conftest import error_of, make_partner

VOCOBASE_FIELDS = [
    "campaign_id",
    "name",
    "description",
    "agent_id",
    "agent_name",
    "provider",
    "concurrency_limit",
    "status",
    "total_contacts",
    "completed_count",
    "failed_count",
    "skipped_count",
    "started_at",
    "paused_at",
    "completed_at",
    "created_at",
]


@pytest.fixture
async def agent(client, platform, partner) -> str:
    return await ready_partner(client, platform, partner)


async def test_create_answers_a_draft_in_the_documented_shape(client, partner, agent):
    response = await client.post(
        "/api/v2/campaigns",
        json={
            "name": "Black Friday outreach",
            "description": "Outbound to VIP customers",
            "agent_id": agent,
            "provider": "vobiz",
            "concurrency_limit": 3,
        },
        headers=partner.headers,
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert list(data)[: len(VOCOBASE_FIELDS)] == VOCOBASE_FIELDS
    assert data["status"] == "draft"
    assert data["agent_name"] == "Campaign caller"
    assert (data["provider"], data["concurrency_limit"]) == ("vobiz", 3)
    assert (data["total_contacts"], data["completed_count"], data["failed_count"], data["skipped_count"]) == (0, 0, 0, 0)
    assert data["started_at"] is None and data["paused_at"] is None and data["completed_at"] is None
    assert data["retry"]["max_attempts"] == 3 and data["retry"]["busy"] == {"redial": True, "spacing_secs": [600]}
    assert data["schedule"] == {
        "start_at": None, "end_at": None, "timezone": None, "calling_windows": [], "blackout_dates": []
    }


async def test_concurrency_limit_defaults_to_one_and_is_bounded(client, platform, partner, agent):
    assert (await create_campaign(client, partner, agent))["concurrency_limit"] == 1
    for bad in (0, 11):
        response = await client.post(
            "/api/v2/campaigns",
            json={"name": "x", "agent_id": agent, "provider": "vobiz", "concurrency_limit": bad},
            headers=partner.headers,
        )
        assert response.status_code == 400
        assert error_of(response)["code"] == "VALIDATION_ERROR"
    small = await make_partner(platform, "small", concurrency_limit=2)
    small_agent = await ready_partner(client, platform, small)
    response = await client.post(
        "/api/v2/campaigns",
        json={"name": "x", "agent_id": small_agent, "provider": "vobiz", "concurrency_limit": 3},
        headers=small.headers,
    )
    assert response.status_code == 400
    assert "own limit of 2" in error_of(response)["message"]


async def test_create_checks_agent_then_provider_allowed_then_configured(client, platform):
    handle = await make_partner(platform, "checks", providers=["twilio", "plivo"])
    response = await client.post(
        "/api/v2/campaigns",
        json={"name": "x", "agent_id": "00000000-0000-0000-0000-000000000000", "provider": "vobiz"},
        headers=handle.headers,
    )
    assert (response.status_code, error_of(response)["reason"]) == (404, "agent_not_found")
    agent = await ready_partner(client, platform, handle, provider="plivo")
    response = await client.post(
        "/api/v2/campaigns", json={"name": "x", "agent_id": agent, "provider": "vobiz"}, headers=handle.headers
    )
    assert (response.status_code, error_of(response)["reason"]) == (403, "provider_not_allowed")
    response = await client.post(
        "/api/v2/campaigns", json={"name": "x", "agent_id": agent, "provider": "twilio"}, headers=handle.headers
    )
    assert (response.status_code, error_of(response)["reason"]) == (400, "provider_not_configured")
    response = await client.post(
        "/api/v2/campaigns", json={"name": "x", "agent_id": agent, "provider": "skype"}, headers=handle.headers
    )
    assert response.status_code == 400 and error_of(response)["details"][0]["field"] == "provider"
    created = await create_campaign(client, handle, agent, provider="plivo")  # not one of Vocobase's three
    assert created["provider"] == "plivo"


async def test_schedule_and_retry_rules_are_validated_and_kept(client, partner, agent):
    schedule = {
        "start_at": "2026-12-01T03:30:00Z",
        "end_at": "2026-12-20T15:30:00+00:00",
        "timezone": "America/New_York",
        "calling_windows": [{"days": ["Mon", "tue"], "start": "10:00", "end": "19:00"}],
        "blackout_dates": ["2026-12-25", "2026-12-24", "2026-12-25"],
    }
    retry = {
        "max_attempts": 4,
        "busy": {"spacing_secs": [60, 300]},
        "voicemail": {"redial": True, "spacing_secs": 3600},
        "failed": {"redial": False},
    }
    data = await create_campaign(client, partner, agent, schedule=schedule, retry=retry)
    assert data["schedule"] == {
        "start_at": "2026-12-01T03:30:00.000000Z",
        "end_at": "2026-12-20T15:30:00.000000Z",
        "timezone": "America/New_York",
        "calling_windows": [{"days": ["mon", "tue"], "start": "10:00", "end": "19:00"}],
        "blackout_dates": ["2026-12-24", "2026-12-25"],
    }
    assert data["retry"]["max_attempts"] == 4
    assert data["retry"]["busy"] == {"redial": True, "spacing_secs": [60, 300]}
    assert data["retry"]["voicemail"] == {"redial": True, "spacing_secs": [3600]}
    assert data["retry"]["no_answer"] == {"redial": True, "spacing_secs": [1800]}  # the default
    assert data["retry"]["failed"] == {"redial": False, "spacing_secs": [900]}  # its default spacing

    bad = [
        ({"schedule": {"calling_windows": [{"days": ["mon"], "start": "19:00", "end": "10:00"}]}}, "must end after it starts"),
        ({"schedule": {"calling_windows": [{"days": ["someday"], "start": "09:00", "end": "10:00"}]}}, "must name days"),
        ({"schedule": {"calling_windows": [{"days": ["mon"], "start": "9am", "end": "10:00"}]}}, "HH:MM"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "IANA time zone"),
        ({"schedule": {"start_at": "2026-12-01T10:00:00"}}, "UTC offset"),
        ({"schedule": {"start_at": "2026-12-02T00:00:00Z", "end_at": "2026-12-01T00:00:00Z"}}, "after start_at"),
        ({"retry": {"max_attempts": 11}}, "max_attempts"),
        ({"retry": {"busy": {"spacing_secs": []}}}, "1 to 10 intervals"),
        ({"retry": {"busy": {"spacing_secs": -5}}}, "between 0 and"),
        ({"retry": {"hangup": {"redial": True}}}, "not a known field"),
    ]
    for fields, words in bad:
        response = await client.post(
            "/api/v2/campaigns", json={"name": "x", "agent_id": agent, "provider": "vobiz"} | fields, headers=partner.headers
        )
        assert response.status_code == 400, (fields, response.text)
        assert words in error_of(response)["message"], (fields, error_of(response)["message"])


async def test_list_get_and_status_filter(client, partner, agent):
    first = await create_campaign(client, partner, agent, name="First")
    second = await create_campaign(client, partner, agent, name="Second")
    await add_contacts(client, partner, second["campaign_id"], [{"phone": numbers(1)[0]}])
    assert (await act(client, partner, second["campaign_id"], "start")).status_code == 200
    listed = (await client.get("/api/v2/campaigns", headers=partner.headers)).json()
    assert [c["name"] for c in listed["data"]] == ["Second", "First"]
    assert listed["pagination"] == {"limit": 10, "offset": 0, "total": 2}
    drafts = (await client.get("/api/v2/campaigns?status=draft", headers=partner.headers)).json()
    assert [c["campaign_id"] for c in drafts["data"]] == [first["campaign_id"]]
    got = (await client.get(f"/api/v2/campaigns/{second['campaign_id']}", headers=partner.headers)).json()["data"]
    assert (got["status"], got["total_contacts"], got["pending_count"]) == ("running", 1, 1)
    assert got["started_at"] is not None


async def test_update_only_while_draft_or_paused(client, partner, agent):
    campaign = await create_campaign(client, partner, agent)
    cid = campaign["campaign_id"]
    response = await client.patch(
        f"/api/v2/campaigns/{cid}",
        json={"name": "Renamed", "concurrency_limit": 2, "description": None, "retry": {"max_attempts": 1}},
        headers=partner.headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["name"], data["concurrency_limit"], data["retry"]["max_attempts"]) == ("Renamed", 2, 1)
    response = await client.patch(f"/api/v2/campaigns/{cid}", json={"name": None}, headers=partner.headers)
    assert response.status_code == 400
    await add_contacts(client, partner, cid, [{"phone": numbers(1)[0]}])
    await act(client, partner, cid, "start")
    response = await client.patch(f"/api/v2/campaigns/{cid}", json={"name": "Again"}, headers=partner.headers)
    assert (response.status_code, error_of(response)["reason"]) == (409, "campaign_not_editable")
    await act(client, partner, cid, "pause")
    response = await client.patch(f"/api/v2/campaigns/{cid}", json={"name": "Again"}, headers=partner.headers)
    assert response.status_code == 200 and response.json()["data"]["name"] == "Again"


async def test_delete_only_a_draft(client, partner, agent):
    draft = await create_campaign(client, partner, agent)
    await add_contacts(client, partner, draft["campaign_id"], [{"phone": numbers(1)[0]}])
    response = await client.delete(f"/api/v2/campaigns/{draft['campaign_id']}", headers=partner.headers)
    assert response.json() == {"success": True, "data": {"campaign_id": draft["campaign_id"], "deleted": True}}
    response = await client.get(f"/api/v2/campaigns/{draft['campaign_id']}", headers=partner.headers)
    assert response.status_code == 404
    started = await create_campaign(client, partner, agent)
    await add_contacts(client, partner, started["campaign_id"], [{"phone": numbers(1)[0]}])
    await act(client, partner, started["campaign_id"], "start")
    response = await client.delete(f"/api/v2/campaigns/{started['campaign_id']}", headers=partner.headers)
    assert (response.status_code, error_of(response)["reason"]) == (409, "campaign_not_deletable")


async def test_lifecycle_actions(client, partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    response = await act(client, partner, cid, "start")
    assert (response.status_code, error_of(response)["reason"]) == (409, "campaign_has_no_contacts")
    response = await act(client, partner, cid, "pause")
    assert (response.status_code, error_of(response)["reason"]) == (409, "campaign_status_conflict")
    await add_contacts(client, partner, cid, [{"phone": n} for n in numbers(3)])

    started = (await act(client, partner, cid, "start")).json()["data"]
    assert started["status"] == "running"
    again = (await act(client, partner, cid, "start")).json()["data"]
    assert (again["status"], again["started_at"]) == ("running", started["started_at"])
    paused = (await act(client, partner, cid, "pause")).json()["data"]
    assert paused["status"] == "paused" and paused["paused_at"] is not None
    assert (await act(client, partner, cid, "pause")).json()["data"]["paused_at"] == paused["paused_at"]
    response = await act(client, partner, cid, "start")
    assert "resume it instead" in error_of(response)["message"]
    assert (await act(client, partner, cid, "resume")).json()["data"]["status"] == "running"
    canceled = (await act(client, partner, cid, "cancel")).json()["data"]
    assert (canceled["status"], canceled["skipped_count"], canceled["pending_count"]) == ("canceled", 3, 0)
    for action in ("start", "pause", "resume"):
        response = await act(client, partner, cid, action)
        assert (response.status_code, error_of(response)["reason"]) == (409, "campaign_status_conflict")
    assert (await act(client, partner, cid, "cancel")).status_code == 200  # again: no change


async def test_a_start_time_ahead_makes_it_scheduled(client, partner, agent):
    cid = (await create_campaign(client, partner, agent, schedule={"start_at": "2999-01-01T00:00:00Z"}))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": numbers(1)[0]}])
    data = (await act(client, partner, cid, "start")).json()["data"]
    assert (data["status"], data["started_at"]) == ("scheduled", None)
    assert (await act(client, partner, cid, "pause")).json()["data"]["status"] == "paused"
    assert (await act(client, partner, cid, "resume")).json()["data"]["status"] == "scheduled"


async def test_pause_withdraws_calls_not_yet_dialled(client, platform, partner, agent):
    """A call admitted for the campaign but not yet handed to the carrier is canceled by the
    pause; its attempt uses no budget and its contact waits again."""
    from callwright.services.campaign_scheduler import CampaignScheduler

    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": n} for n in numbers(1)])
    await act(client, partner, cid, "start")
    assert await CampaignScheduler(platform, clock=indian_noon_clock()).run_once() == 1
    async with platform.sessions() as session:
        call = await session.scalar(select(Call).where(Call.campaign_id == cid))
        assert (call.status, call.dial_state) == ("pending", "queued")
    await act(client, partner, cid, "pause")
    async with platform.sessions() as session:
        call = await session.scalar(select(Call).where(Call.campaign_id == cid))
        attempt = await session.scalar(select(CampaignAttempt).where(CampaignAttempt.call_id == call.id))
        contact = await session.scalar(select(CampaignContact).where(CampaignContact.campaign_id == cid))
    assert (call.status, call.dial_state) == ("canceled", "canceled")
    assert (attempt.outcome, attempt.counted) == ("not_dialed", False)
    assert (contact.state, contact.attempts, contact.attempt_seq) == ("pending", 0, 1)


async def test_another_partners_campaign_is_not_found(client, platform, partner, other_partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": numbers(1)[0]}])
    other = other_partner.headers
    requests = [
        client.get(f"/api/v2/campaigns/{cid}", headers=other),
        client.patch(f"/api/v2/campaigns/{cid}", json={"name": "mine"}, headers=other),
        client.delete(f"/api/v2/campaigns/{cid}", headers=other),
        client.post(f"/api/v2/campaigns/{cid}/start", headers=other),
        client.post(f"/api/v2/campaigns/{cid}/cancel", headers=other),
        client.post(f"/api/v2/campaigns/{cid}/contacts", json={"contacts": [{"phone": numbers(1, 50)[0]}]}, headers=other),
        client.get(f"/api/v2/campaigns/{cid}/contacts", headers=other),
        client.get(f"/api/v2/campaigns/{cid}/results.csv", headers=other),
        client.post(f"/api/v2/campaigns/{cid}/contacts/csv", files={"file": ("c.csv", b"phone\n+919800000001\n")}, headers=other),
    ]
    missing = "00000000-0000-4000-8000-000000000000"
    for request in requests:
        response = await request
        assert (response.status_code, error_of(response)["reason"]) == (404, "campaign_not_found"), response.text
    response = await client.get(f"/api/v2/campaigns/{missing}", headers=other)
    assert error_of(response)["message"] == f"no campaign with id {missing!r}"
    assert (await client.get("/api/v2/campaigns", headers=other)).json()["pagination"]["total"] == 0
    # Unchanged for its owner.
    data = (await client.get(f"/api/v2/campaigns/{cid}", headers=partner.headers)).json()["data"]
    assert (data["status"], data["total_contacts"], data["name"]) == ("draft", 1, "Reminders")
