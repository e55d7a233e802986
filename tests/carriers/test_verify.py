"""Each carrier adapter's ``verify`` over real HTTP against the carrier simulator.

The simulator accepts only each carrier's own auth scheme and exact path, so a passing ``verify``
proves the adapter sends them. The official SDKs, pointed at the same simulator, check the
simulator itself: the path and headers the real SDK uses must be the ones it accepts.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import plivo
import pytest
import vobiz
from plivo import exceptions as plivo_errors
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient
from vobiz import exceptions as vobiz_errors

from callwright.carriers import get_carrier
from callwright.carriers.base import (
    CarrierAuthFailed,
    CarrierCredentials,
    CarrierEndpoints,
    CarrierRejected,
    CarrierUnavailable,
)
from callwright.carriers.mcube import MCubeCredentials
from callwright.cli.sim import account_from_spec
from callwright.domain.providers import Provider
from callwright.sim import CarrierSimulator, api_urls
from tests.ports import closed_port
from tests.sim_fixture import send_to_simulator

pytestmark = pytest.mark.e2e

TOKEN = "good-token-0123456789"
VOBIZ_ID = "MA_SIMVOBIZ1"
PLIVO_ID = "MASIMPLIVO0000000001"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
EXOTEL_SID = "callwright-sim"
EXOTEL_KEY = "exotel-api-key"


@dataclass(frozen=True)
class Case:
    provider: Provider
    account: dict[str, str]  # the simulator's account: the partner's credential fields
    extra: dict[str, str]  # what else the partner saves with them
    path: str  # where the carrier's credential check lives on the simulator
    own_scheme: dict[str, Any]  # httpx arguments sending the credentials the carrier's way
    other_scheme: dict[str, Any]  # the same credentials, sent a way this carrier does not take

    def credentials(self, token: str) -> CarrierCredentials:
        fields = {name: token if value == TOKEN else value for name, value in self.account.items()}
        return get_carrier(self.provider).credentials_model(**fields, **self.extra)


US_NUMBER = {"from_number": "+14155550100"}
X_AUTH = {"headers": {"X-Auth-ID": VOBIZ_ID, "X-Auth-Token": TOKEN}}
CASES = [
    Case(
        Provider.VOBIZ,
        {"auth_id": VOBIZ_ID, "auth_token": TOKEN},
        US_NUMBER,
        "/vobiz/api/v1/auth/me",
        X_AUTH,
        {"auth": (VOBIZ_ID, TOKEN)},
    ),
    Case(
        Provider.PLIVO,
        {"auth_id": PLIVO_ID, "auth_token": TOKEN},
        US_NUMBER,
        f"/plivo/v1/Account/{PLIVO_ID}/",
        {"auth": (PLIVO_ID, TOKEN)},
        {"headers": {"X-Auth-ID": PLIVO_ID, "X-Auth-Token": TOKEN}},
    ),
    Case(
        Provider.TWILIO,
        {"account_sid": TWILIO_SID, "auth_token": TOKEN},
        US_NUMBER,
        f"/twilio/2010-04-01/Accounts/{TWILIO_SID}.json",
        {"auth": (TWILIO_SID, TOKEN)},
        {"headers": {"Authorization": f"Bearer {TOKEN}"}},
    ),
    Case(
        Provider.EXOTEL,
        {"account_sid": EXOTEL_SID, "api_key": EXOTEL_KEY, "api_token": TOKEN},
        {"subdomain": "api.in.exotel.com", "caller_id": "+918047361234"},
        f"/exotel/v2_beta/Accounts/{EXOTEL_SID}/IncomingPhoneNumbers",
        {"auth": (EXOTEL_KEY, TOKEN)},
        {"params": {"api_key": EXOTEL_KEY, "api_token": TOKEN}},
    ),
]
CASE = {case.provider: case for case in CASES}


@pytest.fixture(params=CASES, ids=[case.provider.value for case in CASES])
def case(request: pytest.FixtureRequest, sim: CarrierSimulator) -> Case:
    sim.add_account(request.param.provider, **request.param.account)
    return request.param


@pytest.fixture
def endpoints(sim: CarrierSimulator) -> CarrierEndpoints:
    return CarrierEndpoints(**sim.api_urls(), timeout_secs=2.0)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def seen(sim: CarrierSimulator) -> list[tuple[str, str, int]]:
    return [(record.method, record.path, record.status) for record in sim.requests()]


async def verify(case: Case, token: str, http: httpx.AsyncClient, at: CarrierEndpoints) -> None:
    await get_carrier(case.provider).verify(case.credentials(token), http=http, endpoints=at)


async def seen_once_answered(sim: CarrierSimulator, within_secs: float = 5.0) -> list[tuple]:
    """The simulator's log once it has answered at least one request (or at the deadline)."""
    for _ in range(int(within_secs / 0.05)):
        if sim.requests():
            break
        await asyncio.sleep(0.05)
    return seen(sim)


