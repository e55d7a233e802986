"""Plivo's call path against the official plivo SDK as the oracle (carriers.md §2, §7)."""

from __future__ import annotations

import json

import httpx
import plivo
import pytest
from pipecat.frames.frames import EndFrame, InterruptionFrame, OutputAudioRawFrame
from pipecat.serializers.plivo import PlivoFrameSerializer
from plivo import plivoxml
from plivo.utils import validate_v3_signature
from plivo.utils.signature_v3 import construct_get_url, construct_post_url, get_signature_v3

from callwright.carriers import get_carrier
from callwright.carriers.base import CallbackKind, CarrierAuthFailed, CarrierRejected
from callwright.carriers.plivo import callback_signature, signature_base
from callwright.domain.calls import CallStatus, EventKind
from callwright.domain.providers import Provider
from tests.carriers.call_path_support import (
    AT,
    AUTH_TOKEN,
    CALL_ID,
    ENDPOINTS,
    PUBLIC,
    TOKEN,
    account,
    amd_url,
    answering,
    dial_request,
    element_tree,
    no_hang_up_attempts,
    requests_capture,
)

PLIVO = get_carrier(Provider.PLIVO)
AUTH_ID = "MASIMPLIVO0000000001"
ACCOUNT = account({"auth_id": AUTH_ID, "from_number": "+14155550100"}, {"auth_token": AUTH_TOKEN})
FIRED = {"message": "call fired", "request_uuid": "req-5e1d", "api_id": "a-2"}
CALL_URL = f"https://api.plivo.com/v1/Account/{AUTH_ID}/Call/"
# Defaults plivo's calls.create always sends that we leave to Plivo (fallback is unused; the
# machine-detection timing is Plivo's own default, 5000 ms).
SDK_ONLY = {"fallback_method", "error_if_parent_not_found", "machine_detection_time"}


def sdk_client() -> plivo.RestClient:
    return plivo.RestClient(AUTH_ID, AUTH_TOKEN)


@pytest.mark.parametrize("with_amd", [False, True], ids=["plain", "amd"])
async def test_place_call_sends_what_the_sdk_sends(with_amd):
    extra = {"machine_detection_url": amd_url("plivo")} if with_amd else {}
    dial = dial_request("plivo", time_limit_secs=900, **extra)
    carrier = answering(httpx.Response(201, json=FIRED))
    async with carrier.client() as http:
        placed = await PLIVO.place_call(dial, ACCOUNT, http=http, endpoints=ENDPOINTS)

    amd = {"machine_detection": "true", "machine_detection_url": dial.machine_detection_url}
    with requests_capture(lambda _: (201, FIRED)) as sdk_sent:
        sdk_client().calls.create(
            from_=dial.from_number,
            to_=dial.to_number,
            answer_url=dial.answer_url,
            hangup_url=dial.status_url,
            ring_url=dial.status_url,
            ring_timeout=dial.ring_timeout_secs,
            time_limit=900,
            **(amd if with_amd else {}),
        )
    ours, sdk = carrier.sent[0], sdk_sent[0]
    assert (ours.method, ours.url) == (sdk.method, sdk.url) == ("POST", CALL_URL)
    assert ours.basic_auth == sdk.basic_auth == (AUTH_ID, AUTH_TOKEN)
    sdk_body = json.loads(sdk.body)
    sdk_only = SDK_ONLY | (set() if with_amd else {"machine_detection_method"})
    assert ours.json() == {k: v for k, v in sdk_body.items() if k not in sdk_only}
    assert placed.provider_call_id == "req-5e1d"


async def test_carriers_own_refusal_text_reaches_the_error():
    refusal = {"api_id": "a", "error": "Invalid from number"}
    carrier = answering(httpx.Response(400, json=refusal))
    async with carrier.client() as http:
        with pytest.raises(CarrierRejected, match="Invalid from number"):
            await PLIVO.place_call(dial_request("plivo"), ACCOUNT, http=http, endpoints=ENDPOINTS)


async def test_bulk_separator_in_the_number_is_refused_before_dialing():
    carrier = answering(httpx.Response(201, json=FIRED))
    async with carrier.client() as http:
        with pytest.raises(Exception, match=r"single E\.164"):
            await PLIVO.place_call(
                dial_request("plivo", to="+14155550111<+14155550112"),
                ACCOUNT,
                http=http,
                endpoints=ENDPOINTS,
            )
    assert carrier.sent == []


