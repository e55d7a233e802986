"""The suppression list: the API, and the check before every dial — single calls, campaign
contacts, and calls queued before their number was suppressed."""

from __future__ import annotations

from sqlalchemy import select

from callwright.domain.calls import CallStatus
from callwright.services.campaign_scheduler import CampaignScheduler
from callwright.services.dialer import Dialer
from callwright.store.models import Call, CampaignAttempt
from tests.api.campaign_support import (
    act,
    add_contacts,
    create_campaign,
    end_active_calls,
    indian_noon_clock,
    numbers,
    ready_partner,
)
from tests.conftest import error_of


async def _suppress(client, partner, phone, **fields):
    return await client.post("/api/v2/suppressions", json={"phone": phone} | fields, headers=partner.headers)


async def test_add_list_and_delete(client, partner):
    a, b = numbers(2)
    response = await _suppress(client, partner, a, reason="asked not to be called", source="crm")
    assert response.status_code == 201, response.text
    entry = response.json()["data"]
    assert (entry["phone"], entry["reason"], entry["source"], entry["already_suppressed"]) == (
        a, "asked not to be called", "crm", False
    )
    again = await _suppress(client, partner, a, reason="other words")
    assert again.status_code == 200
    assert (again.json()["data"]["reason"], again.json()["data"]["already_suppressed"]) == ("asked not to be called", True)
    assert (await _suppress(client, partner, b)).json()["data"]["source"] == "api"
    listed = (await client.get("/api/v2/suppressions", headers=partner.headers)).json()
    assert [e["phone"] for e in listed["data"]] == [b, a] and listed["pagination"]["total"] == 2
    one = (await client.get(f"/api/v2/suppressions?phone=%2B{a[1:]}", headers=partner.headers)).json()
    assert [e["id"] for e in one["data"]] == [entry["id"]]
    deleted = await client.delete(f"/api/v2/suppressions/{entry['id']}", headers=partner.headers)
    assert deleted.json()["data"] == {"id": entry["id"], "deleted": True}
    assert (await client.get("/api/v2/suppressions", headers=partner.headers)).json()["pagination"]["total"] == 1
    response = await _suppress(client, partner, "98765 43210")
    assert response.status_code == 400 and error_of(response)["code"] == "VALIDATION_ERROR"


async def test_csv_import_with_reason_and_source(client, partner):
    a, b, c = numbers(3)
    await _suppress(client, partner, c)
    data = f"phone,reason,source\n{a},wrong number,\n{b},,registry\n{c},dup,\n".encode()
    response = await client.post(
        "/api/v2/suppressions/csv",
        files={"file": ("dnc.csv", data, "text/csv")},
        data={"reason": "bulk scrub"},
        headers=partner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"added": 2, "already_suppressed": 1}
    entries = {e["phone"]: e for e in (await client.get("/api/v2/suppressions", headers=partner.headers)).json()["data"]}
    assert (entries[a]["reason"], entries[a]["source"]) == ("wrong number", "csv")
    assert (entries[b]["reason"], entries[b]["source"]) == ("bulk scrub", "registry")
    assert entries[c]["source"] == "api"
    response = await client.post(
        "/api/v2/suppressions/csv", files={"file": ("dnc.csv", b"phone\nnot-a-number\n", "text/csv")}, headers=partner.headers
    )
    assert response.status_code == 400 and "line 2: phone must be E.164" in error_of(response)["message"]


async def test_a_single_call_to_a_suppressed_number_is_refused(client, platform, partner):
    agent = await ready_partner(client, platform, partner)
    phone = numbers(1)[0]
    await _suppress(client, partner, phone)
    body = {"agent_id": agent, "to_number": phone, "provider": "vobiz"}
    response = await client.post("/api/v2/calls/start", json=body, headers=partner.headers)
    assert response.status_code == 403
    error = error_of(response)
    assert (error["code"], error["reason"]) == ("FORBIDDEN", "number_suppressed")
    assert error["message"] == f"{phone} is on this account's suppression list and must not be called"
    # The agent check still comes first, and an invalid number is still a validation error.
    response = await client.post(
        "/api/v2/calls/start", json=body | {"agent_id": "00000000-0000-0000-0000-000000000000"}, headers=partner.headers
    )
    assert error_of(response)["reason"] == "agent_not_found"
    other = numbers(1, 500)[0]
    assert (await client.post("/api/v2/calls/start", json=body | {"to_number": other}, headers=partner.headers)).status_code == 200


