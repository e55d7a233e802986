"""Fixtures for the simulator's own tests: the session's simulator with one account per carrier, a
stand-in agent platform, and a dialer that places calls the way each carrier's client does.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from callwright.sim import CarrierSimulator, Scenario, SimCall
from tests.sim.agent_platform import AgentPlatform, AgentScript

TOKEN = "sim-call-token-0123456789"
PLIVO_ID = "MASIMCALLS0000000001"
VOBIZ_ID = "MA_SIMCALLS1"
TWILIO_SID = "AC" + "5" * 32
EXOTEL_SID = "sim-calls"
EXOTEL_KEY = "exotel-key"
EXOPHONE = "+918047360000"
MCUBE_JWT = "mcube-jwt-token"
CALLER_ID = "+14155550100"

_numbers = itertools.count(1000)


def fresh_number(country: str = "+1415556") -> str:
    """A destination no other test dials, so each test owns its scenario."""
    return f"{country}{next(_numbers):04d}"


@pytest.fixture(scope="session")
def agent_platform() -> Iterator[AgentPlatform]:
    platform = AgentPlatform()
    platform.start()
    yield platform
    platform.stop()


@pytest.fixture
def sim(carrier_sim: CarrierSimulator) -> CarrierSimulator:
    carrier_sim.clear_faults()
    carrier_sim.add_account("plivo", auth_id=PLIVO_ID, auth_token=TOKEN)
    carrier_sim.add_account("vobiz", auth_id=VOBIZ_ID, auth_token=TOKEN)
    carrier_sim.add_account("twilio", account_sid=TWILIO_SID, auth_token=TOKEN)
    carrier_sim.add_account(
        "exotel", account_sid=EXOTEL_SID, api_key=EXOTEL_KEY, api_token=TOKEN, exophones=[EXOPHONE]
    )
    carrier_sim.add_account("mcube", jwt_token=MCUBE_JWT)
    return carrier_sim


class Dialer:
    """Places calls on the simulator the way each carrier's client does; returns the call id."""

    def __init__(
        self, sim: CarrierSimulator, platform: AgentPlatform, http: httpx.AsyncClient
    ) -> None:
        self.sim, self.platform, self.http = sim, platform, http

    def prepare(
        self, scenario: Scenario, script: AgentScript | None = None, *, country: str = "+1415556"
    ) -> tuple[str, str]:
        """A fresh destination playing ``scenario``; returns (number, tag for the platform)."""
        number = fresh_number(country)
        self.sim.set_scenario(number, scenario)
        tag = "t" + number.lstrip("+")
        if script is not None:
            self.platform.scripts[tag] = script
        return number, tag

    async def plivo_like(self, carrier: str, to: str, tag: str, **extra: Any) -> httpx.Response:
        base = self.sim.api_urls()[carrier]
        body = {
            "from": CALLER_ID,
            "to": to,
            "answer_url": self.platform.answer_url(carrier, tag),
            "answer_method": "POST",
            "ring_url": self.platform.status_url(tag),
            "hangup_url": self.platform.status_url(tag),
            **extra,
        }
        if carrier == "plivo":
            url = f"{base}/Account/{PLIVO_ID}/Call/"
            return await self.http.post(url, json=body, auth=(PLIVO_ID, TOKEN))
        headers = {"X-Auth-ID": VOBIZ_ID, "X-Auth-Token": TOKEN}
        return await self.http.post(f"{base}/Account/{VOBIZ_ID}/Call/", json=body, headers=headers)

    async def twilio(self, to: str, tag: str, **extra: Any) -> httpx.Response:
        base = self.sim.api_urls()["twilio"]
        form: dict[str, Any] = {
            "To": to,
            "From": CALLER_ID,
            "Url": self.platform.answer_url("twilio", tag),
            "StatusCallback": self.platform.status_url(tag),
            "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
            **extra,
        }
        url = f"{base}/Accounts/{TWILIO_SID}/Calls.json"
        return await self.http.post(url, data=form, auth=(TWILIO_SID, TOKEN))

    async def exotel(
        self, to: str, tag: str, *, stream_url: str | None = None, **extra: Any
    ) -> httpx.Response:
        base = self.sim.api_urls()["exotel"]
        form: dict[str, Any] = {
            "From": to,
            "CallerId": EXOPHONE,
            "StreamUrl": stream_url or self.platform.ws_url("exotel", tag),
            "StreamType": "bidirectional",
            "StatusCallback": self.platform.status_url(tag),
            "StatusCallbackEvents[]": ["answered", "terminal"],
            **extra,
        }
        url = f"{base}/v1/Accounts/{EXOTEL_SID}/Calls/connect.json"
        return await self.http.post(url, data=form, auth=(EXOTEL_KEY, TOKEN))

    async def mcube(self, to: str, tag: str, **extra: Any) -> httpx.Response:
        body = {
            "HTTP_AUTHORIZATION": MCUBE_JWT,
            "exenumber": "9876500000",
            "custnumber": to,
            "refurl": self.platform.status_url(tag),
            "refid": tag,
            **extra,
        }
        return await self.http.post(f"{self.sim.api_urls()['mcube']}/outbound-calls", json=body)

    async def place(self, carrier: str, to: str, tag: str, **extra: Any) -> str:
        """Dial and return the call's id as the carrier's response names it."""
        if carrier in ("plivo", "vobiz"):
            response = await self.plivo_like(carrier, to, tag, **extra)
            key = lambda body: body["request_uuid"]  # noqa: E731
        elif carrier == "twilio":
            response = await self.twilio(to, tag, **extra)
            key = lambda body: body["sid"]  # noqa: E731
        elif carrier == "exotel":
            response = await self.exotel(to, tag, **extra)
            key = lambda body: body["Call"]["Sid"]  # noqa: E731
        else:
            response = await self.mcube(to, tag, **extra)
            key = lambda body: body["callid"]  # noqa: E731
        assert response.status_code in (200, 201), response.text
        return str(key(response.json()))

    async def call_to_end(
        self,
        carrier: str,
        scenario: Scenario,
        script: AgentScript | None = None,
        *,
        timeout: float = 20.0,
        **extra: Any,
    ) -> tuple[SimCall, str]:
        """Place a call playing ``scenario`` and return it once it has ended (and its tag)."""
        number, tag = self.prepare(scenario, script)
        call_id = await self.place(carrier, number, tag, **extra)
        return await self.sim.wait_for_call_end(call_id, timeout), tag


@pytest.fixture
async def dialer(sim: CarrierSimulator, agent_platform: AgentPlatform) -> AsyncIterator[Dialer]:
    agent_platform.status_code = 200
    async with httpx.AsyncClient(timeout=10) as http:
        yield Dialer(sim, agent_platform, http)


def check_the_clear_cut_the_tone(call: SimCall, tone_secs: float) -> None:
    """The agent sent a ``tone_secs`` tone at once, then one clear: the caller heard the tone from
    its first audible frame until the clear came, and the clear dropped the rest.

    When the clear comes is the loops' (a busy one clears late); that is not asserted here.
    """
    (clear,) = call.clears
    started = next(at for at, audible in call.agent_audio_arrivals if audible)
    heard = np.flatnonzero(np.abs(call.agent_audio()) > 1000)
    heard_secs = (heard[-1] - heard[0] + 1) / 8000 if heard.size else 0.0
    assert heard_secs == pytest.approx(clear.at - started, abs=0.03), (heard_secs, started, clear)
    assert heard_secs + clear.dropped_secs == pytest.approx(tone_secs, abs=0.03), (heard_secs, clear)
    assert clear.dropped_secs > 0, clear
