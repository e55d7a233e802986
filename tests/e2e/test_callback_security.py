"""Forged carrier callbacks and media sockets are refused (403 / close 1008) and change nothing."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import websockets
from twilio.request_validator import RequestValidator

from callwright.domain.call_tokens import TokenPurpose, call_token
from callwright.sim import Scenario
from callwright.store.secretbox import derive_subkey
from tests.conftest import TEST_SECRET_KEY
from tests.e2e.helpers import ACCOUNTS, make_tenant, new_number, start_call, wait_for_status

pytestmark = pytest.mark.e2e
TOKEN_KEY = derive_subkey(TEST_SECRET_KEY, b"callwright call tokens v1")


def _token(call_id: str, purpose: TokenPurpose) -> str:
    return call_token(TOKEN_KEY, call_id, purpose)


async def _live_call(api, sim, provider):
    tenant = await make_tenant(api, sim, [provider])
    number = new_number()
    sim.set_scenario(number, Scenario.answer())  # stays up until the platform ends it
    call_id = await start_call(api, tenant, provider, number)
    call = await wait_for_status(api, tenant, call_id, {"in_progress"})
    return tenant, call_id, call


async def test_forged_twilio_callbacks_are_refused(api, carrier_sim, platform_server):
    tenant, call_id, before = await _live_call(api, carrier_sim, "twilio")
    path = f"/telephony/twilio/{call_id}/status"
    form = {"CallSid": before["provider_call_id"], "CallStatus": "busy"}
    no_token = await api.post(path, data=form)
    assert no_token.status_code == 403
    assert no_token.json()["error"]["reason"] == "invalid_callback_token"
    query = "?" + urlencode({"token": _token(call_id, TokenPurpose.CALLBACK)})
    unsigned = await api.post(path + query, data=form)
    assert unsigned.status_code == 403
    assert unsigned.json()["error"]["reason"] == "invalid_signature"
    url = platform_server.settings.public_url + path + query
    auth_token = ACCOUNTS["twilio"][0]["auth_token"]
    wrong_key = RequestValidator("not-the-token").compute_signature(url, form)
    forged = await api.post(path + query, data=form, headers={"X-Twilio-Signature": wrong_key})
    assert forged.status_code == 403
    tampered = RequestValidator(auth_token).compute_signature(url, form | {"CallStatus": "completed"})
    assert (await api.post(path + query, data=form, headers={"X-Twilio-Signature": tampered})).status_code == 403
    media_token = "?" + urlencode({"token": _token(call_id, TokenPurpose.MEDIA)})
    wrong_purpose = await api.post(path + media_token, data=form)
    assert wrong_purpose.status_code == 403
    after = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
    assert after["status"] == "in_progress"
    # The same callback, signed by the account's token as Twilio signs it, is accepted.
    signed = RequestValidator(auth_token).compute_signature(url, form)
    accepted = await api.post(path + query, data=form, headers={"X-Twilio-Signature": signed})
    assert accepted.status_code == 200
    assert (await wait_for_status(api, tenant, call_id))["status"] == "busy"
    carrier_sim.caller_hangs_up(before["provider_call_id"])  # the simulated line is still up


async def test_exotel_callbacks_need_the_call_token(api, carrier_sim):
    tenant, call_id, _ = await _live_call(api, carrier_sim, "exotel")
    form = {"CallSid": "x", "Status": "completed"}
    for token in (None, "forged-token", _token("another-call", TokenPurpose.CALLBACK)):
        query = f"?{urlencode({'token': token})}" if token else ""
        response = await api.post(f"/telephony/exotel/{call_id}/status{query}", data=form)
        assert response.status_code == 403
    after = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
    assert after["status"] == "in_progress"
    await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)


async def test_media_socket_needs_the_calls_media_token(api, carrier_sim, platform_server):
    tenant, call_id, _call = await _live_call(api, carrier_sim, "vobiz")
    base = platform_server.base_url.replace("http", "ws", 1)
    for token in ("forged", _token(call_id, TokenPurpose.CALLBACK), _token("other", TokenPurpose.MEDIA)):
        # The answer document puts the token in the path; the query form stays checked alike.
        for url in (f"{base}/media/vobiz/{call_id}/{token}", f"{base}/media/vobiz/{call_id}?token={token}"):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(url):
                    pass
            assert refused.value.response.status_code == 403
    # Vobiz carries the token in the stream URL: without one the upgrade is refused before the
    # socket is accepted (only Twilio's token comes in the start message).
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{base}/media/vobiz/{call_id}"):
            pass
    assert refused.value.response.status_code == 403
    await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)
    assert (await wait_for_status(api, tenant, call_id))["status"] == "completed"