async def test_dial_with_wrong_credentials_is_auth_failed():
    carrier = answering(httpx.Response(401, text="Authentication failed"))
    async with carrier.client() as http:
        with pytest.raises(CarrierAuthFailed):
            await PLIVO.place_call(dial_request("plivo"), ACCOUNT, http=http, endpoints=ENDPOINTS)


# --- hangup: Call DELETE, then Request DELETE for a call not yet answered -------------------------


def sdk_hangup_requests() -> tuple:
    with requests_capture(lambda _: (204, None)) as sdk_sent:
        sdk_client().calls.delete("req-5e1d")
        sdk_client().calls.cancel("req-5e1d")
    return tuple(sdk_sent)


@pytest.mark.parametrize(
    ("answers", "expected_calls"),
    [
        ([204], 1),  # live call hung up
        ([404, 204], 2),  # not answered yet: the request is canceled
        ([404, 404], 2),  # already gone
    ],
    ids=["live", "ringing", "gone"],
)
async def test_hangup_deletes_the_call_then_the_request(answers, expected_calls):
    carrier = answering(*(httpx.Response(status) for status in answers))
    async with carrier.client() as http:
        await PLIVO.hangup("req-5e1d", ACCOUNT, http=http, endpoints=ENDPOINTS)
    sdk_delete, sdk_cancel = sdk_hangup_requests()
    assert len(carrier.sent) == expected_calls
    for ours, sdk in zip(carrier.sent, (sdk_delete, sdk_cancel), strict=False):
        assert (ours.method, ours.url, ours.basic_auth) == (sdk.method, sdk.url, sdk.basic_auth)


async def test_hangup_refused_by_plivo_raises():
    carrier = answering(httpx.Response(400, json={"error": "call_uuid is invalid"}))
    async with carrier.client() as http:
        with pytest.raises(CarrierRejected, match="call_uuid is invalid"):
            await PLIVO.hangup("req-5e1d", ACCOUNT, http=http, endpoints=ENDPOINTS)


# --- answer document ------------------------------------------------------------------------------


def test_answer_document_is_the_sdks_stream_element():
    stream_url = f"wss://cw.example.com/media/plivo/{CALL_ID}"
    document = PLIVO.answer_document(
        stream_url=stream_url, parameters={"call_id": CALL_ID, "token": TOKEN}
    )
    expected = plivoxml.ResponseElement().add(
        plivoxml.StreamElement(
            f"{stream_url}/{TOKEN}",  # the token as a path segment: no query to lose
            bidirectional=True,
            keepCallAlive=True,
            contentType="audio/x-mulaw;rate=8000",
        )
    )
    assert document.media_type == "application/xml"
    assert element_tree(document.body) == element_tree(expected.to_string())
    assert "?" not in document.body


# --- V3 signatures --------------------------------------------------------------------------------

STATUS_URL = f"{PUBLIC}/telephony/plivo/{CALL_ID}/status?token={TOKEN}"
NONCE = "05429567804466091622"
PARAMS = {
    "CallUUID": "c-77",
    "CallStatus": "completed",
    "Event": "Hangup",
    "Duration": "42",
    "From": "+14155550100",
    "To": "+14155550111",
}


def sdk_signature(
    url: str = STATUS_URL, params: dict | None = None, *, method: str = "POST",
    token: str = AUTH_TOKEN,
) -> str:
    params = dict(PARAMS if params is None else params)
    construct = construct_post_url if method == "POST" else construct_get_url
    base = construct(url, params)
    return get_signature_v3(token, base, NONCE).decode()


def accepts(signature: str | None, *, url: str = STATUS_URL, params: dict | None = None,
            method: str = "POST", nonce: str | None = NONCE) -> bool:
    headers = {}
    if signature is not None:
        headers["X-Plivo-Signature-V3"] = signature
    if nonce is not None:
        headers["X-Plivo-Signature-V3-Nonce"] = nonce
    return PLIVO.validate_signature(
        method=method, url=url, params=PARAMS if params is None else params, headers=headers,
        account=ACCOUNT,
    )


