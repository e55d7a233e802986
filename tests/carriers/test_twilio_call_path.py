"""Twilio's call path against the official twilio SDK as the oracle (carriers.md §3, §7)."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from typing import Any

import httpx
import pytest
from pipecat.frames.frames import EndFrame, InterruptionFrame, OutputAudioRawFrame
from pipecat.serializers.twilio import TwilioFrameSerializer
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.api.v2010.account.call import CallInstance
from twilio.twiml.voice_response import Connect, VoiceResponse

from callwright.carriers import get_carrier
from callwright.carriers.base import CallbackKind, CarrierRejected
from callwright.carriers.twilio import speaks_after_beep
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
)

TWILIO = get_carrier(Provider.TWILIO)
SID = "AC" + "0123456789abcdef" * 2
CALL_SID = "CA" + "f" * 32
ACCOUNT = account({"account_sid": SID, "from_number": "+14155550100"}, {"auth_token": AUTH_TOKEN})
CALLS_URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Calls"


class CapturingHttpClient(TwilioHttpClient):
    """The SDK's HTTP seam: records each request and answers with a Call resource."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def request(  # type: ignore[no-untyped-def, override]
        self, method, url, params=None, data=None, headers=None, auth=None, **_
    ):
        self.sent.append({"method": method, "url": url, "data": data, "auth": auth})
        return TwilioResponse(201, json.dumps({"sid": CALL_SID, "status": "queued"}))


def sdk() -> tuple[Client, CapturingHttpClient]:
    http_client = CapturingHttpClient()
    return Client(SID, AUTH_TOKEN, http_client=http_client), http_client


def as_lists(pairs) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    grouped: dict[str, list[str]] = defaultdict(list)
    for key, value in pairs:
        grouped[key].extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return dict(grouped)


@pytest.mark.parametrize("with_amd", [False, True], ids=["plain", "amd"])
async def test_place_call_sends_what_the_sdk_sends(with_amd):
    extra = {"machine_detection_url": amd_url("twilio")} if with_amd else {}
    dial = dial_request("twilio", time_limit_secs=300, **extra)
    carrier = answering(httpx.Response(201, json={"sid": CALL_SID, "status": "queued"}))
    async with carrier.client() as http:
        placed = await TWILIO.place_call(dial, ACCOUNT, http=http, endpoints=ENDPOINTS)

    client, captured = sdk()
    amd = dict(
        machine_detection="DetectMessageEnd",
        async_amd="true",
        async_amd_status_callback=dial.machine_detection_url,
        async_amd_status_callback_method="POST",
    )
    client.calls.create(
        to=dial.to_number,
        from_=dial.from_number,
        url=dial.answer_url,
        method="POST",
        status_callback=dial.status_url,
        status_callback_method="POST",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        timeout=dial.ring_timeout_secs,
        time_limit=300,
        **(amd if with_amd else {}),
    )
    ours, theirs = carrier.sent[0], captured.sent[0]
    assert (ours.method, ours.url) == (theirs["method"], theirs["url"]) == ("POST", f"{CALLS_URL}.json")
    assert ours.basic_auth == theirs["auth"] == (SID, AUTH_TOKEN)
    assert ours.headers["content-type"] == "application/x-www-form-urlencoded"
    assert as_lists(ours.form()) == as_lists(theirs["data"].items())
    assert placed.provider_call_id == CALL_SID


async def test_twilio_error_message_and_code_reach_the_error():
    refusal = {"code": 21211, "message": "Invalid 'To' Phone Number: +1415555", "status": 400}
    carrier = answering(httpx.Response(400, json=refusal))
    async with carrier.client() as http:
        with pytest.raises(CarrierRejected) as failure:
            await TWILIO.place_call(dial_request("twilio"), ACCOUNT, http=http, endpoints=ENDPOINTS)
    assert "Invalid 'To' Phone Number" in failure.value.message
    assert "21211" in failure.value.message
    assert AUTH_TOKEN not in failure.value.message


@pytest.mark.parametrize(
    ("answers", "statuses_sent"),
    [
        ([(200, "completed")], ["completed"]),
        # "completed will attempt to hang up a call even if it's already in progress": one
        # update ends a ringing or queued call too; nothing more is sent.
        ([(200, "ringing")], ["completed"]),
        ([(200, "queued")], ["completed"]),
        ([(404, None)], ["completed"]),
    ],
    ids=["live", "ringing", "queued", "gone-20404"],
)
async def test_hangup_is_one_completed_update_like_the_sdk(answers, statuses_sent):
    responses = [
        httpx.Response(code, json={"sid": CALL_SID, "status": status} if status else
                       {"code": 20404, "message": "The requested resource was not found", "status": 404})
        for code, status in answers
    ]
    carrier = answering(*responses)
    async with carrier.client() as http:
        await TWILIO.hangup(CALL_SID, ACCOUNT, http=http, endpoints=ENDPOINTS)
    client, captured = sdk()
    client.calls(CALL_SID).update(status=CallInstance.UpdateStatus.COMPLETED)
    theirs = captured.sent[0]
    assert [dict(s.form())["Status"] for s in carrier.sent] == statuses_sent
    for ours in carrier.sent:
        assert (ours.method, ours.url) == (theirs["method"], theirs["url"])
        assert ours.basic_auth == theirs["auth"]
    assert statuses_sent[0] == theirs["data"]["Status"]


