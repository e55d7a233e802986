"""Usage and credits: calls billed in 15-second buckets at the cascading rate, the charge written
once in the transaction that ends the call, the balance a ledger, starts refused without enough
of it, and the operator's top-ups, rates and usage report."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from callwright.domain.calls import CallStatus, EventKind
from callwright.services.call_state import apply_events, lock_call
from callwright.store.models import Call, CreditEntry, Partner
from tests.conftest import error_of, make_partner
from tests.connection_rows import add_connection
from tests.webhook_support import carrier_says, event, events_of

A = "/admin/v1"
VOBIZ_IDS = {"auth_id": "MA_XXXXXXXX", "from_number": "+918011223344"}


@pytest.fixture
async def agent_id(client, platform, partner) -> str:
    await add_connection(platform, partner.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    created = await client.post(
        "/api/v2/agent", json={"agent_name": "Biller", "intro_message": "Hi"}, headers=partner.headers
    )
    assert created.status_code == 201, created.text
    return created.json()["data"]["id"]


async def _start(client, partner, agent_id):
    return await client.post(
        "/api/v2/calls/start",
        json={"agent_id": agent_id, "to_number": "+919876543210", "provider": "vobiz"},
        headers=partner.headers,
    )


async def _top_up(client, admin_headers, name, amount, **extra):
    response = await client.post(
        f"{A}/partners/{name}/credits/top-ups", headers=admin_headers, json={"amount": amount} | extra
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def _set_rate(client, admin_headers, path, rate):
    response = await client.put(f"{A}/partners/{path}/rate", headers=admin_headers, json={"rate_per_minute": rate})
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _answered_then_ended(platform, call_id, seconds):
    await carrier_says(platform, call_id, event(EventKind.ANSWERED))
    await carrier_says(
        platform, call_id, event(EventKind.ENDED, outcome=CallStatus.COMPLETED, duration_seconds=seconds)
    )


async def _ledger_sum(platform, partner_id) -> tuple[int, int]:
    async with platform.sessions() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(CreditEntry.amount_paise), 0)).where(CreditEntry.partner_id == partner_id)
        )
        balance = await session.scalar(select(Partner.credit_balance_paise).where(Partner.id == partner_id))
        return int(total), int(balance)


async def test_a_connected_call_is_charged_in_buckets_everywhere_it_shows(
    client, platform, partner, agent_id, admin_headers
):
    await _set_rate(client, admin_headers, partner.name, "3.60")
    assert (await _top_up(client, admin_headers, partner.name, "10"))["credits"] == 10.0
    started = await _start(client, partner, agent_id)
    assert started.status_code == 200, started.text
    call_id = started.json()["data"]["call_id"]
    before = (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]
    assert before["credits_used"] == 0

    await _answered_then_ended(platform, call_id, seconds=61)  # 5 buckets at ₹0.90

    call = (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]
    assert call["credits_used"] == 4.5
    config = (await client.get("/api/v2/config", headers=partner.headers)).json()["data"]
    assert config["credits"] == 5.5
    completed = [e for e in await events_of(platform, call_id) if e.type == "session.completed"]
    assert completed[0].data["credits_used"] == 4.5

    ledger = (await client.get(f"{A}/partners/{partner.name}/credits/ledger", headers=admin_headers)).json()
    assert [(e["kind"], e["amount"]) for e in ledger["data"]] == [("call_charge", -4.5), ("top_up", 10.0)]
    charge = ledger["data"][0]
    assert (charge["call_id"], charge["agent_id"], charge["billed_seconds"], charge["rate_per_minute"]) == (
        call_id, agent_id, 75, 3.6,
    )
    assert await _ledger_sum(platform, partner.id) == (550, 550)


async def test_a_call_that_never_connects_costs_nothing(client, platform, partner, agent_id, admin_headers):
    await _set_rate(client, admin_headers, partner.name, "3.60")
    await _top_up(client, admin_headers, partner.name, "1")
    call_id = (await _start(client, partner, agent_id)).json()["data"]["call_id"]
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    await carrier_says(platform, call_id, event(EventKind.ENDED, outcome=CallStatus.NO_ANSWER, duration_seconds=25))
    call = (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]
    assert (call["status"], call["credits_used"]) == ("no_answer", 0)
    assert await _ledger_sum(platform, partner.id) == (100, 100)


async def test_the_charge_is_written_once_and_only_with_the_ending(client, platform, partner, agent_id, admin_headers):
    await _set_rate(client, admin_headers, partner.name, "6")
    await _top_up(client, admin_headers, partner.name, "100")
    call_id = (await _start(client, partner, agent_id)).json()["data"]["call_id"]
    await carrier_says(platform, call_id, event(EventKind.ANSWERED))

    # A crash before the commit: neither the ending nor its charge is kept.
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        apply_events(session, call, [event(EventKind.ENDED, outcome=CallStatus.COMPLETED, duration_seconds=30)], source="carrier")
        await session.flush()
        await session.rollback()
    assert await _ledger_sum(platform, partner.id) == (10000, 10000)

    ending = event(EventKind.ENDED, outcome=CallStatus.COMPLETED, duration_seconds=30)
    await carrier_says(platform, call_id, ending)
    await carrier_says(platform, call_id, ending)  # the carrier repeats its hang-up callback
    await carrier_says(platform, call_id, event(EventKind.ENDED, outcome=CallStatus.FAILED, duration_seconds=90))
    assert await _ledger_sum(platform, partner.id) == (10000 - 300, 10000 - 300)

    # The store itself refuses a second charge for one call.
    async with platform.sessions() as session:
        session.add(CreditEntry(partner_id=partner.id, kind="call_charge", amount_paise=-300, call_id=call_id))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_a_start_is_refused_when_the_balance_cannot_cover_one_bucket(
    client, platform, partner, agent_id, admin_headers
):
    await _set_rate(client, admin_headers, partner.name, "3.60")
    await _top_up(client, admin_headers, partner.name, "0.89")
    refused = await _start(client, partner, agent_id)
    assert refused.status_code == 403
    error = error_of(refused)
    assert (error["code"], error["reason"]) == ("FORBIDDEN", "insufficient_credits")
    assert "₹0.89" in error["message"] and "₹0.90" in error["message"]
    async with platform.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Call)) == 0

    await _top_up(client, admin_headers, partner.name, "0.01")
    assert (await _start(client, partner, agent_id)).status_code == 200


async def test_with_no_rate_anywhere_billing_is_off(client, platform, partner, agent_id):
    # The operator's default is 0: a new partner's calls start with a balance of 0 and cost 0.
    started = await _start(client, partner, agent_id)
    assert started.status_code == 200
    call_id = started.json()["data"]["call_id"]
    await _answered_then_ended(platform, call_id, seconds=600)
    assert (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]["credits_used"] == 0
    assert await _ledger_sum(platform, partner.id) == (0, 0)


async def test_the_agent_rate_wins_over_the_partner_and_default_rates(
    client, platform, partner, agent_id, admin_headers
):
    platform.settings = platform.settings.model_copy(update={"default_rate_per_minute": Decimal("1.00")})
    await _top_up(client, admin_headers, partner.name, "100")

    async def cost_of_a_minute() -> float:
        call_id = (await _start(client, partner, agent_id)).json()["data"]["call_id"]
        await _answered_then_ended(platform, call_id, seconds=60)
        return (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]["credits_used"]

    assert await cost_of_a_minute() == 1.0  # the operator's default
    await _set_rate(client, admin_headers, partner.name, "3.60")
    assert await cost_of_a_minute() == 3.6  # the partner's
    assert (await _set_rate(client, admin_headers, f"{partner.name}/agents/{agent_id}", "4.60")) == {
        "agent_id": agent_id, "rate_per_minute": 4.6,
    }
    assert await cost_of_a_minute() == 4.6  # the agent's
    await _set_rate(client, admin_headers, f"{partner.name}/agents/{agent_id}", None)
    assert await cost_of_a_minute() == 3.6
    view = (await client.get(f"{A}/partners/{partner.name}/credits", headers=admin_headers)).json()["data"]
    assert view == {
        "partner": partner.name, "credits": 87.2, "rate_per_minute": 3.6,
        "default_rate_per_minute": 1.0, "effective_rate_per_minute": 3.6, "minimum_balance_to_start": 0.9,
    }


async def test_the_rate_is_fixed_when_the_call_starts(client, platform, partner, agent_id, admin_headers):
    await _set_rate(client, admin_headers, partner.name, "3.60")
    await _top_up(client, admin_headers, partner.name, "10")
    call_id = (await _start(client, partner, agent_id)).json()["data"]["call_id"]
    await _set_rate(client, admin_headers, partner.name, "60")
    await _answered_then_ended(platform, call_id, seconds=60)
    assert (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]["credits_used"] == 3.6


async def test_adjustments_need_a_note_and_the_ledger_stays_the_balance(client, platform, partner, admin_headers):
    url = f"{A}/partners/{partner.name}/credits"
    no_note = await client.post(f"{url}/adjustments", headers=admin_headers, json={"amount": "-5"})
    assert (no_note.status_code, error_of(no_note)["details"][0]["field"]) == (400, "note")
    await _top_up(client, admin_headers, partner.name, "20", note="invoice 7")
    adjusted = await client.post(
        f"{url}/adjustments", headers=admin_headers, json={"amount": "-12.50", "note": "refund of a test call"}
    )
    assert adjusted.status_code == 201
    assert adjusted.json()["data"]["credits"] == 7.5
    assert adjusted.json()["data"]["entry"]["kind"] == "adjustment"
    assert await _ledger_sum(platform, partner.id) == (750, 750)


@pytest.mark.parametrize(
    ("body", "field"),
    [({"amount": "-5"}, "amount"), ({"amount": "0"}, "amount"), ({"amount": "1.005"}, "amount"),
     ({"amount": "lots"}, "amount"), ({}, "amount")],
)
async def test_bad_top_ups_are_refused_naming_the_field(client, partner, admin_headers, body, field):
    response = await client.post(f"{A}/partners/{partner.name}/credits/top-ups", headers=admin_headers, json=body)
    assert response.status_code == 400
    assert error_of(response)["details"][0]["field"] == field


async def test_billing_routes_answer_404_for_unknown_partners_and_other_partners_agents(
    client, partner, other_partner, agent_id, admin_headers
):
    for method, path, body in [
        ("get", "nobody/credits", None),
        ("get", "nobody/credits/ledger", None),
        ("post", "nobody/credits/top-ups", {"amount": "1"}),
        ("put", "nobody/rate", {"rate_per_minute": "1"}),
        ("get", "nobody/usage", None),
        ("put", f"{other_partner.name}/agents/{agent_id}/rate", {"rate_per_minute": "1"}),
    ]:
        response = await client.request(method, f"{A}/partners/{path}", headers=admin_headers, json=body)
        assert response.status_code == 404, (path, response.text)
    assert (await client.get(f"{A}/partners/{partner.name}/credits", headers=partner.headers)).status_code == 401


async def test_the_usage_report_sums_calls_per_day_and_agent_in_json_and_csv(
    client, platform, partner, agent_id, admin_headers
):
    await _set_rate(client, admin_headers, partner.name, "3.60")
    await _top_up(client, admin_headers, partner.name, "100")
    for seconds in (61, 0, 30):
        call_id = (await _start(client, partner, agent_id)).json()["data"]["call_id"]
        if seconds:
            await _answered_then_ended(platform, call_id, seconds=seconds)
        else:
            await carrier_says(platform, call_id, event(EventKind.ENDED, outcome=CallStatus.BUSY))
    await _start(client, partner, agent_id)  # still pending: not in the report
    other = await make_partner(platform, "globex")
    await add_connection(platform, other.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})

    today = datetime.now(UTC).date().isoformat()
    default_project = (await client.get("/api/v2/projects", headers=partner.headers)).json()["data"][0]["id"]
    report = await client.get(f"{A}/partners/{partner.name}/usage", headers=admin_headers)
    assert report.status_code == 200, report.text
    data = report.json()["data"]
    assert (data["partner"], data["to"]) == (partner.name, today)
    assert data["rows"] == [
        {
            "day": today, "agent_id": agent_id, "agent_name": "Biller", "project_id": default_project,
            "project_name": "Default",
            "calls": 3, "connected_calls": 2, "connected_seconds": 91, "billed_seconds": 105, "credits_used": 6.3,
        }
    ]
    assert data["totals"]["credits_used"] == 6.3

    csv = await client.get(f"{A}/partners/{partner.name}/usage?format=csv&from={today}&to={today}", headers=admin_headers)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1] == f"{today},{agent_id},Biller,{default_project},Default,3,2,91,105,6.30"
    empty = await client.get(f"{A}/partners/globex/usage", headers=admin_headers)
    assert empty.json()["data"]["rows"] == []
    backwards = await client.get(f"{A}/partners/{partner.name}/usage?from=2026-12-02&to=2026-12-01", headers=admin_headers)
    assert backwards.status_code == 400


async def test_a_partner_sees_only_its_own_balance(client, partner, other_partner, admin_headers):
    await _top_up(client, admin_headers, partner.name, "25")
    mine = (await client.get("/api/v2/config", headers=partner.headers)).json()["data"]["credits"]
    theirs = (await client.get("/api/v2/config", headers=other_partner.headers)).json()["data"]["credits"]
    assert (mine, theirs) == (25.0, 0.0)
