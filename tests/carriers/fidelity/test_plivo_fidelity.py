"""Plivo as its own docs and SDK fixtures describe it, checked against our adapter and simulator.

Facts and their sources (the test data below is ours, written from them):
- plivo-python ``tests/resources/fixtures/callGetResponse.json`` and the Call object page
  (plivo.com/docs/voice/api/call/the-call-object): ``GET /Account/{id}/Call/{uuid}/`` of a finished
  call has ``answer_time``, ``end_time``, ``bill_duration``, ``call_duration``,
  ``hangup_cause_code``, ``hangup_cause_name``, ``hangup_source`` … and no ``call_status``. The
  page's example: answered, 11 s, 4010 "End Of XML Instructions", source "Plivo".
- plivo-python ``liveCallGetResponse.json``: ``?status=live`` answers ``call_status``
  "in-progress", ``call_uuid``, ``request_uuid``, ``session_start`` ….
- Plivo's "Retrieve a queued call" (mirrored by docs.vobiz.ai/call/retrieve-queued-call):
  ``?status=queued`` finds a call initiated and not yet answered; 404 otherwise.
- plivo.com/docs/voice/troubleshooting/hangup-causes: 1000 Canceled (Hangup API before answer),
  2000s destination issues, 3000 Busy Line, 4000–4030 normal completions.
- plivo.com/docs/voice/xml/request/call-status: ``timeout`` is "a timeout while connecting your
  call … terminating carriers or network lag": a failure, not a no-answer.
- Plivo's ``<Stream>`` docs promise nothing about the stream URL's query string: our token is a
  path segment.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from callwright.carriers import endpoints_from_settings
from callwright.carriers.base import Account, CallbackKind
from callwright.carriers.plivo import Plivo
from callwright.domain.calls import CallStatus, EventKind
from callwright.settings import Settings
from callwright.sim import CarrierSimulator, Scenario
from tests.carriers.call_path_support import AT, ENDPOINTS, answering, dial_request

PLIVO = Plivo()
AUTH_ID = "MAFIDELITYPLIVO00001"
ACCOUNT = Account({"auth_id": AUTH_ID}, {"auth_token": "fidelity-token-0123456789"})
CALL_UUID = "4d04c52e-cea3-4458-bbdb-0bfc314ee7cd"
NOT_FOUND = httpx.Response(404, json={"api_id": "a", "error": "not found"})

# callGetResponse.json's field names: a call that was never answered (answer_time null, 0 s).
CALL_GET_FIELDS = frozenset({
    "answer_time", "api_id", "bill_duration", "billed_duration", "call_direction", "call_duration",
    "call_uuid", "end_time", "from_number", "initiation_time", "parent_call_uuid", "resource_uri",
    "to_number", "total_amount", "total_rate",
})  # fmt: skip
NEVER_ANSWERED = dict.fromkeys(CALL_GET_FIELDS) | {
    "call_uuid": CALL_UUID, "end_time": "2017-05-22 17:49:40+05:30", "bill_duration": 0,
    "call_duration": 0, "initiation_time": "2017-05-22 17:49:30+05:30",
}  # fmt: skip
# The Call object page's example, hang-up fields included.
ENDED_BY_XML = NEVER_ANSWERED | {
    "answer_time": "2022-06-28 19:39:05+05:30", "end_time": "2022-06-28 19:39:15+05:30",
    "bill_duration": 11, "call_duration": 11, "hangup_cause_name": "End Of XML Instructions",
    "hangup_cause_code": 4010, "hangup_source": "Plivo",
}  # fmt: skip


async def _fetch(*answers: httpx.Response):  # type: ignore[no-untyped-def]
    carrier = answering(*answers)
    async with carrier.client() as http:
        state = await PLIVO.fetch_call_state(CALL_UUID, ACCOUNT, http=http, endpoints=ENDPOINTS, at=AT)
    return state, carrier.sent


async def test_a_finished_record_without_call_status_ends_the_call_with_its_cause():
    state, sent = await _fetch(NOT_FOUND, NOT_FOUND, httpx.Response(200, json=ENDED_BY_XML))
    base = f"https://api.plivo.com/v1/Account/{AUTH_ID}/Call/{CALL_UUID}/"
    assert [s.url for s in sent] == [f"{base}?status=live", f"{base}?status=queued", base]
    assert state is not None and not state.live
    [ended] = state.events
    assert (ended.kind, ended.outcome) == (EventKind.ENDED, CallStatus.COMPLETED)
    assert (ended.hangup_cause, ended.duration_seconds) == ("End Of XML Instructions", 11)


async def test_the_sdk_fixtures_record_of_an_unanswered_call_has_ended():
    state, _ = await _fetch(NOT_FOUND, NOT_FOUND, httpx.Response(200, json=NEVER_ANSWERED))
    assert state is not None and not state.live
    assert state.events[-1].outcome is CallStatus.FAILED  # no cause code, never answered


async def test_a_live_call_is_answered_and_a_queued_one_is_still_held():
    live = {"api_id": "a", "call_status": "in-progress", "call_uuid": CALL_UUID, "caller_name": "",
            "direction": "outbound", "from": "+918687888990", "request_uuid": CALL_UUID,
            "session_start": "2017-05-22 13:17:49.050872", "to": "919798990001"}
    state, sent = await _fetch(httpx.Response(200, json=live))
    assert state is not None and state.live and len(sent) == 1
    assert [event.kind for event in state.events] == [EventKind.ANSWERED]
    queued = {"api_id": "a", "call_status": "queued", "call_uuid": CALL_UUID, "request_uuid": CALL_UUID}
    state, sent = await _fetch(NOT_FOUND, httpx.Response(200, json=queued))
    assert state is not None and state.live and state.events == () and len(sent) == 2


def test_a_timeout_is_a_network_failure_not_a_no_answer():
    params = {"CallUUID": CALL_UUID, "Event": "Hangup", "CallStatus": "timeout"}
    [ended] = PLIVO.parse_callback(CallbackKind.STATUS, params, received_at=AT)
    assert ended.outcome is CallStatus.FAILED


def test_the_stream_url_carries_the_token_in_its_path():
    document = PLIVO.answer_document(
        stream_url="wss://cw.example.com/media/plivo/c1", parameters={"call_id": "c1", "token": "tok-1"}
    )
    url = document.body.split(">", 2)[2].split("<", 1)[0]
    assert (urlsplit(url).query, urlsplit(url).path) == ("", "/media/plivo/c1/tok-1")


# --- the simulator plays the documented Plivo ------------------------------------------------------


async def test_the_simulators_records_have_the_documented_shapes(sim: CarrierSimulator):
    sim.add_account("plivo", auth_id=AUTH_ID, auth_token=ACCOUNT.secrets["auth_token"])
    number = "+919876500002"
    sim.set_scenario(number, Scenario.slow_answer(60))
    dial = dial_request("plivo", to=number, answer_url="http://127.0.0.1:9/a", status_url="http://127.0.0.1:9/s")
    endpoints = endpoints_from_settings(Settings(plivo_api_url=sim.api_urls()["plivo"], carrier_timeout_secs=5.0))
    auth = (AUTH_ID, ACCOUNT.secrets["auth_token"])
    async with httpx.AsyncClient(auth=auth) as http:
        placed = await PLIVO.place_call(dial, ACCOUNT, http=http, endpoints=endpoints)
        played = await sim.wait_for_call(to=number)
        call_uuid = played.far_end.call_uuid  # type: ignore[union-attr]
        base = f"{sim.api_urls()['plivo']}/Account/{AUTH_ID}"
        # Ringing: queued (by its CallUUID or its request_uuid), not live, no record yet.
        for call_id in (call_uuid, placed.provider_call_id):
            queued = await http.get(f"{base}/Call/{call_id}/", params={"status": "queued"})
            assert queued.status_code == 200 and queued.json()["call_status"] == "queued"
        assert (await http.get(f"{base}/Call/{call_uuid}/", params={"status": "live"})).status_code == 404
        assert (await http.get(f"{base}/Call/{call_uuid}/")).status_code == 404
        sim.caller_hangs_up(played.call_id)
        await sim.wait_for_call_end(played.call_id)
        record = (await http.get(f"{base}/Call/{call_uuid}/")).json()
    assert CALL_GET_FIELDS <= set(record)
    assert "call_status" not in record
    assert {"hangup_cause_code", "hangup_cause_name", "hangup_source"} <= set(record)
