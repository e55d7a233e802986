"""MCube, whose wire no first-party document describes: every guess tolerant, named and visible.

Sources (all third-party; see docs/carriers-exotel-mcube-fidelity.md and carriers.md §5): CRM
modules calling ``Restmcube-api/outbound-calls`` with ``HTTP_AUTHORIZATION`` in the body and
reading ``success``/``callId``/``message`` or ``status``/``callid``/``msg``; the call-release
example ``{"token": <Business Token>, "callid"}`` at config.mcube.com/hangup-api/call-release;
refurl webhooks with ``answeredtime`` read as a timestamp by some and as a talk time by others.
Each guess is listed in ``callwright.carriers.mcube.GUESSES``.
"""

from __future__ import annotations

import httpx
import pytest

from callwright.carriers import get_carrier
from callwright.carriers.base import CallbackKind, CarrierRejected
from callwright.carriers.mcube import GUESSES, MCubeCredentials
from callwright.domain.calls import EventKind
from callwright.domain.providers import Provider
from callwright.services.call_urls import callback_url
from callwright.settings import Settings
from callwright.sim import Scenario
from tests.carriers.call_path_support import AT, CALL_ID, ENDPOINTS, account, answering, dial_request
from tests.e2e.helpers import make_tenant, new_number, start_call, wait_for_status

MCUBE = get_carrier(Provider.MCUBE)
JWT = "mcube-click-to-call-jwt"
BUSINESS = "mcube-business-token"
ACCOUNT = account({"exe_number": "9876543210"}, {"jwt_token": JWT, "business_token": BUSINESS})


def test_every_guess_is_named_in_one_place():
    assert set(GUESSES) >= {"click_to_call_answer", "release_token", "answeredtime", "callback_auth"}
    assert all(isinstance(why, str) and why for why in GUESSES.values())


async def test_the_click_to_call_answer_reads_success_and_call_id_first():
    answer = {"success": True, "status": "initiated", "callId": "mc-77", "message": "Call initiated"}
    carrier = answering(httpx.Response(200, json=answer))
    async with carrier.client() as http:
        placed = await MCUBE.place_call(dial_request("mcube", to="+919123456789", src="9876543210"), ACCOUNT, http=http, endpoints=ENDPOINTS)
    assert placed.provider_call_id == "mc-77"


async def test_a_refusal_names_mcubes_message():
    answer = {"success": False, "status": 200, "message": "Executive is busy", "msg": "ok"}
    carrier = answering(httpx.Response(200, json=answer))
    async with carrier.client() as http:
        with pytest.raises(CarrierRejected, match="Executive is busy"):
            await MCUBE.place_call(dial_request("mcube", to="+919123456789", src="9876543210"), ACCOUNT, http=http, endpoints=ENDPOINTS)


async def test_call_release_uses_the_business_token_when_there_is_one():
    carrier = answering(httpx.Response(200, json={"status": True}), httpx.Response(200, json={"status": True}))
    async with carrier.client() as http:
        await MCUBE.hangup("mc-77", ACCOUNT, http=http, endpoints=ENDPOINTS)
        jwt_only = account({"exe_number": "9876543210"}, {"jwt_token": JWT})
        await MCUBE.hangup("mc-78", jwt_only, http=http, endpoints=ENDPOINTS)
    assert [sent.json()["token"] for sent in carrier.sent] == [BUSINESS, JWT]


def test_the_business_token_is_an_optional_secret():
    fields = {"jwt_token": JWT, "exe_number": "9876543210"}
    assert MCubeCredentials.model_validate(fields).business_token is None
    credentials = MCubeCredentials.model_validate(fields | {"business_token": BUSINESS})
    assert credentials.secrets()["business_token"] == BUSINESS
    assert "business_token" not in credentials.public_view()


@pytest.mark.parametrize(
    ("answeredtime", "seconds"),
    [("73", 73), ("01:13", 73), ("00:01:13", 73), ("2026-11-24 10:00:00", 73)],
    ids=["seconds", "mm:ss", "hh:mm:ss", "timestamp"],
)
def test_answeredtime_is_a_duration_or_a_timestamp(answeredtime, seconds):
    params = {"callid": "mc-77", "dialstatus": "ANSWER", "answeredtime": answeredtime, "endtime": "2026-11-24 10:01:13"}
    [ended] = MCUBE.parse_callback(CallbackKind.STATUS, params, received_at=AT)
    assert (ended.kind, ended.duration_seconds) == (EventKind.ENDED, seconds)


def test_the_callback_token_rides_the_path_not_the_query():
    settings = Settings(public_url="https://cw.example.com", secret_key="k" * 32)
    url = callback_url(settings, b"key", "mcube", CALL_ID, CallbackKind.STATUS)
    assert "?" not in url and url.startswith(f"https://cw.example.com/telephony/mcube/{CALL_ID}/status/")


@pytest.mark.e2e
async def test_a_call_whose_refurl_loses_its_query_still_ends(api, carrier_sim):
    # The simulator's MCube account drops the refurl's query, answers click-to-call in the
    # success/callId shape, and reports answeredtime as seconds.
    options = {"answer_shape": "success", "answeredtime": "seconds", "keeps_refurl_query": False}
    carrier_sim.add_account("mcube", jwt_token="mcube-fidelity-jwt", **options)
    tenant = await make_tenant(api, carrier_sim, ["mcube"])
    body = {"jwt_token": "mcube-fidelity-jwt", "exe_number": "9876500002"}
    assert (await api.put("/api/v2/config/telephony/mcube", json=body, headers=tenant.headers)).status_code == 200
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(2.0))
    call_id = await start_call(api, tenant, "mcube", number)
    sim_call = await carrier_sim.wait_for_call(to=number[-10:], carrier="mcube", timeout=15)  # dialed national
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await wait_for_status(api, tenant, call_id)
    assert call["status"] == "completed" and call["provider_call_id"] == sim_call.call_id, call
    webhooks = [c for c in sim_call.callbacks if c.kind == "webhook"]
    assert webhooks and all("?" not in c.url and c.status_code == 200 for c in webhooks), webhooks
    assert call["duration_seconds"] is not None and 1 <= call["duration_seconds"] <= 4, call