@pytest.mark.parametrize(
    ("method", "url", "params"),
    [
        ("POST", STATUS_URL, PARAMS),
        ("POST", STATUS_URL.split("?")[0], PARAMS),  # no query
        ("POST", STATUS_URL, {}),  # no params
        ("POST", STATUS_URL + "&b=2&a=1", PARAMS),  # query needs sorting
        ("POST", STATUS_URL.split("?")[0], {}),  # bare URL
        ("GET", STATUS_URL, PARAMS),
    ],
    ids=["post", "post-no-query", "post-no-params", "post-unsorted-query", "bare", "get"],
)
def test_sdk_signatures_are_accepted(method, url, params):
    assert PLIVO.signs_callbacks
    assert accepts(sdk_signature(url, params, method=method), url=url, params=params, method=method)
    base = (construct_post_url if method == "POST" else construct_get_url)(url, dict(params))
    assert signature_base(method, url, params) == base.decode()


def test_our_signature_passes_the_sdks_validator():
    ours = callback_signature(AUTH_TOKEN, signature_base("POST", STATUS_URL, PARAMS), NONCE)
    assert validate_v3_signature("POST", STATUS_URL, NONCE, AUTH_TOKEN, ours, dict(PARAMS))


def test_one_of_several_comma_separated_signatures_is_enough():
    assert accepts(f"bm90LWl0,{sdk_signature()}")


@pytest.mark.parametrize(
    "case",
    ["tampered-param", "extra-param", "other-url", "replayed-other-call", "wrong-token",
     "missing-signature", "missing-nonce"],
)
def test_bad_signatures_are_refused(case):
    good = sdk_signature()
    other_call = STATUS_URL.replace(CALL_ID, "call_other")
    refused = {
        "tampered-param": lambda: accepts(good, params={**PARAMS, "CallStatus": "busy"}),
        "extra-param": lambda: accepts(good, params={**PARAMS, "Machine": "true"}),
        "other-url": lambda: accepts(good, url=STATUS_URL.replace("/status", "/answer")),
        "replayed-other-call": lambda: accepts(good, url=other_call),
        "wrong-token": lambda: accepts(sdk_signature(token="someone-elses-token")),
        "missing-signature": lambda: accepts(None),
        "missing-nonce": lambda: accepts(good, nonce=None),
    }[case]
    assert not refused()


# --- callbacks ------------------------------------------------------------------------------------


def events(kind: CallbackKind, params: dict[str, str]) -> list[tuple]:
    return [
        (e.kind, e.outcome, e.hangup_cause, e.duration_seconds)
        for e in PLIVO.parse_callback(kind, params, received_at=AT)
    ]


def just(kind: EventKind) -> list[tuple]:
    return [(kind, None, None, None)]


def ended(outcome: CallStatus, cause: str | None = None, secs: int | None = None) -> list[tuple]:
    return [(EventKind.ENDED, outcome, cause, secs)]


STATUS, ANSWER, MACHINE = CallbackKind.STATUS, CallbackKind.ANSWER, CallbackKind.MACHINE
HANGUP = {"Event": "Hangup"}


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        (STATUS, {"CallStatus": "ringing", "Event": "Ring"}, just(EventKind.RINGING)),
        (ANSWER, {"CallStatus": "in-progress", "Event": "StartApp"}, just(EventKind.ANSWERED)),
        (
            STATUS,
            {**HANGUP, "CallStatus": "completed", "HangupCause": "NORMAL_CLEARING", "Duration": "61"},
            ended(CallStatus.COMPLETED, "NORMAL_CLEARING", 61),
        ),
        (
            STATUS,
            {**HANGUP, "CallStatus": "busy", "HangupCause": "USER_BUSY"},
            ended(CallStatus.BUSY, "USER_BUSY"),
        ),
        (
            STATUS,
            {**HANGUP, "CallStatus": "failed", "HangupCause": "UNALLOCATED_NUMBER"},
            ended(CallStatus.FAILED, "UNALLOCATED_NUMBER"),
        ),
        (
            STATUS,
            {**HANGUP, "CallStatus": "timeout", "BillDuration": "0"},
            ended(CallStatus.FAILED, None, 0),  # a carrier/network timeout, not a no-answer
        ),
        (STATUS, {**HANGUP, "CallStatus": "no-answer"}, ended(CallStatus.NO_ANSWER)),
        (
            MACHINE,
            {"Machine": "true", "Event": "MachineDetection", "IfMachine": "continue"},
            just(EventKind.MACHINE_DETECTED),
        ),
        (MACHINE, {"Machine": "false", "Event": "MachineDetection"}, just(EventKind.HUMAN_DETECTED)),
        (STATUS, {"CallStatus": "paused"}, []),
    ],
    ids=["ring", "answer", "completed", "busy", "failed", "timeout", "no-answer", "machine",
         "human", "unknown"],
)
def test_callbacks_become_domain_events(kind, params, expected):
    assert events(kind, {"CallUUID": "c-77", "RequestUUID": "req-5e1d", **params}) == expected