def closed_port_base_url() -> str:
    return f"http://127.0.0.1:{closed_port()}"


# --- the adapters' verify -------------------------------------------------------------------------


async def test_good_credentials_pass(case, sim, http, endpoints):
    await verify(case, TOKEN, http, endpoints)
    assert seen(sim) == [("GET", case.path, 200)]


async def test_wrong_token_is_auth_failed_naming_the_carrier(case, sim, http, endpoints):
    with pytest.raises(CarrierAuthFailed) as failure:
        await verify(case, "wrong-token", http, endpoints)
    assert case.provider.display_name in failure.value.message
    assert seen(sim) == [("GET", case.path, 401)]


async def test_carrier_answering_503_is_unavailable(case, sim, http, endpoints):
    sim.inject_fault(case.provider, status=503, count=1)
    with pytest.raises(CarrierUnavailable, match="503"):
        await verify(case, TOKEN, http, endpoints)
    # The fault covered one request: the carrier is back for the next.
    await verify(case, TOKEN, http, endpoints)
    assert [status for _, _, status in seen(sim)] == [503, 200]


async def test_carrier_slower_than_the_timeout_is_unavailable(case, sim, http, endpoints):
    sim.inject_fault(case.provider, delay_secs=0.6)
    impatient = dataclasses.replace(endpoints, timeout_secs=0.2)
    with pytest.raises(CarrierUnavailable, match="did not answer in time"):
        await verify(case, TOKEN, http, impatient)
    # The simulator still answers once the delay is over; wait so no later test sees it.
    assert await seen_once_answered(sim) == [("GET", case.path, 200)]


async def test_carrier_on_a_closed_port_is_unavailable(case, http):
    nowhere = CarrierEndpoints(**api_urls(closed_port_base_url()), timeout_secs=2.0)
    with pytest.raises(CarrierUnavailable, match="could not be reached"):
        await verify(case, TOKEN, http, nowhere)


async def test_mcube_verify_makes_no_request(sim, http, endpoints):
    credentials = MCubeCredentials(jwt_token="anything", exe_number="9876543210")
    await get_carrier(Provider.MCUBE).verify(credentials, http=http, endpoints=endpoints)
    assert sim.requests() == []


# --- the simulator refuses what the real carrier refuses ------------------------------------------


async def test_simulator_takes_only_the_carriers_auth_scheme(case, sim, http):
    url = sim.base_url + case.path
    assert (await http.get(url, **case.own_scheme)).status_code == 200
    assert (await http.get(url, **case.other_scheme)).status_code == 401


@pytest.mark.parametrize(
    ("near_miss", "status"),
    [
        (f"/plivo/v1/Account/{PLIVO_ID}", 404),  # Plivo paths end with a slash
        ("/vobiz/api/v1/Auth/me", 401),  # Vobiz answers 401 to a wrongly cased path
    ],
)
async def test_simulator_refuses_near_miss_paths(sim, http, near_miss, status):
    sim.add_account("plivo", auth_id=PLIVO_ID, auth_token=TOKEN)
    sim.add_account("vobiz", auth_id=VOBIZ_ID, auth_token=TOKEN)
    auth = {"auth": (PLIVO_ID, TOKEN)} if near_miss.startswith("/plivo") else X_AUTH
    response = await http.get(sim.base_url + near_miss, **auth)
    assert response.status_code == status


# --- the official SDKs agree with the simulator ---------------------------------------------------


def vobiz_sdk(sim: CarrierSimulator, token: str) -> vobiz.RestClient:
    client = vobiz.RestClient(VOBIZ_ID, token)
    send_to_simulator(client.session, "vobiz", sim)
    return client