async def test_the_dialer_withdraws_a_call_whose_number_was_suppressed_after_it_was_queued(client, platform, partner):
    agent = await ready_partner(client, platform, partner)
    phone = numbers(1)[0]
    started = await client.post(
        "/api/v2/calls/start", json={"agent_id": agent, "to_number": phone, "provider": "vobiz"}, headers=partner.headers
    )
    call_id = started.json()["data"]["call_id"]
    await _suppress(client, partner, phone, reason="asked by email")
    dialer = Dialer(platform)
    claimed = await dialer._claim_due()
    assert [c for c, _ in claimed] == [call_id]
    assert await dialer._mark_dialing(call_id) is None  # nothing leaves for the carrier
    call = (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]
    assert (call["status"], call["end_reason"]) == ("canceled", "number suppressed")
    async with platform.sessions() as session:
        assert (await session.get(Call, call_id)).dial_attempts == 0


async def test_campaign_contacts_with_suppressed_numbers_are_skipped(client, platform, partner):
    agent = await ready_partner(client, platform, partner)
    phones = numbers(3)
    cid = (await create_campaign(client, partner, agent, concurrency_limit=1))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": p} for p in phones])
    await _suppress(client, partner, phones[1])
    await act(client, partner, cid, "start")
    clock = indian_noon_clock()
    scheduler = CampaignScheduler(platform, clock=clock)
    assert await scheduler.run_once() == 1  # the first contact; the second is skipped at once
    listed = {c["phone"]: c for c in (await client.get(f"/api/v2/campaigns/{cid}/contacts", headers=partner.headers)).json()["data"]}
    assert (listed[phones[1]]["state"], listed[phones[1]]["result_reason"]) == ("skipped", "number_suppressed")
    assert listed[phones[1]]["attempt_history"] == []
    await end_active_calls(platform, cid, lambda _: CallStatus.COMPLETED, clock.now())
    assert await scheduler.run_once() == 1  # the third
    # Suppressed after its call was queued: the dialer withdraws the call before it leaves.
    await _suppress(client, partner, phones[2])
    dialer = Dialer(platform)
    for call_id, _ in await dialer._claim_due():
        assert await dialer._mark_dialing(call_id) is None
    listed = {c["phone"]: c for c in (await client.get(f"/api/v2/campaigns/{cid}/contacts", headers=partner.headers)).json()["data"]}
    assert (listed[phones[2]]["state"], listed[phones[2]]["result_reason"]) == ("skipped", "number_suppressed")
    assert [(a["outcome"], a["counted"]) for a in listed[phones[2]]["attempt_history"]] == [("suppressed", False)]
    async with platform.sessions() as session:
        assert len(list(await session.scalars(select(CampaignAttempt)))) == 2


async def test_another_partners_list_is_its_own(client, platform, partner, other_partner):
    phone = numbers(1)[0]
    entry = (await _suppress(client, partner, phone)).json()["data"]
    response = await client.delete(f"/api/v2/suppressions/{entry['id']}", headers=other_partner.headers)
    assert (response.status_code, error_of(response)["reason"]) == (404, "suppression_not_found")
    assert (await client.get("/api/v2/suppressions", headers=other_partner.headers)).json()["data"] == []
    # The other partner may still call that number.
    agent = await ready_partner(client, platform, other_partner)
    response = await client.post(
        "/api/v2/calls/start", json={"agent_id": agent, "to_number": phone, "provider": "vobiz"}, headers=other_partner.headers
    )
    assert response.status_code == 200
    assert (await client.get("/api/v2/suppressions", headers=partner.headers)).json()["pagination"]["total"] == 1


async def test_a_campaign_callee_who_opts_out_in_the_call_is_suppressed_and_counted_opted_out(client, platform, partner):
    from callwright.services.call_tools import actions_for_call
    from tests.api.campaign_support import contacts_by_phone

    agent = await ready_partner(client, platform, partner)
    [phone] = numbers(1, start=500)
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": phone}])
    await act(client, partner, cid, "start")
    clock = indian_noon_clock()
    assert await CampaignScheduler(platform, clock=clock).run_once() == 1
    async with platform.sessions() as session:
        call = await session.scalar(select(Call).where(Call.campaign_id == cid))
    actions = await actions_for_call(platform=platform, call=call)
    assert actions is not None and actions.opt_out_offered and actions.functions == []  # campaign calls offer it
    assert await actions.opt_out("stop calling me") is True
    assert await actions.opt_out("again") is False  # already on the list
    await end_active_calls(platform, cid, lambda _: CallStatus.COMPLETED, clock.now())

    [entry] = (await client.get("/api/v2/suppressions", headers=partner.headers)).json()["data"]
    assert (entry["phone"], entry["source"], entry["reason"], entry["call_id"]) == (phone, "in_call", "stop calling me", call.id)
    contact = (await contacts_by_phone(platform, cid))[phone]
    assert (contact.state, contact.last_outcome) == ("completed", "opted_out")
