"""Twilio's hang-up as its docs describe it, through our adapter and the simulator.

Fact and source: twilio.com/docs/api/rest/change-call-state ("Modifying Live Calls") and the Call
resource's update: ``Status`` is "either canceled or completed. Specifying canceled will attempt
to hangup calls that are queued or ringing but not affect calls already in progress. Specifying
completed will attempt to hang up a call even if it's already in progress." So one
``Status=completed`` update ends a call in any state, and no second request is needed (one that
failed after a hang-up that worked would report a done hang-up as an error).
"""

from __future__ import annotations

import asyncio
import time

import httpx

from callwright.carriers import endpoints_from_settings
from callwright.carriers.base import Account
from callwright.carriers.twilio import Twilio
from callwright.settings import Settings
from callwright.sim import CarrierSimulator, Scenario
from tests.carriers.call_path_support import dial_request

TWILIO = Twilio()
SID = "AC" + "d" * 32
TOKEN = "fidelity-token-0123456789"
ACCOUNT = Account({"account_sid": SID}, {"auth_token": TOKEN})


async def test_one_completed_update_hangs_up_a_ringing_call(sim: CarrierSimulator):
    sim.add_account("twilio", account_sid=SID, auth_token=TOKEN)
    number = "+14155559002"
    sim.set_scenario(number, Scenario.slow_answer(60))
    dial = dial_request("twilio", to=number, answer_url="http://127.0.0.1:9/a", status_url="http://127.0.0.1:9/s")
    endpoints = endpoints_from_settings(Settings(twilio_api_url=sim.api_urls()["twilio"], carrier_timeout_secs=5.0))
    async with httpx.AsyncClient() as http:
        placed = await TWILIO.place_call(dial, ACCOUNT, http=http, endpoints=endpoints)
        played = await sim.wait_for_call(to=number)
        deadline = time.monotonic() + 5
        while played.status != "ringing":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        sim.clear_requests()
        await TWILIO.hangup(placed.provider_call_id, ACCOUNT, http=http, endpoints=endpoints)
    await sim.wait_for_call_end(played.call_id)
    updates = [r for r in sim.requests("twilio") if r.method == "POST"]
    assert [(r.path.rsplit("/", 1)[-1], r.status) for r in updates] == [(f"{placed.provider_call_id}.json", 200)]
    assert played.status == "canceled"  # a call ended before answer