def plivo_sdk(sim: CarrierSimulator, token: str) -> plivo.RestClient:
    client = plivo.RestClient(PLIVO_ID, token)
    send_to_simulator(client.session, "plivo", sim)
    return client


def twilio_sdk(sim: CarrierSimulator, token: str) -> TwilioClient:
    http_client = TwilioHttpClient()
    send_to_simulator(http_client.session, "twilio", sim)
    return TwilioClient(TWILIO_SID, token, http_client=http_client)


async def test_vobiz_sdk_reads_the_simulated_account(sim):
    sim.add_account("vobiz", auth_id=VOBIZ_ID, auth_token=TOKEN)
    account = await asyncio.to_thread(vobiz_sdk(sim, TOKEN).accounts.get)
    assert account.auth_id == VOBIZ_ID
    assert seen(sim) == [("GET", CASE[Provider.VOBIZ].path, 200)]
    with pytest.raises(vobiz_errors.AuthenticationError):
        await asyncio.to_thread(vobiz_sdk(sim, "wrong-token").accounts.get)


async def test_plivo_sdk_reads_the_simulated_account(sim):
    sim.add_account("plivo", auth_id=PLIVO_ID, auth_token=TOKEN)
    account = await asyncio.to_thread(plivo_sdk(sim, TOKEN).account.get)
    assert account.auth_id == PLIVO_ID
    assert account.resource_uri == f"/v1/Account/{PLIVO_ID}/"
    assert seen(sim) == [("GET", CASE[Provider.PLIVO].path, 200)]
    with pytest.raises(plivo_errors.AuthenticationError):
        await asyncio.to_thread(plivo_sdk(sim, "wrong-token").account.get)


async def test_twilio_sdk_reads_the_simulated_account_and_error_20003(sim):
    sim.add_account("twilio", account_sid=TWILIO_SID, auth_token=TOKEN)
    fetch = twilio_sdk(sim, TOKEN).api.v2010.accounts(TWILIO_SID).fetch
    account = await asyncio.to_thread(fetch)
    assert (account.sid, account.status, account.type) == (TWILIO_SID, "active", "Full")
    assert seen(sim) == [("GET", CASE[Provider.TWILIO].path, 200)]
    bad_fetch = twilio_sdk(sim, "wrong-token").api.v2010.accounts(TWILIO_SID).fetch
    with pytest.raises(TwilioRestException) as failure:
        await asyncio.to_thread(bad_fetch)
    assert (failure.value.status, failure.value.code) == (401, 20003)


# --- driving the simulator from outside Python ----------------------------------------------------


async def test_control_api_sets_accounts_and_faults_and_logs_no_secrets(sim, http, endpoints):
    control = f"{sim.base_url}/_sim"
    added = await http.post(
        f"{control}/accounts",
        json={"provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TOKEN},
    )
    assert added.status_code == 201 and TOKEN not in added.text
    twilio = CASE[Provider.TWILIO]
    await verify(twilio, TOKEN, http, endpoints)

    fault = await http.post(f"{control}/faults", json={"provider": "twilio", "status": 429})
    assert fault.status_code == 201
    with pytest.raises(CarrierRejected, match="429"):
        await verify(twilio, TOKEN, http, endpoints)

    await http.post(f"{control}/faults", json={"provider": "twilio", "status": 503, "count": None})
    assert (await http.delete(f"{control}/faults")).status_code == 204
    await verify(twilio, TOKEN, http, endpoints)

    log = await http.get(f"{control}/requests")
    statuses = [(record["carrier"], record["status"]) for record in log.json()]
    assert statuses == [("twilio", 200), ("twilio", 429), ("twilio", 200)]
    assert TOKEN not in log.text


async def test_cli_account_spec_is_an_account_verify_accepts(sim, http, endpoints):
    spec = f"exotel:account_sid={EXOTEL_SID},api_key={EXOTEL_KEY},api_token={TOKEN}"
    sim.state.add_account(account_from_spec(spec))
    await verify(CASE[Provider.EXOTEL], TOKEN, http, endpoints)
    assert seen(sim) == [("GET", CASE[Provider.EXOTEL].path, 200)]