# --- TwiML ----------------------------------------------------------------------------------------


def test_answer_document_is_the_sdks_connect_stream_with_parameters():
    stream_url = f"wss://cw.example.com/media/twilio/{CALL_ID}"
    document = TWILIO.answer_document(
        stream_url=stream_url, parameters={"call_id": CALL_ID, "token": 'a&b"<c'}
    )
    response, connect = VoiceResponse(), Connect()
    stream = connect.stream(url=stream_url)
    stream.parameter(name="call_id", value=CALL_ID)
    stream.parameter(name="token", value='a&b"<c')
    response.append(connect)
    assert document.media_type == "text/xml"
    assert element_tree(document.body) == element_tree(str(response))
    assert "?" not in element_tree(document.body)[3][0][3][0][1]["url"]


# --- signatures -----------------------------------------------------------------------------------

STATUS_URL = f"{PUBLIC}/telephony/twilio/{CALL_ID}/status?token={TOKEN}"
PARAMS = {
    "CallSid": CALL_SID,
    "AccountSid": SID,
    "CallStatus": "completed",
    "CallDuration": "42",
    "From": "+14155550100",
    "To": "+14155550111",
}


def accepts(signature: str | None, *, url: str = STATUS_URL, params: dict | None = None) -> bool:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return TWILIO.validate_signature(
        method="POST", url=url, params=PARAMS if params is None else params, headers=headers,
        account=ACCOUNT,
    )


def signed(url: str = STATUS_URL, params: dict | None = None, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, PARAMS if params is None else params)


def test_sdk_signature_is_accepted_also_across_the_default_port():
    assert TWILIO.signs_callbacks
    assert accepts(signed())
    with_port = STATUS_URL.replace("cw.example.com", "cw.example.com:443")
    assert accepts(signed(with_port))  # Twilio signed with the port, we see none
    assert accepts(signed(), url=with_port)  # and the other way round
    assert accepts(signed(params={}), params={})


def test_our_signature_passes_the_sdks_validator():
    from callwright.carriers.twilio import callback_signature

    ours = callback_signature(AUTH_TOKEN, STATUS_URL, PARAMS)
    assert RequestValidator(AUTH_TOKEN).validate(STATUS_URL, PARAMS, ours)


@pytest.mark.parametrize(
    ("signature", "url", "params"),
    [
        (signed(), STATUS_URL, {**PARAMS, "CallStatus": "busy"}),
        (signed(), STATUS_URL, {**PARAMS, "AnsweredBy": "human"}),
        (signed(), STATUS_URL.replace("/status", "/answer"), PARAMS),
        (signed(), STATUS_URL.replace(CALL_ID, "call_other"), PARAMS),
        (signed(), STATUS_URL.replace(TOKEN, "other-token"), PARAMS),
        (signed(token="someone-elses-token"), STATUS_URL, PARAMS),
        (None, STATUS_URL, PARAMS),
    ],
    ids=["tampered-param", "extra-param", "other-url", "replayed-other-call", "other-query",
         "wrong-token", "missing-header"],
)
def test_bad_signatures_are_refused(signature, url, params):
    assert not accepts(signature, url=url, params=params)


# --- callbacks ------------------------------------------------------------------------------------


def events(kind: CallbackKind, **params: str) -> list[tuple]:
    return [
        (e.kind, e.outcome, e.hangup_cause, e.duration_seconds, e.provider_call_id)
        for e in TWILIO.parse_callback(kind, {"CallSid": CALL_SID, **params}, received_at=AT)
    ]


def ended(outcome: CallStatus, cause: str | None = None, secs: int | None = None) -> tuple:
    return (EventKind.ENDED, outcome, cause, secs, CALL_SID)


def simple(kind: EventKind) -> tuple:
    return (kind, None, None, None, CALL_SID)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"CallStatus": "queued"}, [simple(EventKind.DIALED)]),
        ({"CallStatus": "initiated"}, [simple(EventKind.DIALED)]),
        ({"CallStatus": "ringing"}, [simple(EventKind.RINGING)]),
        ({"CallStatus": "in-progress"}, [simple(EventKind.ANSWERED)]),
        (
            {"CallStatus": "completed", "CallDuration": "42", "SipResponseCode": "200"},
            [ended(CallStatus.COMPLETED, "completed", 42)],
        ),
        (
            {"CallStatus": "busy", "CallDuration": "0", "SipResponseCode": "486"},
            [ended(CallStatus.BUSY, "busy (SIP 486)", 0)],
        ),
        ({"CallStatus": "failed", "SipResponseCode": "404"}, [ended(CallStatus.FAILED, "failed (SIP 404)")]),
        ({"CallStatus": "no-answer", "SipResponseCode": "487"}, [ended(CallStatus.NO_ANSWER, "no-answer (SIP 487)")]),
        ({"CallStatus": "canceled"}, [ended(CallStatus.CANCELED, "canceled")]),
        ({"CallStatus": "on-hold"}, []),
        ({}, []),
    ],
    ids=["queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed",
         "no-answer", "canceled", "unknown", "empty"],
)
def test_status_callbacks_become_domain_events(params, expected):
    assert events(CallbackKind.STATUS, **params) == expected


