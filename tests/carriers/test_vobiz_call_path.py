"""Vobiz's call path against the official vobiz-python SDK as the oracle (carriers.md §1, §7)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
import vobiz
from pipecat.frames.frames import EndFrame, InterruptionFrame, OutputAudioRawFrame
from pipecat.serializers.plivo import PlivoFrameSerializer
from vobiz import vobizxml
from vobiz.utils import validate_signature as sdk_validate_v2
from vobiz.utils import validate_v3_signature as sdk_validate_v3
from vobiz.utils.signature_v3 import construct_post_url, get_signature_v3

from callwright.carriers import get_carrier
from callwright.carriers.base import CallbackKind, CarrierRejected, CarrierUnavailable
from callwright.carriers.vobiz import callback_signature
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

VOBIZ = get_carrier(Provider.VOBIZ)
AUTH_ID = "MA_SIMVOBIZ1"
ACCOUNT = account({"auth_id": AUTH_ID, "from_number": "+14155550100"}, {"auth_token": AUTH_TOKEN})
FIRED = {"api_id": "a-1", "request_uuid": "9f1c-uuid", "message": "Call fired"}


def sdk_client() -> vobiz.RestClient:
    return vobiz.RestClient(AUTH_ID, AUTH_TOKEN)


# --- place_call / hangup: the same request the SDK sends ------------------------------------------


@pytest.mark.parametrize("with_amd", [False, True], ids=["plain", "amd"])
async def test_place_call_sends_what_the_sdk_sends(with_amd):
    extra = {"machine_detection_url": amd_url("vobiz")} if with_amd else {}
    dial = dial_request("vobiz", time_limit_secs=600, **extra)
    carrier = answering(httpx.Response(201, json=FIRED))
    async with carrier.client() as http:
        placed = await VOBIZ.place_call(dial, ACCOUNT, http=http, endpoints=ENDPOINTS)

    amd = (
        {
            "machine_detection": "true",
            "machine_detection_url": dial.machine_detection_url,
            "machine_detection_method": "POST",
        }
        if with_amd
        else {}
    )
    with requests_capture(lambda _: (201, FIRED)) as sdk_sent:
        sdk_client().calls.create(
            from_=dial.from_number,
            to_=dial.to_number,
            answer_url=dial.answer_url,
            answer_method="POST",
            hangup_url=dial.status_url,
            hangup_method="POST",
            ring_url=dial.status_url,
            ring_method="POST",
            **amd,  # no ring_timeout or time_limit: Vobiz's make-call page documents neither
        )
    ours, sdk = carrier.sent[0], sdk_sent[0]
    assert (ours.method, ours.url) == (sdk.method, sdk.url) == (
        "POST",
        f"https://api.vobiz.ai/api/v1/Account/{AUTH_ID}/Call/",
    )
    for name in ("x-auth-id", "x-auth-token"):
        assert ours.headers[name] == sdk.headers[name]
    assert ours.basic_auth is None
    assert ours.json() == json.loads(sdk.body)
    assert placed.provider_call_id == "9f1c-uuid"


async def test_place_call_omits_what_vobiz_does_not_document_and_amd_when_not_asked():
    carrier = answering(httpx.Response(201, json=FIRED))
    async with carrier.client() as http:
        await VOBIZ.place_call(
            dial_request("vobiz", time_limit_secs=600), ACCOUNT, http=http, endpoints=ENDPOINTS
        )
    body = carrier.sent[0].json()
    assert "machine_detection" not in body
    assert "time_limit" not in body and "ring_timeout" not in body


async def test_geo_permission_403_is_a_refusal_of_the_call_not_of_the_credentials():
    refusal = {"api_id": "a", "error": "Geo permission not enabled for destination"}
    carrier = answering(httpx.Response(403, json=refusal))
    async with carrier.client() as http:
        with pytest.raises(CarrierRejected, match="Geo permission not enabled"):
            await VOBIZ.place_call(dial_request("vobiz"), ACCOUNT, http=http, endpoints=ENDPOINTS)


async def test_answer_without_request_uuid_is_not_retried():
    carrier = answering(httpx.Response(201, json={"message": "Call fired"}))
    async with carrier.client() as http:
        with pytest.raises(CarrierUnavailable) as failure:
            await VOBIZ.place_call(dial_request("vobiz"), ACCOUNT, http=http, endpoints=ENDPOINTS)
    assert failure.value.retryable is False


@pytest.mark.parametrize("status", [204, 404], ids=["hung-up", "already-gone"])
async def test_hangup_deletes_the_call_like_the_sdk(status):
    carrier = answering(httpx.Response(status))
    async with carrier.client() as http:
        await VOBIZ.hangup("9f1c-uuid", ACCOUNT, http=http, endpoints=ENDPOINTS)
    with requests_capture(lambda _: (204, None)) as sdk_sent:
        sdk_client().calls.hangup("9f1c-uuid")
    ours, sdk = carrier.sent[0], sdk_sent[0]
    assert (ours.method, ours.url) == (sdk.method, sdk.url)
    assert ours.headers["x-auth-token"] == sdk.headers["x-auth-token"]


async def test_hangup_that_fails_on_the_carrier_side_raises():
    carrier = answering(httpx.Response(500, json={"error": "internal"}))
    async with carrier.client() as http:
        with pytest.raises(CarrierUnavailable):
            await VOBIZ.hangup("9f1c-uuid", ACCOUNT, http=http, endpoints=ENDPOINTS)


# --- answer document ------------------------------------------------------------------------------


def test_answer_document_is_the_sdks_stream_element_with_the_token_in_its_path():
    stream_url = f"wss://cw.example.com/media/vobiz/{CALL_ID}"
    document = VOBIZ.answer_document(
        stream_url=stream_url, parameters={"call_id": CALL_ID, "token": "t&k<1"}
    )
    expected = vobizxml.ResponseElement().add(
        vobizxml.StreamElement(
            f"{stream_url}/t%26k%3C1",  # the token as a path segment: no query to lose
            bidirectional=True,
            keepCallAlive=True,
            contentType="audio/x-mulaw;rate=8000",
        )
    )
    assert document.media_type == "application/xml"
    assert element_tree(document.body) == element_tree(expected.to_string())
    assert "audioTrack" not in document.body


# --- signatures -----------------------------------------------------------------------------------

STATUS_URL = f"{PUBLIC}/telephony/vobiz/{CALL_ID}/status?token={TOKEN}"
OTHER_CALL_URL = f"{PUBLIC}/telephony/vobiz/call_other/status?token={TOKEN}"
BARE_URL = STATUS_URL.split("?")[0]
NONCE = "18273645"
PARAMS = {"CallUUID": "9f1c-uuid", "CallStatus": "completed", "Event": "Hangup"}


def v3_headers(signature: str) -> dict[str, str]:
    return {"X-Vobiz-Signature-V3": signature, "X-Vobiz-Signature-V3-Nonce": NONCE}


def sdk_v3(url: str = BARE_URL, token: str = AUTH_TOKEN) -> str:
    return get_signature_v3(token, construct_post_url(url, {}), NONCE).decode()


def accepts(headers: dict[str, str], url: str = STATUS_URL, params: dict | None = None) -> bool:
    return VOBIZ.validate_signature(
        method="POST", url=url, params=PARAMS if params is None else params, headers=headers,
        account=ACCOUNT,
    )


def test_our_signatures_pass_the_sdks_validators():
    ours_v3 = callback_signature(AUTH_TOKEN, STATUS_URL, NONCE)
    ours_v2 = callback_signature(AUTH_TOKEN, STATUS_URL, NONCE, version=2)
    # The SDK's V3 matches Vobiz's docs only with no params and no query (carriers.md §1.9).
    assert sdk_validate_v3("POST", BARE_URL, NONCE, AUTH_TOKEN, ours_v3, params={})
    assert sdk_validate_v2(STATUS_URL, NONCE, ours_v2, AUTH_TOKEN)


def test_sdk_signed_callback_is_accepted_v3_and_v2():
    assert VOBIZ.signs_callbacks
    assert accepts(v3_headers(sdk_v3()))
    v2 = callback_signature(AUTH_TOKEN, STATUS_URL, NONCE, version=2)
    assert sdk_validate_v2(STATUS_URL, NONCE, v2, AUTH_TOKEN)
    assert accepts({"x-vobiz-signature-v2": v2, "x-vobiz-signature-v2-nonce": NONCE})


def test_vobiz_does_not_sign_the_post_params():
    assert accepts(v3_headers(sdk_v3()), params={**PARAMS, "CallStatus": "busy"})


@pytest.mark.parametrize(
    ("headers", "url"),
    [
        (v3_headers(sdk_v3(token="someone-elses-token")), STATUS_URL),
        (v3_headers(sdk_v3()), f"{PUBLIC}/telephony/vobiz/{CALL_ID}/answer?token={TOKEN}"),
        (v3_headers(sdk_v3()), OTHER_CALL_URL),  # replayed on another call's URL
        ({"X-Vobiz-Signature-V3": sdk_v3()}, STATUS_URL),  # nonce missing
        ({"X-Vobiz-Signature-V3": sdk_v3(), "X-Vobiz-Signature-V3-Nonce": "other"}, STATUS_URL),
        ({}, STATUS_URL),
    ],
    ids=["wrong-token", "other-url", "replayed-other-call", "no-nonce", "other-nonce", "unsigned"],
)
def test_bad_signatures_are_refused(headers, url):
    assert not accepts(headers, url=url)


# --- callbacks ------------------------------------------------------------------------------------


U = "9f1c-uuid"


def ev(kind: CallbackKind, **params: str) -> list[tuple]:
    events = VOBIZ.parse_callback(kind, params, received_at=AT)
    return [
        (e.kind, e.outcome, e.hangup_cause, e.duration_seconds, e.provider_call_id) for e in events
    ]


def just(kind: EventKind) -> list[tuple]:
    return [(kind, None, None, None, U)]


def ended(outcome: CallStatus, cause: str | None = None, secs: int | None = None) -> list[tuple]:
    return [(EventKind.ENDED, outcome, cause, secs, U)]


STATUS, ANSWER, MACHINE = CallbackKind.STATUS, CallbackKind.ANSWER, CallbackKind.MACHINE
HANGUP = {"Event": "Hangup"}


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        (STATUS, {"CallStatus": "ringing", "Event": "Ring"}, just(EventKind.RINGING)),
        (ANSWER, {"CallStatus": "in-progress", "Event": "StartApp"}, just(EventKind.ANSWERED)),
        (
            STATUS,
            {**HANGUP, "CallStatus": "completed", "HangupCause": "NORMAL_CLEARING",
             "Duration": "42", "BillDuration": "60"},
            ended(CallStatus.COMPLETED, "NORMAL_CLEARING", 42),
        ),
        (
            STATUS,
            {**HANGUP, "CallStatus": "busy", "HangupCause": "USER_BUSY", "Duration": "0"},
            ended(CallStatus.BUSY, "USER_BUSY", 0),
        ),
        (STATUS, {**HANGUP, "CallStatus": "failed"}, ended(CallStatus.FAILED)),
        (
            STATUS,
            {**HANGUP, "CallStatus": "timeout", "HangupCause": "RECOVERY_ON_TIMER_EXPIRE"},
            ended(CallStatus.FAILED, "RECOVERY_ON_TIMER_EXPIRE"),  # the network's, not the callee's
        ),
        (
            STATUS,
            {**HANGUP, "CallStatus": "no-answer", "BillDuration": "0"},
            ended(CallStatus.NO_ANSWER, None, 0),
        ),
        (
            MACHINE,
            {"Machine": "true", "Event": "MachineDetection", "CallStatus": "in-progress"},
            just(EventKind.MACHINE_DETECTED),
        ),
        (MACHINE, {"Machine": "false", "Event": "MachineDetection"}, just(EventKind.HUMAN_DETECTED)),
        (MACHINE, {"Event": "MachineDetection"}, []),
        (STATUS, {"CallStatus": "transferring", "Event": "Transfer"}, []),
        (STATUS, {**HANGUP, "CallStatus": "mystery"}, []),
        (STATUS, {}, []),
    ],
    ids=["ring", "answer", "completed", "busy", "failed", "timeout", "no-answer", "machine",
         "human", "amd-without-verdict", "unknown-event", "unknown-hangup-status", "empty"],
)
def test_callbacks_become_domain_events(kind, params, expected):
    assert ev(kind, CallUUID=U, **params) == expected


def test_unknown_fields_and_duplicates_are_harmless():
    hangup = {"CallUUID": U, "CallStatus": "completed", "Event": "Hangup", "Duration": "oops"}
    first = ev(CallbackKind.STATUS, **hangup, Surprise="x", STIRVerification="Verified")
    assert first == ev(CallbackKind.STATUS, **hangup) == [
        (EventKind.ENDED, CallStatus.COMPLETED, None, None, U)
    ]


# --- media ----------------------------------------------------------------------------------------

START = {
    "event": "start",
    "sequenceNumber": 1,
    "start": {
        "callId": U,
        "streamId": "b77e-stream",
        "accountId": AUTH_ID,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
    },
    "extra_headers": "campaign=spring,tier=gold",
}


def test_machine_detection_is_offered():
    assert VOBIZ.supports_machine_detection and VOBIZ.caller_id_field == "from_number"


def test_media_start_is_read_from_the_nested_start_object():
    start = VOBIZ.parse_media_start(START)
    assert (start.stream_id, start.provider_call_id) == ("b77e-stream", U)
    assert (start.encoding, start.sample_rate) == ("audio/x-mulaw", 8000)
    assert start.custom_parameters == {"campaign": "spring", "tier": "gold"}
    assert VOBIZ.parse_media_start({"event": "media", "media": {"payload": ""}}) is None


async def test_media_serializer_speaks_plivos_protocol_without_auto_hang_up():
    serializer = VOBIZ.media_serializer(VOBIZ.parse_media_start(START), ACCOUNT)
    assert isinstance(serializer, PlivoFrameSerializer)
    assert json.loads(await serializer.serialize(InterruptionFrame())) == {
        "event": "clearAudio",
        "streamId": "b77e-stream",
    }
    played = json.loads(
        await serializer.serialize(OutputAudioRawFrame(b"\x00\x10" * 160, 8000, 1))
    )
    assert played["event"] == "playAudio" and played["streamId"] == "b77e-stream"
    assert played["media"]["contentType"] == "audio/x-mulaw"
    assert len(base64.b64decode(played["media"]["payload"])) == 160  # 20 ms of µ-law at 8 kHz
    with no_hang_up_attempts(PlivoFrameSerializer) as attempts:
        assert await serializer.serialize(EndFrame()) is None
        # The spy works: a serializer left on pipecat's default would have tried.
        armed = PlivoFrameSerializer("s", call_id=U, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)
        await armed.serialize(EndFrame())
    assert attempts == ["PlivoFrameSerializer"]
