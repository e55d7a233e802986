"""Calls API without a carrier in the loop: the start checks in order, idempotency, concurrency,
list/get/end and tenancy. (Dialing and the far end are covered by the end-to-end tests.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select, update

from callwright.api.app import create_app
from callwright.platform import Platform
from callwright.services.call_admission import AdmissionConflict, Start
from callwright.store.models import Call, CallEventRow, new_id
from tests.conftest import error_of, make_partner
from tests.connection_rows import add_connection

VOBIZ_IDS = {"auth_id": "MA_XXXXXXXX", "from_number": "+918011223344"}


async def _agent(client, partner, **fields) -> str:
    body = {"agent_name": fields.pop("agent_name", "Caller"), "intro_message": "Hello {{name}}"} | fields
    response = await client.post("/api/v2/agent", json=body, headers=partner.headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def _start(client, partner, agent_id, to="+919876543210", provider="vobiz", **extra):
    headers = partner.headers | extra.pop("headers", {})
    body = {"agent_id": agent_id, "to_number": to, "provider": provider} | extra
    return await client.post("/api/v2/calls/start", json=body, headers=headers)


@pytest.fixture
async def ready(client, platform, partner):
    await add_connection(platform, partner.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    return await _agent(client, partner)


async def test_start_answers_pending_with_the_connections_number(client, partner, ready, platform):
    response = await _start(client, partner, ready, variables={"name": "Asha"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == {"call_id", "session_id", "status", "provider", "from_number", "to_number", "agent_id"}
    assert data["status"] == "pending"
    assert data["provider"] == "vobiz"
    assert data["from_number"] == "+918011223344"
    assert data["to_number"] == "+919876543210"
    assert data["agent_id"] == ready
    async with platform.sessions() as session:
        call = await session.get(Call, data["call_id"])
        assert call.dial_state == "queued"
        assert call.variables == {"name": "Asha"}
        assert call.agent["intro_message"] == "Hello {{name}}"
        kinds = list(await session.scalars(select(CallEventRow.kind).where(CallEventRow.call_id == call.id)))
        assert kinds == ["created"]


async def test_from_number_cannot_be_overridden(client, partner, ready):
    response = await _start(client, partner, ready, from_number="+14155550100")
    assert response.status_code == 400
    assert error_of(response)["details"][0]["field"] == "from_number"


async def test_checks_run_in_the_contract_order(client, platform):
    handle = await make_partner(platform, "ordered", providers=["twilio"])
    bad_number = "12345"
    # 1. unknown agent wins over everything else
    response = await _start(client, handle, "00000000-0000-0000-0000-000000000000", to=bad_number)
    assert (response.status_code, error_of(response)["reason"]) == (404, "agent_not_found")
    agent_id = await _agent(client, handle)
    # 2. provider not allowed (vobiz), even though it is also not configured and the number is bad
    response = await _start(client, handle, agent_id, to=bad_number, provider="vobiz")
    assert (response.status_code, error_of(response)["reason"]) == (403, "provider_not_allowed")
    # 3. allowed but not configured
    response = await _start(client, handle, agent_id, to=bad_number, provider="twilio")
    assert response.status_code == 400
    assert error_of(response) == {
        "code": "BAD_REQUEST", "message": "Twilio not configured", "reason": "provider_not_configured"
    }
    # 4. configured; now the number is checked
    await add_connection(platform, handle.id, "twilio", {"account_sid": "AC" + "a" * 32, "from_number": "+14155550100"}, {"auth_token": "t"})
    response = await _start(client, handle, agent_id, to=bad_number, provider="twilio")
    assert response.status_code == 400
    assert error_of(response)["message"] == "to_number must be E.164, like +919876543210"
    response = await _start(client, handle, agent_id, to="+14155550199", provider="twilio")
    assert response.status_code == 200


async def _start_without_provider(client, partner, agent_id):
    body = {"agent_id": agent_id, "to_number": "+919876543210"}
    return await client.post("/api/v2/calls/start", json=body, headers=partner.headers)


async def test_an_omitted_provider_is_mcube_and_the_error_says_what_to_do(client, platform, partner, ready):
    # Only Vobiz is configured: the omitted provider is still Vocobase's default, MCube.
    response = await _start_without_provider(client, partner, ready)
    assert response.status_code == 400
    assert error_of(response) == {
        "code": "BAD_REQUEST",
        "reason": "provider_not_configured",
        "message": "provider was omitted, so the Vocobase default mcube was used, and MCube is not "
        "configured; send provider (vobiz) or configure MCube with PUT /api/v2/config/telephony/mcube",
    }
    await add_connection(platform, partner.id, "mcube", {"exe_number": "9876543210"}, {"jwt_token": "j"})
    response = await _start_without_provider(client, partner, ready)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["provider"] == "mcube"
    response = await _start(client, partner, ready, provider="sip")
    assert response.status_code == 400
    assert error_of(response)["details"][0]["field"] == "provider"


async def test_an_omitted_provider_where_mcube_is_not_allowed(client, platform):
    handle = await make_partner(platform, "no-mcube", providers=["twilio", "vobiz"])
    agent_id = await _agent(client, handle)
    response = await _start_without_provider(client, handle, agent_id)
    assert response.status_code == 403
    error = error_of(response)
    assert error["reason"] == "provider_not_allowed"
    assert error["message"] == (
        "provider was omitted, so the Vocobase default mcube was used, and MCube is not enabled for "
        "this account; send provider (twilio, vobiz) or ask your account manager to enable MCube"
    )


async def test_concurrency_limit_is_429_with_retry_after(client, platform):
    handle = await make_partner(platform, "small", concurrency_limit=2)
    await add_connection(platform, handle.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    agent_id = await _agent(client, handle)
    for _ in range(2):
        assert (await _start(client, handle, agent_id)).status_code == 200
    response = await _start(client, handle, agent_id)
    assert response.status_code == 429
    assert error_of(response)["reason"] == "concurrency_limit"
    assert response.headers["retry-after"] == "5"
    concurrency = (await client.get("/api/v2/calls/concurrency", headers=handle.headers)).json()["data"]
    assert concurrency == {
        "limit": 2,
        "limit_source": "partner",
        "active": 2,
        "remaining": 0,
        "statuses_counted": ["PENDING", "RINGING", "IN_PROGRESS"],
    }


async def test_outbound_starts_leave_the_inbound_share_of_the_limit_free(client, platform):
    # inbound_reserved_share 0.1 (the default) of a limit of 10: one slot is kept for inbound calls.
    assert platform.settings.inbound_reserved_share == 0.1
    handle = await make_partner(platform, "reserving", concurrency_limit=10)
    await add_connection(platform, handle.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    agent_id = await _agent(client, handle)
    for i in range(9):
        assert (await _start(client, handle, agent_id, to=f"+9198765432{i:02d}")).status_code == 200
    refused = await _start(client, handle, agent_id, to="+919876543299")
    assert refused.status_code == 429, refused.text
    assert error_of(refused)["reason"] == "concurrency_limit"
    concurrency = (await client.get("/api/v2/calls/concurrency", headers=handle.headers)).json()["data"]
    assert (concurrency["active"], concurrency["remaining"]) == (9, 1)  # the slot an inbound call may take


async def test_concurrent_starts_never_exceed_the_limit(client, platform):
    handle = await make_partner(platform, "racy", concurrency_limit=3)
    await add_connection(platform, handle.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    agent_id = await _agent(client, handle)
    responses = await asyncio.gather(*(_start(client, handle, agent_id) for _ in range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 3 + [429] * 5


async def test_two_processes_batching_starts_never_exceed_the_limit_together(client, platform, settings):
    """Each process admits a partner's concurrent starts in batches (group commit); batches from
    two processes on one store take turns at the partner's lock, so the limit still holds, and
    every start that fits is stored with its created event."""
    handle = await make_partner(platform, "two-nodes", concurrency_limit=7)
    await add_connection(platform, handle.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    agent_id = await _agent(client, handle)
    other = Platform.from_settings(settings)
    transport = httpx.ASGITransport(app=create_app(platform=other), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://callwright.test") as second:
            responses = await asyncio.gather(
                *(_start(c, handle, agent_id, to=f"+9198765432{i:02d}") for i in range(12) for c in (client, second))
            )
    finally:
        await other.close()
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 7 + [429] * 17, codes
    stored = {r.json()["data"]["call_id"] for r in responses if r.status_code == 200}
    async with platform.sessions() as session:
        calls = set(await session.scalars(select(Call.id).where(Call.partner_id == handle.id)))
        created = set(await session.scalars(select(CallEventRow.call_id).where(CallEventRow.kind == "created")))
    assert calls == stored and stored <= created


async def test_a_retry_is_answered_while_the_dialer_holds_the_first_call(client, partner, ready, platform):
    """The dialer updating a call (its row locked, its index entries rewritten) must not hold up a
    retry with the same Idempotency-Key: an insert would wait on that transaction (and once
    deadlocked with it); the key is found under the partner's lock instead."""
    headers = {"Idempotency-Key": "held-by-the-dialer"}
    first = await _start(client, partner, ready, headers=headers)
    call_id = first.json()["data"]["call_id"]
    async with platform.sessions() as session:
        original = await session.get(Call, call_id)
        # A concurrent retry that passed the request's own key check before the first was stored.
        retry = Call(
            id=new_id(), status="pending", partner_id=original.partner_id, agent_id=original.agent_id,
            agent=original.agent, provider=original.provider, connection_id=original.connection_id,
            from_number=original.from_number, to_number=original.to_number, variables={},
            idempotency_key=original.idempotency_key, machine_detection_requested=False,
        )  # fmt: skip
    async with platform.sessions() as dialer:
        if platform.engine.dialect.name != "sqlite":  # SQLite's one writer would hold the retry back
            await dialer.execute(
                update(Call).where(Call.id == call_id).values(dial_state="claimed", dial_attempts=1)
            )
        with pytest.raises(AdmissionConflict):  # the caller then returns the stored call
            await asyncio.wait_for(platform.admission.admit(partner.id, Start(retry, limit=10)), timeout=5)
        await dialer.rollback()
    async with platform.sessions() as session:
        stored = list(await session.scalars(select(Call.id).where(Call.idempotency_key == "held-by-the-dialer")))
    assert stored == [call_id]


