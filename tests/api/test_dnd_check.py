"""The partner's DND check URL: the API, and the question asked before every dial — single calls
(403 ``number_dnd_denied``) and campaign contacts (skipped ``dnd``) — against a real local
receiver, on both databases."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from callwright.api.app import create_app
from callwright.domain.dnd import AnswerCache, DndConfig, OnError
from callwright.domain.webhook_urls import UrlPolicy
from callwright.platform import Platform
from callwright.services.campaign_scheduler import CampaignScheduler
from callwright.services.dnd_checks import DndGate
from callwright.settings import Environment
from callwright.store.models import Call
from tests.api.campaign_support import (
    act,
    add_contacts,
    contacts_by_phone,
    create_campaign,
    indian_noon_clock,
    numbers,
    ready_partner,
)
from tests.conftest import error_of, make_partner
from tests.dnd_receiver import DndReceiver

CHECK = "/api/v2/suppressions/dnd-check"


@pytest.fixture
async def receiver():
    receiver = await DndReceiver().start()
    yield receiver
    await receiver.stop()


async def _set(client, partner, receiver: DndReceiver, **fields) -> httpx.Response:
    response = await client.put(CHECK, json={"url": receiver.url} | fields, headers=partner.headers)
    if response.status_code == 201:
        receiver.secret = response.json()["data"]["secret"]
    return response


async def _start(client, partner, agent, phone) -> httpx.Response:
    body = {"agent_id": agent, "to_number": phone, "provider": "vobiz"}
    return await client.post("/api/v2/calls/start", json=body, headers=partner.headers)


async def test_set_show_replace_and_remove(client, partner, receiver):
    assert error_of(await client.get(CHECK, headers=partner.headers))["reason"] == "dnd_check_not_found"
    created = await _set(client, partner, receiver)
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert (data["url"], data["timeout_ms"], data["on_error"]) == (receiver.url, 1500, "deny")
    assert data["secret"].startswith("whsec_")
    shown = (await client.get(CHECK, headers=partner.headers)).json()["data"]
    assert "secret" not in shown and shown["url"] == receiver.url
    replaced = await _set(client, partner, receiver, timeout_ms=400, on_error="allow")
    assert replaced.status_code == 200 and "secret" not in replaced.json()["data"]
    assert (replaced.json()["data"]["timeout_ms"], replaced.json()["data"]["on_error"]) == (400, "allow")
    assert (await client.delete(CHECK, headers=partner.headers)).json()["data"] == {"deleted": True}
    assert (await client.get(CHECK, headers=partner.headers)).status_code == 404
    assert error_of(await client.delete(CHECK, headers=partner.headers))["reason"] == "dnd_check_not_found"


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"timeout_ms": 99}, "timeout_ms"), ({"timeout_ms": 5001}, "timeout_ms"), ({"on_error": "maybe"}, "on_error"),
     ({"url": "ftp://example.com/x"}, "url"), ({"secret": "mine"}, "secret")],
)
async def test_bad_settings_are_400_naming_the_field(client, partner, receiver, fields, field):
    response = await _set(client, partner, receiver, **fields)
    assert response.status_code == 400, response.text
    assert field in error_of(response)["message"]


async def test_a_single_call_is_asked_about_once_and_refused_when_denied(client, platform, partner, receiver):
    agent = await ready_partner(client, platform, partner)
    allowed, denied = numbers(2)
    receiver.denied.add(denied)
    await _set(client, partner, receiver)
    assert (await _start(client, partner, agent, allowed)).status_code == 200
    refused = await _start(client, partner, agent, denied)
    assert refused.status_code == 403
    error = error_of(refused)
    assert (error["code"], error["reason"]) == ("FORBIDDEN", "number_dnd_denied")
    assert error["message"] == f"{denied} must not be called: this account's DND check answered allow: false"
    assert receiver.asked == [({"phone": allowed}, True), ({"phone": denied}, True)]  # signed with its secret
    # The answers are remembered: the same numbers again cost no question.
    assert (await _start(client, partner, agent, denied)).status_code == 403
    assert (await _start(client, partner, agent, allowed)).status_code == 200
    assert len(receiver.asked) == 2
    async with platform.sessions() as session:
        assert list(await session.scalars(select(Call.to_number))) == [allowed, allowed]


async def test_a_check_that_does_not_answer_in_time_denies_unless_told_otherwise(client, platform, partner, receiver):
    agent = await ready_partner(client, platform, partner)
    receiver.delay_secs = 2.0
    await _set(client, partner, receiver, timeout_ms=100)
    phone = numbers(1)[0]
    refused = await _start(client, partner, agent, phone)
    assert error_of(refused)["reason"] == "number_dnd_denied"
    assert "failed (no answer within 100 ms) and its on_error is deny" in error_of(refused)["message"]
    await _set(client, partner, receiver, timeout_ms=100, on_error="allow")
    assert (await _start(client, partner, agent, phone)).status_code == 200
    assert receiver.phones_asked() == [phone, phone]  # a failed check is not remembered


async def test_a_campaign_contact_denied_is_skipped(client, platform, partner, receiver):
    agent = await ready_partner(client, platform, partner)
    phones = numbers(4, 100)
    receiver.denied.add(phones[1])
    await _set(client, partner, receiver)
    cid = (await create_campaign(client, partner, agent, concurrency_limit=4))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": p} for p in phones])
    await act(client, partner, cid, "start")
    scheduler = CampaignScheduler(platform, clock=indian_noon_clock())
    assert await scheduler.run_once() == 3
    contacts = await contacts_by_phone(platform, cid)
    assert (contacts[phones[1]].state, contacts[phones[1]].result_reason) == ("skipped", "dnd")
    assert [contacts[p].state for p in (phones[0], phones[2], phones[3])] == ["calling"] * 3
    assert sorted(receiver.phones_asked()) == sorted(phones)


async def test_a_campaign_contact_whose_check_failed_waits_and_is_asked_again(client, platform, partner, receiver):
    agent = await ready_partner(client, platform, partner)
    receiver.delay_secs = 2.0
    await _set(client, partner, receiver, timeout_ms=100)
    phone = numbers(1, 200)[0]
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": phone}])
    await act(client, partner, cid, "start")
    clock = indian_noon_clock()
    scheduler = CampaignScheduler(platform, clock=clock)
    assert await scheduler.run_once() == 0
    contact = (await contacts_by_phone(platform, cid))[phone]
    assert contact.state == "pending" and contact.next_attempt_at > clock.now()
    receiver.delay_secs = 0
    clock.advance(contact.next_attempt_at - clock.now())
    assert await scheduler.run_once() == 1  # asked again, answered, dialled
    # The ask that timed out after 100 ms may never have reached the receiver on a loaded
    # machine; the second did, and was the last.
    asked = receiver.phones_asked()
    assert asked[-1] == phone and len(asked) in (1, 2), asked


async def test_another_partners_check_is_neither_seen_nor_asked(client, platform, partner, other_partner, receiver):
    await _set(client, partner, receiver)
    receiver.denied.add(phone := numbers(1, 300)[0])
    assert (await client.get(CHECK, headers=other_partner.headers)).status_code == 404
    assert error_of(await client.delete(CHECK, headers=other_partner.headers))["reason"] == "dnd_check_not_found"
    assert (await client.get(CHECK, headers=partner.headers)).status_code == 200
    agent = await ready_partner(client, platform, other_partner)
    assert (await _start(client, other_partner, agent, phone)).status_code == 200
    assert receiver.asked == []


@pytest.fixture
async def production_client(settings, platform):
    production = Platform.from_settings(settings.model_copy(update={"env": Environment.PRODUCTION}))
    app = create_app(platform=production)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://callwright.test") as client:
        yield client, await make_partner(production, "prod-partner")
    await production.close()


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://10.1.2.3/dnd", "url must point to a public address; 10.1.2.3 is private"),
        ("https://127.0.0.1/dnd", "url must point to a public address; 127.0.0.1 is loopback"),
        ("http://93.184.216.34/dnd", "url must use https"),
    ],
)
async def test_production_refuses_a_url_to_a_private_address(production_client, url, rule):
    client, partner = production_client
    response = await client.put(CHECK, json={"url": url}, headers=partner.headers)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["details"][0]["field"] == "url" and error["message"].startswith(rule)


async def test_the_gate_never_sends_to_a_private_address_under_the_production_policy(platform, receiver):
    """A check stored earlier (or a host that now resolves elsewhere) is checked again at each
    question: under the production policy the local receiver is never reached."""
    gate = DndGate(platform.http, UrlPolicy.for_environment(production=True), AnswerCache())
    config = DndConfig("p1", receiver.url.replace("http:", "https:"), 1500, OnError.DENY, "whsec_x", "v1")
    verdict = await gate.verdict(config, "+919800000001")
    assert not verdict.allow and verdict.error is not None and verdict.error.startswith("not asked: url must point")
    assert receiver.asked == []
