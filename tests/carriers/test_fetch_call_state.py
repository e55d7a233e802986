"""``Carrier.fetch_call_state`` against the carrier simulator's call-status endpoints: Twilio's Call
resource, Plivo's and Vobiz's live call / call detail record, Exotel's call details.

Calls are placed through our own adapters; their callbacks go to a closed port (no platform is
needed to ring, be busy or be canceled).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from callwright.carriers import endpoints_from_settings, get_carrier
from callwright.carriers.base import Account, CarrierUnavailable, NotSupported
from callwright.domain.calls import CallStatus, EventKind
from callwright.domain.providers import Provider
from callwright.settings import Settings
from callwright.sim import CarrierSimulator, Scenario, SimCall
from tests.carriers.call_path_support import AT, dial_request

pytestmark = pytest.mark.e2e

NOBODY = "http://127.0.0.1:9/telephony"  # the discard port: callbacks are refused at once
TOKEN = "fetch-state-token-0123456789"
ACCOUNTS: dict[Provider, tuple[dict[str, str], Account]] = {
    Provider.VOBIZ: (
        {"auth_id": "MA_FETCHVBZ", "auth_token": TOKEN},
        Account({"auth_id": "MA_FETCHVBZ"}, {"auth_token": TOKEN}),
    ),
    Provider.PLIVO: (
        {"auth_id": "MAFETCHPLIVO00000001", "auth_token": TOKEN},
        Account({"auth_id": "MAFETCHPLIVO00000001"}, {"auth_token": TOKEN}),
    ),
    Provider.TWILIO: (
        {"account_sid": "AC" + "f" * 32, "auth_token": TOKEN},
        Account({"account_sid": "AC" + "f" * 32}, {"auth_token": TOKEN}),
    ),
    Provider.EXOTEL: (
        {"account_sid": "fetchexo", "api_key": "k", "api_token": TOKEN, "exophones": ["+918047360001"]},
        Account(
            {"account_sid": "fetchexo", "subdomain": "api.exotel.com"},
            {"api_key": "k", "api_token": TOKEN},
        ),
    ),
}
_next = iter(range(10_000, 99_999))


@pytest.fixture(params=list(ACCOUNTS), ids=[p.value for p in ACCOUNTS])
def provider(request: pytest.FixtureRequest, sim: CarrierSimulator) -> Provider:
    fields, _ = ACCOUNTS[request.param]
    sim.add_account(request.param.value, **fields)
    return request.param


def _endpoints(sim: CarrierSimulator):  # type: ignore[no-untyped-def]
    urls = sim.api_urls()
    settings = Settings(
        vobiz_api_url=urls["vobiz"],
        plivo_api_url=urls["plivo"],
        twilio_api_url=urls["twilio"],
        exotel_api_url=urls["exotel"],
        mcube_api_url=urls["mcube"],
        carrier_timeout_secs=5.0,
    )
    return endpoints_from_settings(settings)


async def _place(sim: CarrierSimulator, provider: Provider, scenario: Scenario) -> tuple[str, SimCall]:
    number = f"+9198765{next(_next):05d}"
    sim.set_scenario(number, scenario)
    src = "+918047360001" if provider is Provider.EXOTEL else "+14155550100"
    base = f"{NOBODY}/{provider.value}/c1"
    dial = dial_request(
        provider.value,
        to=number,
        src=src,
        answer_url=f"{base}/answer",
        status_url=f"{base}/status",
        stream_url="ws://127.0.0.1:9/media",
    )
    async with httpx.AsyncClient() as http:
        placed = await get_carrier(provider).place_call(
            dial, ACCOUNTS[provider][1], http=http, endpoints=_endpoints(sim)
        )
    played = await sim.wait_for_call(to=number)
    # Plivo's dial answers a request_uuid; the call's own id (CallUUID) comes with its callbacks.
    call_uuid = getattr(played.far_end, "call_uuid", placed.provider_call_id)
    return call_uuid, played


async def _fetch(sim: CarrierSimulator, provider: Provider, call_id: str):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient() as http:
        return await get_carrier(provider).fetch_call_state(
            call_id, ACCOUNTS[provider][1], http=http, endpoints=_endpoints(sim), at=AT
        )


async def _until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_ringing_call_is_live(sim, provider):
    call_id, played = await _place(sim, provider, Scenario.slow_answer(60))
    await _until(lambda: played.status == "ringing")
    state = await _fetch(sim, provider, call_id)
    assert state is not None and state.live
    if provider in (Provider.VOBIZ, Provider.PLIVO):
        # Found only with ?status=queued, whose call_status is always "queued": no progress event.
        assert state.raw["call_status"] == "queued" and state.events == ()
    else:
        # Exotel has no ringing status: a ringing call reads in-progress, which is not an answer.
        expected = (EventKind.DIALED,) if provider is Provider.EXOTEL else (EventKind.RINGING, EventKind.ANSWERED)
        assert state.events and state.events[-1].kind in expected
        assert state.events[-1].provider_call_id == call_id
    sim.caller_hangs_up(played.call_id)  # the phone is put down before anyone answers
    await sim.wait_for_call_end(played.call_id)


async def test_a_busy_call_has_ended_busy(sim, provider):
    call_id, played = await _place(sim, provider, Scenario.busy(ring_secs=0.1))
    await sim.wait_for_call_end(played.call_id)
    state = await _fetch(sim, provider, call_id)
    assert state is not None and not state.live
    ended = state.events[-1]
    assert (ended.kind, ended.outcome) == (EventKind.ENDED, CallStatus.BUSY)
    assert ended.hangup_cause  # the carrier's own words
    assert state.raw  # kept for the call's trail


@pytest.mark.parametrize("which", [Provider.VOBIZ, Provider.PLIVO, Provider.TWILIO], ids=str)
async def test_a_call_hung_up_before_answer_was_canceled(sim, which):
    fields, _ = ACCOUNTS[which]
    sim.add_account(which.value, **fields)
    call_id, played = await _place(sim, which, Scenario.slow_answer(60))
    await _until(lambda: played.status == "ringing")
    async with httpx.AsyncClient() as http:
        await get_carrier(which).hangup(
            call_id, ACCOUNTS[which][1], http=http, endpoints=_endpoints(sim)
        )
    await sim.wait_for_call_end(played.call_id)
    state = await _fetch(sim, which, call_id)
    assert state is not None
    assert (state.events[-1].kind, state.events[-1].outcome) == (EventKind.ENDED, CallStatus.CANCELED)


async def test_an_unknown_call_is_none(sim, provider):
    assert await _fetch(sim, provider, "no-such-call-0000") is None


async def test_plivos_dial_time_request_uuid_finds_no_call(sim):
    """Plivo looks calls up by CallUUID only; a call known only by its request_uuid is unknown."""
    fields, _ = ACCOUNTS[Provider.PLIVO]
    sim.add_account("plivo", **fields)
    _call_uuid, played = await _place(sim, Provider.PLIVO, Scenario.busy(ring_secs=0.1))
    await sim.wait_for_call_end(played.call_id)
    assert await _fetch(sim, Provider.PLIVO, played.call_id) is None  # the request_uuid


async def test_mcube_has_no_status_api(sim):
    assert get_carrier(Provider.MCUBE).offers_call_status is False
    mcube = Account({"exe_number": "9876500001"}, {"jwt_token": "jwt"})
    async with httpx.AsyncClient() as http:
        with pytest.raises(NotSupported):
            await get_carrier(Provider.MCUBE).fetch_call_state(
                "any", mcube, http=http, endpoints=_endpoints(sim), at=AT
            )


async def test_a_carrier_outage_is_an_error_not_an_answer(sim, provider):
    sim.inject_fault(provider.value, status=503, count=1)  # the first request raises
    with pytest.raises(CarrierUnavailable):
        await _fetch(sim, provider, "whatever")
