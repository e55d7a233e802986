"""Exotel's call path against doc-shaped fixtures (carriers.md §4; no SDK oracle exists, §7).

The fixtures follow developer.exotel.com's AgentStream and StatusCallback pages; they are not
verified against live traffic.
"""

from __future__ import annotations

import base64
import dataclasses
import json

import httpx
import pytest
from pipecat.frames.frames import EndFrame, InterruptionFrame, OutputAudioRawFrame
from pipecat.serializers.exotel import ExotelFrameSerializer

from callwright.carriers import get_carrier
from callwright.carriers.base import (
    CallbackKind,
    CarrierAuthFailed,
    CarrierUnavailable,
    NotSupported,
)
from callwright.domain.calls import CallStatus, EventKind
from callwright.domain.providers import Provider
from tests.carriers.call_path_support import (
    AT,
    CALL_ID,
    ENDPOINTS,
    TOKEN,
    account,
    answering,
    dial_request,
    no_hang_up_attempts,
)

EXOTEL = get_carrier(Provider.EXOTEL)
SID = "callwright1"
ACCOUNT = account(
    {"account_sid": SID, "subdomain": "api.in.exotel.com", "caller_id": "08047361234"},
    {"api_key": "exo-key-1234", "api_token": "exo-token-5678"},
)
STREAM_URL = f"wss://cw.example.com/media/exotel/{CALL_ID}?call_id={CALL_ID}&token={TOKEN}"
CALL_SID = "b6cfa0c81e1c4a7a9b1d3c2e5f60184f"


def exotel_dial(**extra):  # type: ignore[no-untyped-def]
    return dial_request(
        "exotel", to="+919876543210", src="08047361234", stream_url=STREAM_URL, **extra
    )


@pytest.mark.parametrize(
    "answer",
    [{"Call": {"Sid": CALL_SID, "Status": "queued"}}, {"call": {"sid": CALL_SID, "status": "queued"}}],
    ids=["classic-shape", "voice-ai-shape"],
)
async def test_place_call_is_a_connect_voice_ai_request(answer):
    dial = exotel_dial(time_limit_secs=20000)
    carrier = answering(httpx.Response(200, json=answer))
    async with carrier.client() as http:
        placed = await EXOTEL.place_call(dial, ACCOUNT, http=http, endpoints=ENDPOINTS)
    [sent] = carrier.sent
    assert (sent.method, sent.url) == (
        "POST",
        f"https://api.in.exotel.com/v1/Accounts/{SID}/Calls/connect.json",
    )
    assert sent.basic_auth == ("exo-key-1234", "exo-token-5678")
    form = sent.form()
    fields = dict(form)
    # From is the customer Exotel dials; CallerId is the ExoPhone they see (§4.3).
    assert (fields["From"], fields["CallerId"]) == ("+919876543210", "08047361234")
    assert fields["StreamUrl"] == STREAM_URL  # already complete: used as given
    assert fields["StreamType"] == "bidirectional"
    assert fields["StatusCallback"] == dial.status_url
    assert [v for k, v in form if k == "StatusCallbackEvents[]"] == ["ringing", "answered", "terminal"]
    assert fields["TimeLimit"] == "14400"  # Exotel's maximum
    assert placed.provider_call_id == CALL_SID


async def test_configured_api_url_replaces_the_regional_host():
    carrier = answering(httpx.Response(200, json={"Call": {"Sid": CALL_SID}}))
    simulated = dataclasses.replace(ENDPOINTS, exotel="http://127.0.0.1:9/exotel/")
    async with carrier.client() as http:
        await EXOTEL.place_call(exotel_dial(), ACCOUNT, http=http, endpoints=simulated)
    assert carrier.sent[0].url == f"http://127.0.0.1:9/exotel/v1/Accounts/{SID}/Calls/connect.json"
    assert "TimeLimit" not in dict(carrier.sent[0].form())


async def test_answer_without_a_call_sid_is_not_retried():
    carrier = answering(httpx.Response(200, json={"Call": {}}))
    async with carrier.client() as http:
        with pytest.raises(CarrierUnavailable) as failure:
            await EXOTEL.place_call(exotel_dial(), ACCOUNT, http=http, endpoints=ENDPOINTS)
    assert not failure.value.retryable


async def test_ip_not_whitelisted_403_is_auth_failed():
    refusal = {"RestException": {"Status": 403, "Message": "Forbidden"}}
    carrier = answering(httpx.Response(403, json=refusal))
    async with carrier.client() as http:
        with pytest.raises(CarrierAuthFailed, match="whitelisted"):
            await EXOTEL.place_call(exotel_dial(), ACCOUNT, http=http, endpoints=ENDPOINTS)


async def test_rest_exception_message_reaches_the_error():
    refusal = {"RestException": {"Status": 400, "Message": "From number is not valid", "Code": 1001}}
    carrier = answering(httpx.Response(400, json=refusal))
    async with carrier.client() as http:
        with pytest.raises(Exception, match="From number is not valid"):
            await EXOTEL.place_call(exotel_dial(), ACCOUNT, http=http, endpoints=ENDPOINTS)


async def test_hangup_is_not_supported_and_sends_nothing():
    carrier = answering(httpx.Response(200))
    async with carrier.client() as http:
        with pytest.raises(NotSupported):
            await EXOTEL.hangup(CALL_SID, ACCOUNT, http=http, endpoints=ENDPOINTS)
    assert carrier.sent == []
    assert not EXOTEL.signs_callbacks