def test_every_status_the_sdk_knows_is_mapped():
    statuses = [v for k, v in vars(CallInstance.Status).items() if not k.startswith("_")]
    assert len(statuses) == 8
    for status in statuses:
        assert events(CallbackKind.STATUS, CallStatus=status), status


@pytest.mark.parametrize(
    ("answered_by", "expected"),
    [
        ("human", [simple(EventKind.HUMAN_DETECTED)]),
        ("machine_start", [simple(EventKind.MACHINE_DETECTED)]),
        ("machine_end_beep", [simple(EventKind.MACHINE_DETECTED)]),
        ("machine_end_silence", [simple(EventKind.MACHINE_DETECTED)]),
        ("machine_end_other", [simple(EventKind.MACHINE_DETECTED)]),
        ("fax", [simple(EventKind.MACHINE_DETECTED)]),
        ("unknown", []),
    ],
)
def test_amd_callbacks(answered_by, expected):
    params = {"AnsweredBy": answered_by, "MachineDetectionDuration": "3120"}
    assert events(CallbackKind.MACHINE, **params) == expected


def test_synchronous_amd_on_the_answer_request_follows_the_answer():
    assert events(CallbackKind.ANSWER, CallStatus="in-progress", AnsweredBy="machine_start") == [
        simple(EventKind.ANSWERED),
        simple(EventKind.MACHINE_DETECTED),
    ]


def test_only_the_beep_lets_a_voicemail_message_be_spoken():
    assert speaks_after_beep("machine_end_beep")
    others = ("human", "machine_start", "machine_end_silence", "machine_end_other", "fax", "unknown")
    for other in (*others, ""):
        assert not speaks_after_beep(other)


def test_voicemail_message_window_opens_only_on_the_beep():
    assert TWILIO.supports_machine_detection
    assert TWILIO.message_window_open({"CallSid": CALL_SID, "AnsweredBy": "machine_end_beep"})
    assert not TWILIO.message_window_open({"CallSid": CALL_SID, "AnsweredBy": "machine_start"})
    assert not TWILIO.message_window_open({"CallSid": CALL_SID})


def test_duplicate_and_unknown_fields_are_harmless():
    params = {"CallStatus": "completed", "CallDuration": "x", "CallbackSource": "call-progress-events"}
    assert events(CallbackKind.STATUS, **params) == events(CallbackKind.STATUS, **params) == [
        ended(CallStatus.COMPLETED, "completed")
    ]


# --- media ----------------------------------------------------------------------------------------

START = {
    "event": "start",
    "sequenceNumber": "1",
    "streamSid": "MZ" + "1" * 32,
    "start": {
        "accountSid": SID,
        "streamSid": "MZ" + "1" * 32,
        "callSid": CALL_SID,
        "tracks": ["inbound"],
        "customParameters": {"call_id": CALL_ID, "token": TOKEN},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    },
}


async def test_media_start_and_serializer():
    start = TWILIO.parse_media_start(START)
    assert (start.stream_id, start.provider_call_id) == ("MZ" + "1" * 32, CALL_SID)
    assert start.custom_parameters == {"call_id": CALL_ID, "token": TOKEN}
    assert (start.encoding, start.sample_rate) == ("audio/x-mulaw", 8000)
    assert TWILIO.parse_media_start({"event": "connected", "protocol": "Call"}) is None
    assert TWILIO.parse_media_start({"event": "start", "start": {"accountSid": SID}}) is None

    serializer = TWILIO.media_serializer(start, ACCOUNT)
    assert isinstance(serializer, TwilioFrameSerializer)
    assert json.loads(await serializer.serialize(InterruptionFrame())) == {
        "event": "clear",
        "streamSid": start.stream_id,
    }
    media = json.loads(await serializer.serialize(OutputAudioRawFrame(b"\x00\x10" * 160, 8000, 1)))
    assert (media["event"], media["streamSid"]) == ("media", start.stream_id)
    assert len(base64.b64decode(media["media"]["payload"])) == 160
    with no_hang_up_attempts(TwilioFrameSerializer) as attempts:
        assert await serializer.serialize(EndFrame()) is None
        armed = TwilioFrameSerializer("MZ1", call_sid=CALL_SID, account_sid=SID, auth_token=AUTH_TOKEN)
        await armed.serialize(EndFrame())
    assert attempts == ["TwilioFrameSerializer"]