def test_synchronous_amd_verdict_on_the_answer_request_follows_the_answer():
    params = {"CallStatus": "in-progress", "Event": "StartApp", "Machine": "true"}
    assert events(ANSWER, params) == just(EventKind.ANSWERED) + just(EventKind.MACHINE_DETECTED)


def test_request_canceled_before_answer_is_canceled_even_when_reported_completed():
    params = {**HANGUP, "CallStatus": "completed", "HangupCause": "ORIGINATOR_CANCEL"}
    assert events(STATUS, params) == ended(CallStatus.CANCELED, "ORIGINATOR_CANCEL")


def test_callback_names_the_call_by_its_call_uuid():
    [ended] = PLIVO.parse_callback(
        CallbackKind.STATUS,
        {"CallUUID": "c-77", "RequestUUID": "req-5e1d", "CallStatus": "completed"},
        received_at=AT,
    )
    assert ended.provider_call_id == "c-77"


# --- media ----------------------------------------------------------------------------------------

START = {
    "event": "start",
    "sequenceNumber": 0,
    "start": {
        "callId": "c-77",
        "streamId": "s-20",
        "accountId": AUTH_ID,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": "8000"},
    },
    "extra_headers": "",
}


async def test_media_start_and_serializer():
    start = PLIVO.parse_media_start(START)
    assert (start.stream_id, start.provider_call_id, start.sample_rate) == ("s-20", "c-77", 8000)
    assert start.custom_parameters == {}
    serializer = PLIVO.media_serializer(start, ACCOUNT)
    assert isinstance(serializer, PlivoFrameSerializer)
    assert json.loads(await serializer.serialize(InterruptionFrame())) == {
        "event": "clearAudio",
        "streamId": "s-20",
    }
    played = json.loads(await serializer.serialize(OutputAudioRawFrame(b"\x01\x00" * 160, 8000, 1)))
    assert (played["event"], played["streamId"]) == ("playAudio", "s-20")
    with no_hang_up_attempts(PlivoFrameSerializer) as attempts:
        assert await serializer.serialize(EndFrame()) is None
    assert attempts == []


def test_start_without_stream_id_identifies_nothing():
    assert PLIVO.parse_media_start({"event": "start", "start": {"callId": "c-77"}}) is None
    assert PLIVO.parse_media_start({"event": "start", "start": "garbled"}) is None


def test_hangup_cause_in_words_is_preferred_over_its_code_name():
    from datetime import UTC, datetime

    from callwright.carriers import CARRIERS
    from callwright.carriers.base import CallbackKind
    from callwright.domain.providers import Provider

    params = {
        "CallUUID": "c1",
        "CallStatus": "failed",
        "Event": "Hangup",
        "HangupCause": "NO_ROUTE_DESTINATION",
        "HangupCauseName": "No route to destination",
    }
    for provider in (Provider.PLIVO, Provider.VOBIZ):
        events = CARRIERS[provider].parse_callback(CallbackKind.STATUS, params, received_at=datetime.now(UTC))
        assert events[-1].hangup_cause == "No route to destination"
        without_words = {k: v for k, v in params.items() if k != "HangupCauseName"}
        events = CARRIERS[provider].parse_callback(CallbackKind.STATUS, without_words, received_at=datetime.now(UTC))
        assert events[-1].hangup_cause == "NO_ROUTE_DESTINATION"
