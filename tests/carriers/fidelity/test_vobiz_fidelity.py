"""Vobiz as its own docs and SDK describe it, checked against our adapter and our simulator.

Facts and their sources (the test data below is ours, written from them):
- docs.vobiz.ai/cdr/get-cdr and the Vobiz Python SDK (``cdr.get_cdr``, type
  ``GetCdrResponseData``): a finished call's record is ``GET /api/v1/Account/{auth_id}/cdr/{call_id}``
  ("Account" capitalised, "cdr" not), answering ``{"data": {…}, "success": true}``; 404 for an
  unknown id or a call not over yet. The record has ``end_time``, ``answer_time``, ``billsec``,
  ``hangup_cause``, ``hangup_cause_code``, ``hangup_cause_name`` … and no ``call_status``.
- docs.vobiz.ai/call/retrieve-queued-call: ``GET …/Call/{call_uuid}/?status=queued`` finds a call
  initiated but not answered ("including calls waiting for the destination to ring or answer"),
  ``call_status`` always "queued"; 404 once connected or ended ("use the CDR endpoint").
- docs.vobiz.ai/concepts/hangup-causes: 1000 Canceled (Hangup API before answer), 1010/1020 canceled
  by Vobiz (credits, dial limit), 2000s destination issues, 3000s the called party, 4000 Normal Hangup.
- docs.vobiz.ai/xml/request/call-status: CallStatus ``timeout`` is "a timeout while connecting your
  call, caused by either an issue with one of the terminating carriers or network lag".
- docs.vobiz.ai/call/make-call: ``ring_url`` is documented; ``time_limit`` and ``ring_timeout`` are not.
- docs.vobiz.ai/xml/stream: the WebSocket URL is the ``<Stream>`` text; nothing promises its query
  string reaches the server, so our token is a path segment.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from callwright.carriers import endpoints_from_settings
from callwright.carriers._plivo_records import outcome_for
from callwright.carriers.base import Account, CallbackKind
from callwright.carriers.vobiz import Vobiz
from callwright.domain.calls import CallStatus, EventKind
from callwright.settings import Settings
from callwright.sim import CarrierSimulator, Scenario
from tests.carriers.call_path_support import AT, ENDPOINTS, answering, dial_request

VOBIZ = Vobiz()
AUTH_ID = "MA_FIDELITY1"
ACCOUNT = Account({"auth_id": AUTH_ID}, {"auth_token": "fidelity-token-0123456789"})
CALL_UUID = "aabbccdd-1234-5678-90ab-cdef12345678"

# The field names of the SDK's GetCdrResponseData (and the get-cdr page's example).
CDR_FIELDS = frozenset({
    "account_id", "answer_time", "billsec", "bridge_uuid", "call_direction", "caller_id_name",
    "caller_id_number", "campaign_id", "carrier_ip", "codec", "context", "cost", "created_at",
    "currency", "customer_endpoint", "destination_number", "duration", "end_time", "failure_code",
    "failure_reason", "hangup_cause", "hangup_cause_code", "hangup_cause_name", "hangup_disposition",
    "hangup_source", "id", "jitter", "mos", "network_addr", "origination_region", "packet_loss",
    "progress_time", "region", "ring_time", "sip_call_id", "sip_user_agent", "start_time",
    "streaming_cost", "terminated_to", "total_cost", "trunk_id", "updated_at", "uuid",
})  # fmt: skip


def cdr(**fields: object) -> dict[str, object]:
    """A CDR in the documented shape: an answered call of 42 billed seconds, hung up normally."""
    record: dict[str, object] = dict.fromkeys(CDR_FIELDS)
    record |= {
        "uuid": CALL_UUID, "answer_time": "2026-03-25T10:00:01Z", "end_time": "2026-03-25T10:00:42Z",
        "billsec": 42, "duration": 47, "ring_time": 5, "hangup_cause": "NORMAL_CLEARING",
        "hangup_cause_code": 4000, "hangup_cause_name": "Normal Hangup", "hangup_source": "Caller",
    }  # fmt: skip
    return record | fields


NOT_FOUND = httpx.Response(404, json={"error": "not found"})


async def test_a_finished_call_is_read_from_its_cdr_after_live_and_queued():
    carrier = answering(NOT_FOUND, NOT_FOUND, httpx.Response(200, json={"data": cdr(), "success": True}))
    async with carrier.client() as http:
        state = await VOBIZ.fetch_call_state(CALL_UUID, ACCOUNT, http=http, endpoints=ENDPOINTS, at=AT)
    base = f"https://api.vobiz.ai/api/v1/Account/{AUTH_ID}"
    assert [sent.url for sent in carrier.sent] == [
        f"{base}/Call/{CALL_UUID}/?status=live",
        f"{base}/Call/{CALL_UUID}/?status=queued",
        f"{base}/cdr/{CALL_UUID}",
    ]
    assert state is not None and not state.live
    [ended] = state.events
    assert (ended.kind, ended.outcome) == (EventKind.ENDED, CallStatus.COMPLETED)
    assert (ended.hangup_cause, ended.duration_seconds) == ("Normal Hangup", 42)  # billsec, not duration


async def test_a_call_not_yet_answered_is_found_queued_and_stays_live():
    queued = {"api_id": "a", "call_status": "queued", "call_uuid": CALL_UUID, "request_uuid": CALL_UUID,
              "direction": "outbound", "from": "15856338537", "to": "14154290945", "caller_name": "x"}
    carrier = answering(NOT_FOUND, httpx.Response(200, json=queued))
    async with carrier.client() as http:
        state = await VOBIZ.fetch_call_state(CALL_UUID, ACCOUNT, http=http, endpoints=ENDPOINTS, at=AT)
    assert state is not None and state.live and state.events == ()
    assert len(carrier.sent) == 2  # never asks for a CDR of a call still queued


async def test_no_record_anywhere_is_none():
    carrier = answering(NOT_FOUND)
    async with carrier.client() as http:
        assert await VOBIZ.fetch_call_state(CALL_UUID, ACCOUNT, http=http, endpoints=ENDPOINTS, at=AT) is None
    assert len(carrier.sent) == 3


@pytest.mark.parametrize(
    ("code", "answered", "outcome"),
    [
        (1000, False, CallStatus.CANCELED),
        (1010, False, CallStatus.FAILED),  # out of credits: Vobiz's refusal, not our cancel
        (2000, False, CallStatus.FAILED),
        (2010, False, CallStatus.FAILED),
        (3000, False, CallStatus.BUSY),
        (3020, False, CallStatus.NO_ANSWER),
        (4000, True, CallStatus.COMPLETED),
        (4010, True, CallStatus.COMPLETED),
        (0, True, CallStatus.COMPLETED),
        (0, False, CallStatus.FAILED),
    ],
)
def test_the_hangup_cause_code_table(code, answered, outcome):
    assert outcome_for(code, answered=answered) is outcome


async def test_cdr_codes_become_outcomes_with_the_carriers_words():
    busy = cdr(answer_time=None, billsec=0, hangup_cause="USER_BUSY", hangup_cause_code=3000,
               hangup_cause_name="Busy Line")
    carrier = answering(NOT_FOUND, NOT_FOUND, httpx.Response(200, json={"data": busy, "success": True}))
    async with carrier.client() as http:
        state = await VOBIZ.fetch_call_state(CALL_UUID, ACCOUNT, http=http, endpoints=ENDPOINTS, at=AT)
    assert state is not None
    assert (state.events[-1].outcome, state.events[-1].hangup_cause) == (CallStatus.BUSY, "Busy Line")


def test_a_timeout_is_a_network_failure_not_a_no_answer():
    params = {"CallUUID": CALL_UUID, "Event": "Hangup", "CallStatus": "timeout"}
    [ended] = VOBIZ.parse_callback(CallbackKind.STATUS, params, received_at=AT)
    assert ended.outcome is CallStatus.FAILED


async def test_the_dial_sends_only_documented_fields():
    carrier = answering(httpx.Response(201, json={"api_id": "a", "request_uuid": "r", "message": "Call fired"}))
    async with carrier.client() as http:
        await VOBIZ.place_call(
            dial_request("vobiz", time_limit_secs=600), ACCOUNT, http=http, endpoints=ENDPOINTS
        )
    body = carrier.sent[0].json()
    assert "time_limit" not in body and "ring_timeout" not in body
    assert body["ring_url"] and body["hangup_url"] and body["answer_url"]


def test_the_stream_url_carries_the_token_in_its_path():
    document = VOBIZ.answer_document(
        stream_url="wss://cw.example.com/media/vobiz/c1", parameters={"call_id": "c1", "token": "tok-1"}
    )
    url = document.body.split(">", 2)[2].split("<", 1)[0]
    assert urlsplit(url).query == ""
    assert urlsplit(url).path == "/media/vobiz/c1/tok-1"


# --- the simulator plays the documented Vobiz ------------------------------------------------------


def _endpoints(sim: CarrierSimulator):  # type: ignore[no-untyped-def]
    urls = sim.api_urls()
    return endpoints_from_settings(Settings(vobiz_api_url=urls["vobiz"], carrier_timeout_secs=5.0))


async def test_the_simulator_keeps_finished_calls_only_in_a_documented_cdr(sim):
    sim.add_account("vobiz", auth_id=AUTH_ID, auth_token=ACCOUNT.secrets["auth_token"])
    number = "+919876500001"
    sim.set_scenario(number, Scenario.busy(ring_secs=0.05))
    dial = dial_request("vobiz", to=number, answer_url="http://127.0.0.1:9/a", status_url="http://127.0.0.1:9/s")
    async with httpx.AsyncClient() as http:
        placed = await VOBIZ.place_call(dial, ACCOUNT, http=http, endpoints=_endpoints(sim))
        await sim.wait_for_call_end(placed.provider_call_id)
        base = f"{sim.api_urls()['vobiz']}/Account/{AUTH_ID}"
        headers = {"X-Auth-ID": AUTH_ID, "X-Auth-Token": ACCOUNT.secrets["auth_token"]}
        call_url = f"{base}/Call/{placed.provider_call_id}/"
        for query in ({"status": "live"}, {"status": "queued"}, {}):
            assert (await http.get(call_url, params=query, headers=headers)).status_code == 404
        found = await http.get(f"{base}/cdr/{placed.provider_call_id}", headers=headers)
        assert (await http.get(f"{base}/cdr/no-such-call", headers=headers)).status_code == 404
    body = found.json()
    assert found.status_code == 200 and set(body) == {"data", "success"} and body["success"] is True
    assert set(body["data"]) == CDR_FIELDS  # no call_status, nothing undocumented
    assert (body["data"]["hangup_cause_code"], body["data"]["answer_time"]) == (3000, None)
