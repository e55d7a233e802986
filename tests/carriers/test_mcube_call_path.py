"""MCube's call path against fixtures from third-party integrations (carriers.md §5).

MCube publishes no developer docs and there is no SDK oracle (§7): the request and webhook
shapes below come from public integrations and are not verified against live traffic.
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from callwright.carriers import get_carrier
from callwright.carriers.base import (
    CallbackKind,
    CarrierRejected,
    CarrierUnavailable,
    MediaStart,
    NotSupported,
)
from callwright.carriers.mcube import release_url
from callwright.domain.calls import CallStatus, EventKind
from callwright.domain.providers import Provider
from tests.carriers.call_path_support import AT, CALL_ID, ENDPOINTS, account, answering, dial_request

MCUBE = get_carrier(Provider.MCUBE)
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJkYXRhIjp7ImJpZCI6IjEifX0.c2lnbmF0dXJl"
ACCOUNT = account({"exe_number": "9876543210"}, {"jwt_token": JWT})


def mcube_dial():  # type: ignore[no-untyped-def]
    return dial_request("mcube", to="+919123456789", src="9876543210")


async def test_place_call_posts_click_to_call_with_the_token_in_the_body():
    dial = mcube_dial()
    carrier = answering(httpx.Response(200, json={"status": "succ", "msg": "Call initiated"}))
    async with carrier.client() as http:
        placed = await MCUBE.place_call(dial, ACCOUNT, http=http, endpoints=ENDPOINTS)
    [sent] = carrier.sent
    assert (sent.method, sent.url) == ("POST", "https://api.mcube.com/Restmcube-api/outbound-calls")
    assert "authorization" not in sent.headers
    assert sent.json() == {
        "HTTP_AUTHORIZATION": JWT,
        "exenumber": "9876543210",
        "custnumber": "9123456789",  # 10-digit national, +91 stripped
        "refurl": dial.status_url,
        "refid": CALL_ID,
    }
    # No call id in the answer: our refid stands in until the webhook brings callid.
    assert placed.provider_call_id == CALL_ID


async def test_call_id_in_the_answer_is_used_when_there_is_one():
    carrier = answering(httpx.Response(200, json={"status": True, "callid": "8812345"}))
    async with carrier.client() as http:
        placed = await MCUBE.place_call(mcube_dial(), ACCOUNT, http=http, endpoints=ENDPOINTS)
    assert placed.provider_call_id == "8812345"


async def test_refusal_under_http_200_is_rejected_with_mcubes_words():
    text = "Invalid Request or Executive is not opted for Outbound Calls or agent is in oncall"
    carrier = answering(httpx.Response(200, json={"status": "failed", "msg": text}))
    async with carrier.client() as http:
        with pytest.raises(CarrierRejected, match="Executive is not opted") as failure:
            await MCUBE.place_call(mcube_dial(), ACCOUNT, http=http, endpoints=ENDPOINTS)
    assert failure.value.carrier_reason == text


async def test_non_indian_number_is_refused_before_dialing():
    carrier = answering(httpx.Response(200, json={"status": "succ"}))
    async with carrier.client() as http:
        with pytest.raises(NotSupported, match=r"\+91"):
            await MCUBE.place_call(
                dial_request("mcube", to="+14155550111", src="9876543210"),
                ACCOUNT,
                http=http,
                endpoints=ENDPOINTS,
            )
    assert carrier.sent == []


async def test_throttled_dial_is_retryable():
    carrier = answering(httpx.Response(429, headers={"Retry-After": "3"}))
    async with carrier.client() as http:
        with pytest.raises(CarrierUnavailable) as failure:
            await MCUBE.place_call(mcube_dial(), ACCOUNT, http=http, endpoints=ENDPOINTS)
    assert (failure.value.retryable, failure.value.retry_after) == (True, 3.0)


# --- hangup: call-release -------------------------------------------------------------------------


def test_release_url_follows_the_configured_host():
    assert release_url(ENDPOINTS) == "https://config.mcube.com/hangup-api/call-release"
    simulated = dataclasses.replace(ENDPOINTS, mcube="http://127.0.0.1:8123/mcube/Restmcube-api")
    assert release_url(simulated) == "http://127.0.0.1:8123/hangup-api/call-release"


@pytest.mark.parametrize(
    "answer",
    [
        {"status": True, "msg": "Call released"},
        {"status": False, "msg": "Call not found"},
        {"status": False, "message": "No active call for this callid"},
    ],
    ids=["released", "not-found", "no-active-call"],
)
async def test_hangup_releases_the_call_and_a_gone_call_is_no_error(answer):
    carrier = answering(httpx.Response(200, json=answer))
    async with carrier.client() as http:
        await MCUBE.hangup("8812345", ACCOUNT, http=http, endpoints=ENDPOINTS)
    [sent] = carrier.sent
    assert (sent.method, sent.url) == ("POST", "https://config.mcube.com/hangup-api/call-release")
    assert sent.json() == {"token": JWT, "callid": "8812345"}


async def test_hangup_refused_for_another_reason_raises():
    carrier = answering(httpx.Response(200, json={"status": False, "msg": "Invalid token"}))
    async with carrier.client() as http:
        with pytest.raises(CarrierRejected, match="Invalid token"):
            await MCUBE.hangup("8812345", ACCOUNT, http=http, endpoints=ENDPOINTS)


# --- refurl webhook -------------------------------------------------------------------------------

HANGUP = {
    "callid": "8812345",
    "refid": CALL_ID,
    "starttime": "2026-11-24 15:30:00",
    "answeredtime": "2026-11-24 15:30:09",
    "endtime": "2026-11-24 15:31:10",
    "emp_phone": "9876543210",
    "callto": "9123456789",
    "direction": "outbound",
    "filename": "https://recordings.example/8812345.wav",
}

UNANSWERED = {**HANGUP, "answeredtime": ""}


def events(**params: object) -> list[tuple]:
    return [
        (e.kind, e.outcome, e.hangup_cause, e.duration_seconds, e.provider_call_id)
        for e in MCUBE.parse_callback(CallbackKind.STATUS, params, received_at=AT)
    ]


def ended(outcome: CallStatus, cause: str | None, secs: int | None = None) -> list[tuple]:
    return [(EventKind.ENDED, outcome, cause, secs, "8812345")]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {**HANGUP, "dialstatus": "ANSWER", "disconnectedby": "Customer"},
            ended(CallStatus.COMPLETED, "disconnected by Customer", 61),
        ),
        (
            {**HANGUP, "dialstatus": "ANSWER", "answeredtime": "00:01:05"},
            ended(CallStatus.COMPLETED, None, 65),
        ),
        ({**UNANSWERED, "dialstatus": "CANCEL"}, ended(CallStatus.CANCELED, "CANCEL")),
        (
            {**UNANSWERED, "dialstatus": "Executive Busy"},
            ended(CallStatus.FAILED, "Executive Busy"),
        ),
        ({**UNANSWERED, "dialstatus": "Busy"}, ended(CallStatus.BUSY, "Busy")),
        ({**UNANSWERED, "dialstatus": "NoAnswer"}, ended(CallStatus.NO_ANSWER, "NoAnswer")),
        (
            {**HANGUP, "endtime": "", "dialstatus": "ANSWER"},
            [(EventKind.ANSWERED, None, None, None, "8812345")],
        ),
        ({**HANGUP, "endtime": "", "dialstatus": ""}, []),
        ({**HANGUP, "dialstatus": "Congestion"}, []),
        ({}, []),
    ],
    ids=["answer", "answer-talk-time", "cancel", "executive-busy", "busy", "no-answer",
         "on-call", "on-call-no-status", "unknown", "empty"],
)
def test_webhooks_become_domain_events(params, expected):
    assert events(**params) == expected


def test_no_media_leg():
    start = MediaStart("s", "c", {}, "audio/x-raw", 8000)
    with pytest.raises(NotSupported):
        MCUBE.answer_document(stream_url="wss://x/media/mcube/c", parameters={})
    with pytest.raises(NotSupported):
        MCUBE.parse_media_start({"event": "start"})
    with pytest.raises(NotSupported):
        MCUBE.media_serializer(start, ACCOUNT)
    assert not MCUBE.signs_callbacks
    assert not MCUBE.supports_machine_detection
    assert MCUBE.caller_id_field == "exe_number"
