"""One media socket per call (issue 21 §1, §4): a second socket is refused, never runs an agent
session, never rewrites the call's carrier id, and never stops the real stream from being ended;
a socket without the call's credentials is refused before it is accepted, and one that never
sends the carrier's ``start`` is closed once CALLWRIGHT_MEDIA_START_TIMEOUT_SECS has passed.

The attacker holds what a captured answer document and upgrade request give away: the stream URL
with its media token (Vobiz, Plivo, Exotel), the ``<Parameter>`` token and the upgrade's
``X-Twilio-Signature`` (Twilio).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from xml.etree import ElementTree

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
START_TIMEOUT_SECS = 1.0
POLICY_VIOLATION = 1008


@pytest.fixture(scope="module")
def platform_settings() -> dict[str, object]:
    return {"media_start_timeout_secs": START_TIMEOUT_SECS}


def _forged_opening(provider: str, parameters: dict[str, str]) -> list[dict[str, Any]]:
    """The carrier's opening messages, naming a call and a stream the carrier never reported."""
    if provider == "twilio":
        start = {
            "accountSid": "AC" + "0" * 32,
            "streamSid": "MZforged",
            "callSid": "CAforged",
            "tracks": ["inbound"],
            "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        return [
            {"event": "connected", "protocol": "Call", "version": "1.0.0"},
            {"event": "start", "sequenceNumber": "1", "start": start, "streamSid": "MZforged"},
        ]
    if provider == "exotel":
        start = {
            "stream_sid": "forged-stream",
            "call_sid": "forged-call",
            "account_sid": "e2eexotel",
            "custom_parameters": parameters,
            "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"},
        }
        return [
            {"event": "connected"},
            {"event": "start", "sequence_number": "1", "stream_sid": "forged-stream", "start": start},
        ]
    start = {
        "callId": "forged-call",
        "streamId": "forged-stream",
        "accountId": "MA_FORGED",
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
    }
    return [{"event": "start", "sequenceNumber": 1, "start": start, "extra_headers": ""}]


def _captured(sim_call, provider: str) -> tuple[str, dict[str, str], dict[str, str]]:  # type: ignore[no-untyped-def]
    """What the carrier's own stream gave away: its URL, its upgrade headers, and (Twilio) the
    ``<Parameter>`` values of the answer document."""
    parameters: dict[str, str] = {}
    if provider == "twilio":
        document = ElementTree.fromstring(sim_call.answer_document)
        for element in document.iter("Parameter"):
            parameters[element.get("name", "")] = element.get("value", "")
    return sim_call.stream_url, dict(sim_call.media_stream.headers), parameters


async def _second_socket(url: str, headers: dict[str, str], opening: list[dict[str, Any]]) -> str:
    """Open a socket as an attacker would and say what the platform did with it: "refused" (the
    handshake was refused, or the socket closed with 1008 before any agent message), or
    "served" (the platform talked to it)."""
    try:
        async with websockets.connect(url, additional_headers=headers, open_timeout=10) as ws:
            for message in opening:
                await ws.send(json.dumps(message))
            try:
                await asyncio.wait_for(ws.recv(), timeout=15)
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == POLICY_VIOLATION, closed
                return "refused"
            return "served"
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 403
        return "refused"


@pytest.mark.parametrize("provider", ["vobiz", "plivo", "twilio", "exotel"])
async def test_a_second_socket_for_a_live_call_is_refused_and_the_call_can_still_be_ended(
    api, carrier_sim, platform_server, provider
):
    tenant = await make_tenant(api, carrier_sim, [provider])
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.answer())  # stays up until the platform ends it
    call_id = await start_call(api, tenant, provider, number)
    before = await wait_for_status(api, tenant, call_id, {"in_progress"})
    sim_call = carrier_sim.calls(to=number)[-1]
    deadline = time.monotonic() + 30
    while sim_call.first_agent_audio_at is None:  # the carrier's own stream runs its agent
        assert time.monotonic() < deadline, "the agent never spoke on the carrier's stream"
        await asyncio.sleep(0.05)

    url, headers, parameters = _captured(sim_call, provider)
    assert await _second_socket(url, headers, _forged_opening(provider, parameters)) == "refused"

    during = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
    assert (during["status"], during["provider_call_id"]) == ("in_progress", before["provider_call_id"])
    ended = await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)
    assert ended.status_code == 200, ended.text
    final = await wait_for_status(api, tenant, call_id)
    assert final["status"] == "completed"
    assert await asyncio.to_thread(sim_call.ended.wait, 20), "the carrier's call went on"


async def test_a_socket_without_the_calls_token_is_refused_before_it_is_accepted(
    api, carrier_sim, platform_server
):
    tenant = await make_tenant(api, carrier_sim, ["vobiz", "twilio"])
    base = platform_server.base_url.replace("http", "ws", 1)
    for provider in ("vobiz", "twilio"):
        number = new_number()
        carrier_sim.set_scenario(number, Scenario.slow_answer(60))  # ringing: nobody holds its media
        call_id = await start_call(api, tenant, provider, number)
        await wait_for_status(api, tenant, call_id, {"ringing"})
        # Vobiz carries the token in the stream URL; Twilio signs the upgrade (X-Twilio-Signature).
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"{base}/media/{provider}/{call_id}", open_timeout=10):
                pass
        assert refused.value.response.status_code == 403
        if provider == "twilio":
            # Signed as Twilio signs the upgrade, the socket is accepted; its start must still
            # carry the call's media token.
            url = f"{base}/media/twilio/{call_id}"
            signature = RequestValidator(ACCOUNTS["twilio"][0]["auth_token"]).compute_signature(url, {})
            async with websockets.connect(url, additional_headers={"X-Twilio-Signature": signature}) as ws:
                for message in _forged_opening("twilio", {"call_id": call_id}):
                    await ws.send(json.dumps(message))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == POLICY_VIOLATION
        await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)


async def test_a_socket_that_never_sends_start_is_closed_after_the_start_timeout(
    api, carrier_sim, platform_server
):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"])
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.slow_answer(60))
    call_id = await start_call(api, tenant, "vobiz", number)
    await wait_for_status(api, tenant, call_id, {"ringing"})
    token = call_token(TOKEN_KEY, call_id, TokenPurpose.MEDIA)
    base = platform_server.base_url.replace("http", "ws", 1)
    async with websockets.connect(f"{base}/media/vobiz/{call_id}?token={token}") as ws:
        # Chatter that is no start, each message well inside any per-message wait: the bound is
        # on the whole opening. Nine messages stay under the old cap of ten before a start.
        with pytest.raises(websockets.ConnectionClosed) as closed:
            for _ in range(9):
                await ws.send(json.dumps({"event": "connected"}))
                await asyncio.sleep(START_TIMEOUT_SECS / 3)
            await asyncio.wait_for(ws.recv(), timeout=START_TIMEOUT_SECS * 6)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == POLICY_VIOLATION
    still = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
    assert still["status"] == "ringing" and still["provider_call_id"]
    await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)