async def test_idempotency_key_returns_the_same_call(client, partner, ready, platform):
    headers = {"Idempotency-Key": "order-42"}
    first = await _start(client, partner, ready, headers=headers)
    again = await _start(client, partner, ready, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["data"]["call_id"] == again.json()["data"]["call_id"]
    concurrent = await asyncio.gather(*(_start(client, partner, ready, headers={"Idempotency-Key": "k2"}) for _ in range(5)))
    assert len({r.json()["data"]["call_id"] for r in concurrent}) == 1
    async with platform.sessions() as session:
        assert len(list(await session.scalars(select(Call.id)))) == 2
    reused = await _start(client, partner, ready, to="+919876543211", headers=headers)
    assert reused.status_code == 409
    assert error_of(reused)["reason"] == "idempotency_key_reused"


async def _calls(client, partner, query=""):
    response = await client.get(f"/api/v2/calls{query}", headers=partner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_list_get_and_filter(client, partner, ready):
    ids = [(await _start(client, partner, ready)).json()["data"]["call_id"] for _ in range(3)]
    listing = await _calls(client, partner, "?limit=2")
    assert {k: v for k, v in listing["data"].items() if k != "calls"} == {"total": 3, "limit": 2, "offset": 0}
    assert listing["pagination"] == {"limit": 2, "offset": 0, "total": 3}  # kept beside data, as on every list
    assert [c["call_id"] for c in listing["data"]["calls"]] == ids[::-1][:2]
    assert (await _calls(client, partner))["data"]["limit"] == 10  # the docs' default
    assert (await _calls(client, partner, "?status=completed"))["data"]["calls"] == []
    assert (await client.get("/api/v2/calls?limit=101", headers=partner.headers)).status_code == 400
    assert (await client.get("/api/v2/calls?limit=0", headers=partner.headers)).status_code == 400
    call = (await client.get(f"/api/v2/calls/{ids[0]}", headers=partner.headers)).json()["data"]
    assert call["status"] == "pending"
    assert call["transcript"] == [] and call["latency"] is None
    assert call["agent_name"] == "Caller"
    assert (call["error_message"], call["processing_complete"], call["pipeline_completed_at"]) == (None, False, None)
    assert call["session"]["session_id"] == call["session_id"] and call["session"]["status"] == "pending"


@pytest.mark.parametrize("status", ["pending", "PENDING", "Pending", " in_progress "])
async def test_the_status_filter_ignores_case(client, partner, ready, status):
    await _start(client, partner, ready)
    expected = 1 if status.strip().lower() == "pending" else 0
    assert (await _calls(client, partner, f"?status={status}"))["data"]["total"] == expected


async def test_an_unknown_status_is_400_naming_the_field_and_the_statuses(client, partner):
    bad = await client.get("/api/v2/calls?status=done", headers=partner.headers)
    assert bad.status_code == 400
    error = error_of(bad)
    assert (error["code"], error["reason"]) == ("VALIDATION_ERROR", "validation_error")
    assert error["details"] == [{"field": "status", "message": error["message"]}]
    assert error["message"] == (
        "status must be one of pending, ringing, in_progress, completed, failed, no_answer, busy, canceled"
    )


async def test_processing_completes_when_session_completed_is_written(client, platform, partner, ready):
    call_id = (await _start(client, partner, ready)).json()["data"]["call_id"]
    done = datetime(2026, 11, 24, 10, 0, 36, tzinfo=UTC)
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        call.status, call.end_reason, call.session_completed_at = "failed", "No route to destination", done
        await session.commit()
    call = (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]
    assert call["processing_complete"] is True
    assert call["pipeline_completed_at"] == "2026-11-24T10:00:36.000000Z"
    assert call["error_message"] == "No route to destination"


async def test_config_counts_active_calls_as_admission_does(client, partner, ready):
    for _ in range(2):
        await _start(client, partner, ready)
    config = (await client.get("/api/v2/config", headers=partner.headers)).json()["data"]
    concurrency = (await client.get("/api/v2/calls/concurrency", headers=partner.headers)).json()["data"]
    assert config["concurrency"] == {"limit": 10, "active": 2}
    assert concurrency["active"] == 2 and concurrency["remaining"] == 8


async def test_a_session_is_found_by_its_id(client, partner, other_partner, ready):
    started = (await _start(client, partner, ready, variables={"name": "Asha"})).json()["data"]
    response = await client.get(f"/api/v2/sessions/{started['session_id']}", headers=partner.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["session_id"], data["agent_id"], data["agent_name"]) == (started["session_id"], ready, "Caller")
    assert (data["status"], data["variables"], data["started_at"]) == ("pending", {"name": "Asha"}, None)
    # Another partner's session answers exactly like one that does not exist.
    theirs = await client.get(f"/api/v2/sessions/{started['session_id']}", headers=other_partner.headers)
    missing = await client.get("/api/v2/sessions/00000000-0000-0000-0000-000000000000", headers=other_partner.headers)
    assert theirs.status_code == missing.status_code == 404
    assert error_of(theirs)["reason"] == error_of(missing)["reason"] == "session_not_found"
    assert error_of(theirs)["message"].replace(started["session_id"], "x") == error_of(missing)["message"].replace(
        "00000000-0000-0000-0000-000000000000", "x"
    )
    # A call id is not a session id.
    by_call_id = await client.get(f"/api/v2/sessions/{started['call_id']}", headers=partner.headers)
    assert by_call_id.status_code == 404


async def test_end_before_dialing_cancels(client, partner, ready, platform):
    call_id = (await _start(client, partner, ready)).json()["data"]["call_id"]
    response = await client.post(f"/api/v2/calls/{call_id}/end", headers=partner.headers)
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["status"], data["disposition"], data["answered_by"]) == ("canceled", "canceled", "not_answered")
    assert data["end_reason"] == "ended by partner request"
    again = await client.post(f"/api/v2/calls/{call_id}/end", headers=partner.headers)
    assert again.json()["data"]["status"] == "canceled"
    async with platform.sessions() as session:
        assert (await session.get(Call, call_id)).dial_state == "canceled"
    concurrency = (await client.get("/api/v2/calls/concurrency", headers=partner.headers)).json()["data"]
    assert concurrency["active"] == 0


async def test_other_partners_calls_are_invisible(client, partner, other_partner, ready):
    call_id = (await _start(client, partner, ready)).json()["data"]["call_id"]
    missing = await client.get("/api/v2/calls/00000000-0000-0000-0000-000000000000", headers=other_partner.headers)
    theirs = await client.get(f"/api/v2/calls/{call_id}", headers=other_partner.headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["reason"] == missing.json()["error"]["reason"] == "call_not_found"
    assert (await client.post(f"/api/v2/calls/{call_id}/end", headers=other_partner.headers)).status_code == 404
    assert (await client.get("/api/v2/calls", headers=other_partner.headers)).json()["data"]["calls"] == []
    assert (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]["status"] == "pending"
    # B cannot start a call with A's agent either
    response = await _start(client, other_partner, ready)
    assert response.status_code == 404
