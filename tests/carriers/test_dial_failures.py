"""How a failed dial reaches the dialer: retry only what the carrier certainly did not act on.

Every carrier's ``place_call`` goes through ``Carrier.request``; each case runs against all five.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from callwright.carriers import get_carrier
from callwright.carriers.base import CarrierEndpoints, CarrierRejected, CarrierUnavailable
from callwright.domain.providers import Provider
from tests.carriers.call_path_support import (
    AUTH_TOKEN,
    ENDPOINTS,
    TOKEN,
    account,
    answering,
    dial_request,
)

ACCOUNTS = {
    Provider.VOBIZ: account({"auth_id": "MA_SIMVOBIZ1"}, {"auth_token": AUTH_TOKEN}),
    Provider.PLIVO: account({"auth_id": "MASIMPLIVO0000000001"}, {"auth_token": AUTH_TOKEN}),
    Provider.TWILIO: account({"account_sid": "AC" + "0" * 32}, {"auth_token": AUTH_TOKEN}),
    Provider.EXOTEL: account(
        {"account_sid": "cw", "subdomain": "api.exotel.com"},
        {"api_key": "exo-key-1234", "api_token": AUTH_TOKEN},
    ),
    Provider.MCUBE: account({"exe_number": "9876543210"}, {"jwt_token": AUTH_TOKEN}),
}
INDIAN = {Provider.EXOTEL, Provider.MCUBE}


def dial_for(provider: Provider):  # type: ignore[no-untyped-def]
    if provider in INDIAN:
        return dial_request(provider.value, to="+919123456789", src="9876543210")
    return dial_request(provider.value)


@pytest.fixture(params=list(ACCOUNTS), ids=[p.value for p in ACCOUNTS])
def provider(request: pytest.FixtureRequest) -> Provider:
    return request.param


async def dial_failure(
    provider: Provider, answer: httpx.Response | Exception, endpoints: CarrierEndpoints = ENDPOINTS
) -> CarrierUnavailable | CarrierRejected:
    carrier = answering(answer)
    async with carrier.client() as http:
        with pytest.raises((CarrierUnavailable, CarrierRejected)) as failure:
            await get_carrier(provider).place_call(
                dial_for(provider), ACCOUNTS[provider], http=http, endpoints=endpoints
            )
    return failure.value


async def test_throttled_with_retry_after_is_retryable_with_the_hint(provider):
    failure = await dial_failure(provider, httpx.Response(429, headers={"Retry-After": "7"}))
    assert isinstance(failure, CarrierUnavailable)
    assert (failure.retryable, failure.retry_after) == (True, 7.0)


async def test_retry_after_as_an_http_date_becomes_seconds(provider):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    failure = await dial_failure(provider, httpx.Response(503, headers={"Retry-After": when}))
    assert failure.retryable and 100 < failure.retry_after <= 120


async def test_unavailable_503_is_retryable(provider):
    failure = await dial_failure(provider, httpx.Response(503, text="Service Unavailable"))
    assert isinstance(failure, CarrierUnavailable)
    assert (failure.retryable, failure.retry_after) == (True, None)
    assert "503" in failure.message


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_other_5xx_may_hide_a_placed_call_so_is_not_retried(provider, status):
    failure = await dial_failure(provider, httpx.Response(status))
    assert isinstance(failure, CarrierUnavailable)
    assert failure.retryable is False


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow handshake")],
    ids=["connect-refused", "connect-timeout"],
)
async def test_request_that_never_reached_the_carrier_is_retryable(provider, error):
    failure = await dial_failure(provider, error)
    assert isinstance(failure, CarrierUnavailable)
    assert failure.retryable is True
    assert "could not be reached" in failure.message


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout("no answer"), httpx.RemoteProtocolError("dropped")],
    ids=["read-timeout", "dropped-mid-answer"],
)
async def test_request_the_carrier_may_have_acted_on_is_not_retryable(provider, error):
    failure = await dial_failure(provider, error)
    assert isinstance(failure, CarrierUnavailable)
    assert failure.retryable is False


async def test_read_timeout_says_so(provider):
    failure = await dial_failure(provider, httpx.ReadTimeout("no answer"))
    assert "did not answer in time" in failure.message


async def test_closed_port_is_retryable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = CarrierEndpoints(
        vobiz=f"http://127.0.0.1:{port}/vobiz/api/v1",
        plivo=f"http://127.0.0.1:{port}/plivo/v1",
        twilio=f"http://127.0.0.1:{port}/twilio/2010-04-01",
        exotel=f"http://127.0.0.1:{port}/exotel",
        mcube=f"http://127.0.0.1:{port}/mcube/Restmcube-api",
        timeout_secs=2.0,
    )
    async with httpx.AsyncClient() as http:
        for provider in ACCOUNTS:
            with pytest.raises(CarrierUnavailable) as failure:
                await get_carrier(provider).place_call(
                    dial_for(provider), ACCOUNTS[provider], http=http, endpoints=nowhere
                )
            assert failure.value.retryable, provider


async def test_refusal_carries_the_carriers_own_words(provider):
    failure = await dial_failure(provider, httpx.Response(400, json={"error": "Invalid from number"}))
    assert isinstance(failure, CarrierRejected)
    assert "Invalid from number" in failure.message
    assert provider.display_name in failure.message
    assert failure.carrier_reason == "Invalid from number"


async def test_plain_text_refusal_is_quoted_and_html_is_not(provider):
    failure = await dial_failure(provider, httpx.Response(422, text="Number blocked by DND"))
    assert "Number blocked by DND" in failure.message
    failure = await dial_failure(provider, httpx.Response(422, text="<html><body>nginx</body></html>"))
    assert "<html>" not in failure.message


async def test_our_secrets_are_never_echoed(provider):
    echo = {"error": f"bad request: token={AUTH_TOKEN}, callback ?token={TOKEN}", "code": 400}
    failure = await dial_failure(provider, httpx.Response(400, json=echo))
    assert "bad request" in failure.message
    assert AUTH_TOKEN not in failure.message and TOKEN not in failure.message


async def test_throttling_outside_a_dial_stays_a_refusal():
    # A credential check (or a hang-up) that meets 429 is not for the dialer to retry.
    carrier = answering(httpx.Response(429))
    async with carrier.client() as http:
        with pytest.raises(CarrierRejected, match="429"):
            await get_carrier(Provider.PLIVO).hangup(
                "uuid", ACCOUNTS[Provider.PLIVO], http=http, endpoints=ENDPOINTS
            )
