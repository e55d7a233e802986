"""Replayed and tampered carrier callbacks (issue 21 §2), through the real app and store.

Each request is what an attacker holding one captured callback could send: the same signature
headers with another body, a different carrier call id, a second answer request for the media
token. The signatures are computed the carriers' way (``callwright.sim.signing``, checked against
the official SDKs in tests/sim), so every genuine request here is byte for byte the carrier's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select, update

from callwright.api.app import create_app
from callwright.domain.call_tokens import TokenPurpose, call_token
from callwright.platform import Platform
from callwright.sim import signing
from callwright.store.models import Call, CallEventRow, utcnow
from tests.connection_rows import add_call, add_connection
from tests.redis_support import REDIS_URL, require_redis

VOBIZ_TOKEN = "vobiz-replay-token-0123"
PLIVO_TOKEN = "plivo-replay-token-4567"
TWILIO_TOKEN = "twilio-replay-token-89ab"
ACCOUNTS = {
    "vobiz": ({"auth_id": "MA_REPLAY01", "from_number": "+918011223344"}, {"auth_token": VOBIZ_TOKEN}),
    "plivo": ({"auth_id": "MAREPLAY000000000001", "from_number": "+14155550100"}, {"auth_token": PLIVO_TOKEN}),
    "twilio": (
        {"account_sid": "AC" + "ab" * 16, "from_number": "+14155550101"},
        {"auth_token": TWILIO_TOKEN},
    ),
    "exotel": (
        {"account_sid": "replay1", "subdomain": "api.in.exotel.com", "caller_id": "+918047112345"},
        {"api_key": "exo-key", "api_token": "exo-token"},
    ),
    "mcube": ({"exe_number": "9876500001"}, {"jwt_token": "mcube-jwt"}),
}


async def _call(platform: Platform, partner_id: str, provider: str, **fields) -> str:  # type: ignore[no-untyped-def]
    identifiers, secrets = ACCOUNTS[provider]
    connection = await add_connection(platform, partner_id, provider, identifiers, secrets)
    return await add_call(platform, partner_id, provider=provider, connection_id=connection, **fields)


def _path(platform: Platform, provider: str, call_id: str, kind: str) -> str:
    token = call_token(platform.token_keys[0], call_id, TokenPurpose.CALLBACK)
    return f"/telephony/{provider}/{call_id}/{kind}?{urlencode({'token': token})}"


def _url(platform: Platform, path: str) -> str:
    """The URL as the carrier requested it (our public URL), which is what it signs."""
    return platform.settings.public_url.rstrip("/") + path


def _vobiz_headers(platform: Platform, path: str) -> dict[str, str]:
    return signing.vobiz_headers(auth_token=VOBIZ_TOKEN, url=_url(platform, path))


def _plivo_headers(platform: Platform, path: str, form: Mapping[str, str]) -> dict[str, str]:
    return signing.plivo_headers(
        auth_token=PLIVO_TOKEN, method="POST", url=_url(platform, path), params=form, main_account=False
    )


def _twilio_headers(platform: Platform, path: str, form: Mapping[str, str]) -> dict[str, str]:
    return signing.twilio_headers(auth_token=TWILIO_TOKEN, url=_url(platform, path), params=form)


async def _get(platform: Platform, call_id: str) -> Call:
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        assert call is not None
        return call


async def _trail(platform: Platform, call_id: str) -> list[str]:
    async with platform.sessions() as session:
        rows = await session.scalars(
            select(CallEventRow.kind).where(CallEventRow.call_id == call_id).order_by(CallEventRow.created_at)
        )
        return list(rows)


def _reason(response: httpx.Response) -> str:
    return response.json()["error"]["reason"]


# --- nonces remembered ---------------------------------------------------------------------------


async def test_a_captured_vobiz_signature_authorises_nothing_a_second_time(client, platform, partner):
    call_id = await _call(platform, partner.id, "vobiz", status="ringing", provider_call_id="vz-uuid-1")
    path = _path(platform, "vobiz", call_id, "status")
    headers = _vobiz_headers(platform, path)
    ringing = {"CallUUID": "vz-uuid-1", "CallStatus": "in-progress", "Event": "StartApp"}
    first = await client.post(path, data=ringing, headers=headers)
    assert first.status_code == 200, first.text
    # Vobiz signs only the URL and the nonce: the captured headers fit any body for this URL.
    forced = [
        {"CallUUID": "vz-uuid-1", "Machine": "true", "Event": "MachineDetection", "CallStatus": "in-progress"},
        {"CallUUID": "vz-forged", "CallStatus": "in-progress"},
        {"CallUUID": "vz-uuid-1", "Event": "Hangup", "CallStatus": "busy", "HangupCause": "USER_BUSY"},
        ringing,
    ]
    for body in forced:
        replayed = await client.post(path, data=body, headers=headers)
        assert replayed.status_code == 403, body
        assert _reason(replayed) == "replayed_callback"
    # The V2 signature of the same request on its own is the same capture, and as spent.
    v2_only = {k: v for k, v in headers.items() if "V2" in k}
    replayed = await client.post(path, data=forced[2], headers=v2_only)
    assert (replayed.status_code, _reason(replayed)) == (403, "replayed_callback")
    call = await _get(platform, call_id)
    assert (call.status, call.provider_call_id, call.answered_by, call.disposition) == (
        "in_progress", "vz-uuid-1", None, None,
    )


async def test_a_replayed_plivo_callback_is_refused(client, platform, partner):
    call_id = await _call(platform, partner.id, "plivo", status="ringing", provider_call_id="req-1")
    path = _path(platform, "plivo", call_id, "status")
    form = {"CallUUID": "pl-call-1", "RequestUUID": "req-1", "CallStatus": "in-progress", "Event": "StartApp"}
    headers = _plivo_headers(platform, path, form)
    assert (await client.post(path, data=form, headers=headers)).status_code == 200
    again = await client.post(path, data=form, headers=headers)
    assert (again.status_code, _reason(again)) == (403, "replayed_callback")


async def test_nonces_are_remembered_by_every_process_on_the_store(client, platform, partner):
    """Two worker processes share the store: a nonce spent on one is spent on the other."""
    call_id = await _call(platform, partner.id, "vobiz", status="ringing", provider_call_id="vz-uuid-2")
    path = _path(platform, "vobiz", call_id, "status")
    headers = _vobiz_headers(platform, path)
    form = {"CallUUID": "vz-uuid-2", "CallStatus": "ringing", "Event": "Ring"}
    assert (await client.post(path, data=form, headers=headers)).status_code == 200
    other = Platform.from_settings(platform.settings)
    try:
        async with _client_of(other) as second:
            replayed = await second.post(path, data=form, headers=headers)
    finally:
        await other.close()
    assert (replayed.status_code, _reason(replayed)) == (403, "replayed_callback")


async def test_with_redis_nonces_are_remembered_cluster_wide(platform, partner):
    require_redis()
    import uuid

    shared = platform.settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_namespace": f"test-{uuid.uuid4().hex[:12]}"}
    )
    first, second = Platform.from_settings(shared), Platform.from_settings(shared)
    try:
        for each in (first, second):
            await each.control.start()
        call_id = await _call(first, partner.id, "vobiz", status="ringing", provider_call_id="vz-uuid-3")
        path = _path(first, "vobiz", call_id, "status")
        headers = _vobiz_headers(first, path)
        form = {"CallUUID": "vz-uuid-3", "CallStatus": "ringing", "Event": "Ring"}
        async with _client_of(first) as one, _client_of(second) as two:
            assert (await one.post(path, data=form, headers=headers)).status_code == 200
            replayed = await two.post(path, data=form, headers=headers)
        assert (replayed.status_code, _reason(replayed)) == (403, "replayed_callback")
        assert await first.control.redis.exists(f"{shared.redis_namespace}:callback-nonce:vobiz:" + headers["X-Vobiz-Signature-V3-Nonce"])
    finally:
        for each in (first, second):
            await each.close()


def _client_of(platform: Platform) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(platform=platform), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://callwright.test")


async def test_a_twilio_callback_signed_long_ago_is_refused(client, platform, partner):
    """Twilio has no nonce, but its status callbacks sign their own Timestamp."""
    call_id = await _call(platform, partner.id, "twilio", status="ringing", provider_call_id="CA" + "1" * 32)
    path = _path(platform, "twilio", call_id, "status")
    form = {
        "CallSid": "CA" + "1" * 32,
        "CallStatus": "busy",
        "Timestamp": format_datetime(utcnow() - timedelta(hours=2)),
        "SequenceNumber": "3",
    }
    stale = await client.post(path, data=form, headers=_twilio_headers(platform, path, form))
    assert (stale.status_code, _reason(stale)) == (403, "stale_callback")
    assert (await _get(platform, call_id)).status == "ringing"
    fresh = form | {"Timestamp": format_datetime(utcnow())}
    accepted = await client.post(path, data=fresh, headers=_twilio_headers(platform, path, fresh))
    assert accepted.status_code == 200
    assert (await _get(platform, call_id)).status == "busy"


# --- fields a callback may not change ------------------------------------------------------------


async def test_a_signed_callback_cannot_change_the_carrier_call_id(client, platform, partner):
    call_id = await _call(platform, partner.id, "vobiz", status="ringing", provider_call_id="vz-uuid-4")
    path = _path(platform, "vobiz", call_id, "status")
    form = {"CallUUID": "vz-other-call", "CallStatus": "completed", "Event": "Hangup", "Duration": "9"}
    refused = await client.post(path, data=form, headers=_vobiz_headers(platform, path))
    assert (refused.status_code, _reason(refused)) == (409, "carrier_call_id_mismatch")
    call = await _get(platform, call_id)
    assert (call.status, call.provider_call_id) == ("ringing", "vz-uuid-4")


async def test_plivos_dial_time_id_gives_way_to_the_call_uuid_once_then_never_again(client, platform, partner):
    call_id = await _call(platform, partner.id, "plivo", status="pending", provider_call_id="req-9")
    path = _path(platform, "plivo", call_id, "status")
    ring = {"CallUUID": "pl-call-9", "RequestUUID": "req-9", "CallStatus": "ringing", "Event": "Ring"}
    assert (await client.post(path, data=ring, headers=_plivo_headers(platform, path, ring))).status_code == 200
    assert (await _get(platform, call_id)).provider_call_id == "pl-call-9"
    other = ring | {"CallUUID": "pl-call-other", "CallStatus": "in-progress", "Event": "StartApp"}
    refused = await client.post(path, data=other, headers=_plivo_headers(platform, path, other))
    assert (refused.status_code, _reason(refused)) == (409, "carrier_call_id_mismatch")
    call = await _get(platform, call_id)
    assert (call.provider_call_id, call.status) == ("pl-call-9", "ringing")


async def test_the_carriers_verdict_on_who_answered_is_not_overturned(client, platform, partner):
    sid = "CA" + "2" * 32
    call_id = await _call(platform, partner.id, "twilio", status="in_progress", provider_call_id=sid)
    path = _path(platform, "twilio", call_id, "machine")
    human = {"CallSid": sid, "AnsweredBy": "human", "MachineDetectionDuration": "2100"}
    assert (await client.post(path, data=human, headers=_twilio_headers(platform, path, human))).status_code == 200
    machine = {"CallSid": sid, "AnsweredBy": "machine_end_beep", "MachineDetectionDuration": "4000"}
    await client.post(path, data=machine, headers=_twilio_headers(platform, path, machine))
    call = await _get(platform, call_id)
    assert (call.answered_by, call.disposition) == ("human", None)


# --- the answer document, served once ------------------------------------------------------------


async def test_the_answer_document_and_its_media_token_are_served_once(client, platform, partner):
    call_id = await _call(platform, partner.id, "vobiz", status="ringing", provider_call_id="vz-uuid-5")
    media_token = call_token(platform.token_keys[0], call_id, TokenPurpose.MEDIA)
    path = _path(platform, "vobiz", call_id, "answer")
    form = {"CallUUID": "vz-uuid-5", "CallStatus": "in-progress", "Event": "StartApp", "Direction": "outbound"}
    first = await client.post(path, data=form, headers=_vobiz_headers(platform, path))
    assert first.status_code == 200 and media_token in first.text
    # Vobiz re-requests an answer URL that failed (up to 3 times before its fallback URL): the same
    # call, with a fresh signature, gets the same document while its stream has not started.
    retry = await client.post(path, data=form, headers=_vobiz_headers(platform, path))
    assert retry.status_code == 200 and media_token in retry.text
    other = form | {"CallUUID": "vz-somebody-else"}
    stranger = await client.post(path, data=other, headers=_vobiz_headers(platform, path))
    assert stranger.status_code == 409 and media_token not in stranger.text
    async with platform.sessions() as session:  # the carrier's stream is up
        await session.execute(update(Call).where(Call.id == call_id).values(media_started_at=utcnow()))
        await session.commit()
    late = await client.post(path, data=form, headers=_vobiz_headers(platform, path))
    assert late.status_code == 409 and media_token not in late.text
    assert _reason(late) == "answer_already_served"


async def test_twilio_never_re_requests_the_answer_url_so_a_second_request_is_refused(client, platform, partner):
    sid = "CA" + "3" * 32
    call_id = await _call(platform, partner.id, "twilio", status="ringing", provider_call_id=sid)
    media_token = call_token(platform.token_keys[0], call_id, TokenPurpose.MEDIA)
    path = _path(platform, "twilio", call_id, "answer")
    form = {"CallSid": sid, "CallStatus": "in-progress", "Direction": "outbound-api"}
    headers = _twilio_headers(platform, path, form)
    first = await client.post(path, data=form, headers=headers)
    assert first.status_code == 200 and media_token in first.text
    replayed = await client.post(path, data=form, headers=headers)
    assert replayed.status_code == 409 and media_token not in replayed.text


# --- carriers that sign nothing: Exotel and MCube ------------------------------------------------


async def test_exotels_answer_url_needs_the_call_sid_and_answers_once(client, platform, partner):
    call_id = await _call(platform, partner.id, "exotel", status="ringing", provider_call_id="exo-sid-1")
    media_token = call_token(platform.token_keys[0], call_id, TokenPurpose.MEDIA)
    path = _path(platform, "exotel", call_id, "answer")
    nameless = await client.get(path)
    assert nameless.status_code in (403, 409) and media_token not in nameless.text
    wrong = await client.get(path + "&" + urlencode({"CallSid": "exo-sid-x"}))
    assert wrong.status_code == 409 and media_token not in wrong.text
    right = await client.get(path + "&" + urlencode({"CallSid": "exo-sid-1", "CallStatus": "in-progress"}))
    assert right.status_code == 200 and media_token in right.text
    again = await client.get(path + "&" + urlencode({"CallSid": "exo-sid-1", "CallStatus": "in-progress"}))
    assert again.status_code == 409 and media_token not in again.text


async def test_exotel_status_callbacks_cannot_end_another_call_or_move_backwards(client, platform, partner):
    call_id = await _call(platform, partner.id, "exotel", status="in_progress", provider_call_id="exo-sid-2")
    path = _path(platform, "exotel", call_id, "status")
    forged = await client.post(path, data={"CallSid": "exo-sid-forged", "Status": "completed"})
    assert (forged.status_code, _reason(forged)) == (409, "carrier_call_id_mismatch")
    nameless = await client.post(path, data={"Status": "busy"})
    assert (nameless.status_code, _reason(nameless)) == (403, "carrier_call_id_missing")
    backwards = await client.post(path, data={"CallSid": "exo-sid-2", "Status": "ringing"})
    assert backwards.status_code == 200
    assert (await _get(platform, call_id)).status == "in_progress"
    ended = await client.post(path, data={"CallSid": "exo-sid-2", "Status": "completed", "ConversationDuration": "7"})
    assert ended.status_code == 200
    assert (await _get(platform, call_id)).status == "completed"


async def test_mcube_hangup_needs_the_call_id_mcube_first_reported(client, platform, partner):
    # MCube's dial answer may name no call: our own id stands in until the first webhook.
    call_id = await _call(platform, partner.id, "mcube", status="pending")
    async with platform.sessions() as session:
        await session.execute(update(Call).where(Call.id == call_id).values(provider_call_id=call_id))
        await session.commit()
    path = _path(platform, "mcube", call_id, "status")
    answered = {"callid": "mc-777", "dialstatus": "ANSWER", "starttime": "2026-01-01 10:00:00"}
    assert (await client.post(path, json=answered)).status_code == 200
    assert (await _get(platform, call_id)).provider_call_id == "mc-777"
    forged = answered | {"callid": "mc-999", "endtime": "2026-01-01 10:01:00", "dialstatus": "CANCEL"}
    refused = await client.post(path, json=forged)
    assert (refused.status_code, _reason(refused)) == (409, "carrier_call_id_mismatch")
    assert (await _get(platform, call_id)).status == "in_progress"


# --- malformed bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"callid": "mc-1", '),
        ("application/json", b"[1, 2, 3]"),
        ("application/json", b"\xff\xfe not utf-8"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: broken\r\n\r\n"),
    ],
    ids=["truncated-json", "json-array", "not-utf8", "broken-multipart"],
)
async def test_a_malformed_callback_body_answers_400(client, platform, partner, content_type, body):
    call_id = await _call(platform, partner.id, "mcube", status="pending", provider_call_id="mc-1")
    path = _path(platform, "mcube", call_id, "status")
    response = await client.post(path, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]
    assert (await _get(platform, call_id)).status == "pending"
    assert "ignored" not in await _trail(platform, call_id)