def test_what_the_platform_reads_off_the_adapter():
    assert EXOTEL.caller_id_field == "caller_id"  # the ExoPhone shown to the customer
    assert not EXOTEL.supports_machine_detection  # beta, not for Connect Voice AI (§4.7)
    assert EXOTEL.media_packet_bytes == 3200  # ≥ 3.2 KB, multiples of 320 B (§4.5)


def test_answer_document_is_the_voicebot_dynamic_url():
    stream_url = f"wss://cw.example.com/media/exotel/{CALL_ID}"
    document = EXOTEL.answer_document(
        stream_url=stream_url, parameters={"call_id": CALL_ID, "token": "a b&c"}
    )
    assert document.media_type == "application/json"
    assert json.loads(document.body) == {"url": f"{stream_url}?call_id={CALL_ID}&token=a+b%26c"}


# --- callbacks ------------------------------------------------------------------------------------


def events(**params: object) -> list[tuple]:
    return [
        (e.kind, e.outcome, e.duration_seconds, e.provider_call_id)
        for e in EXOTEL.parse_callback(
            CallbackKind.STATUS, {"CallSid": CALL_SID, **params}, received_at=AT
        )
    ]


def just(kind: EventKind) -> list[tuple]:
    return [(kind, None, None, CALL_SID)]


def ended(outcome: CallStatus, secs: int | None = None) -> list[tuple]:
    return [(EventKind.ENDED, outcome, secs, CALL_SID)]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"Status": "queued"}, just(EventKind.DIALED)),
        ({"Status": "ringing", "EventType": "ringing"}, just(EventKind.RINGING)),
        ({"Status": "in-progress", "EventType": "answered"}, just(EventKind.ANSWERED)),
        ({"EventType": "answered"}, just(EventKind.ANSWERED)),
        (
            {"Status": "completed", "EventType": "terminal", "ConversationDuration": "73"},
            ended(CallStatus.COMPLETED, 73),
        ),
        ({"Status": "failed", "EventType": "terminal"}, ended(CallStatus.FAILED)),
        ({"Status": "busy"}, ended(CallStatus.BUSY)),
        ({"Status": "no-answer", "ConversationDuration": "0"}, ended(CallStatus.NO_ANSWER, 0)),
        (
            {"Status": "completed", "Legs": [{"OnCallDuration": 12, "Status": "completed"}]},
            ended(CallStatus.COMPLETED, 12),
        ),
        (
            {"Status": "completed", "Legs": json.dumps([{"OnCallDuration": "9"}])},
            ended(CallStatus.COMPLETED, 9),
        ),
        ({"Status": "completed", "Legs": "garbled"}, ended(CallStatus.COMPLETED)),
        ({"Status": "transferred", "EventType": "terminal"}, []),
        ({}, []),
    ],
    ids=["queued", "ringing", "answered", "answered-no-status", "completed", "failed", "busy",
         "no-answer", "legs-list", "legs-json", "legs-garbled", "unknown", "empty"],
)
def test_status_callbacks_become_domain_events(params, expected):
    assert events(**params) == expected


# --- media ----------------------------------------------------------------------------------------

START = {
    "event": "start",
    "sequence_number": 1,
    "stream_sid": "e6ae8a3d5e4b4a0b",
    "start": {
        "stream_sid": "e6ae8a3d5e4b4a0b",
        "call_sid": CALL_SID,
        "account_sid": SID,
        "from": "+919876543210",
        "to": "08047361234",
        "custom_parameters": {"call_id": CALL_ID, "token": TOKEN},
        "media_format": {"encoding": "audio/x-raw", "sample_rate": "16000", "bit_rate": "16"},
    },
}


async def test_media_start_and_serializer():
    start = EXOTEL.parse_media_start(START)
    assert (start.stream_id, start.provider_call_id) == ("e6ae8a3d5e4b4a0b", CALL_SID)
    assert (start.encoding, start.sample_rate) == ("audio/x-raw", 16000)  # "16000" was a string
    assert start.custom_parameters == {"call_id": CALL_ID, "token": TOKEN}
    assert EXOTEL.parse_media_start({"event": "connected"}) is None
    assert EXOTEL.parse_media_start({"event": "start", "start": {"stream_sid": "x"}}) is None

    serializer = EXOTEL.media_serializer(start, ACCOUNT)
    assert isinstance(serializer, ExotelFrameSerializer)
    assert json.loads(await serializer.serialize(InterruptionFrame())) == {
        "event": "clear",
        "stream_sid": "e6ae8a3d5e4b4a0b",
        "streamSid": "e6ae8a3d5e4b4a0b",  # Exotel's reference bots' spelling, sent as well
    }
    pcm = b"\x01\x02" * 1600  # 100 ms at 16 kHz, already Exotel's rate: passed through as is
    media = json.loads(await serializer.serialize(OutputAudioRawFrame(pcm, 16000, 1)))
    assert (media["event"], media["stream_sid"]) == ("media", "e6ae8a3d5e4b4a0b")
    assert base64.b64decode(media["media"]["payload"]) == pcm
    with no_hang_up_attempts(ExotelFrameSerializer):
        assert await serializer.serialize(EndFrame()) is None


def test_unknown_stream_encoding_is_refused_plainly():
    # µ-law is carried now (tests/carriers/fidelity); an encoding we do not know is refused by name.
    start = EXOTEL.parse_media_start(
        {**START, "start": {**START["start"], "media_format": {"encoding": "audio/opus"}}}
    )
    with pytest.raises(NotSupported, match="audio/opus"):
        EXOTEL.media_serializer(start, ACCOUNT)
