"""One media socket per call, claimed in the store (SQLite and PostgreSQL): what a second socket,
a reconnect and another worker process may do, and whose close releases what."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from callwright.carriers import get_carrier
from callwright.carriers.base import MediaStart
from callwright.domain.call_tokens import TokenPurpose, call_token
from callwright.domain.providers import Provider
from callwright.platform import Platform
from callwright.services import media_events, media_sockets
from callwright.store.models import Call, utcnow
from tests.connection_rows import add_call


def _start(call_uuid: str, stream_id: str = "stream-1") -> MediaStart:
    return MediaStart(stream_id, call_uuid, {}, "audio/x-mulaw", 8000)


async def _claim(platform: Platform, call_id: str, start: MediaStart, socket_id: str) -> bool:
    return await media_events.media_started(platform=platform, call_id=call_id, start=start, socket_id=socket_id) is not None


async def _get(platform: Platform, call_id: str) -> Call:
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        assert call is not None
        return call


async def _ended(platform: Platform, call_id: str, socket_id: str) -> None:
    from callwright.voice.session import MediaOutcome

    now = utcnow()
    outcome = MediaOutcome(
        end_reason="caller_hung_up", started_at=now - timedelta(seconds=3), ended_at=now,
        first_agent_audio_at=None, intro_spoken=True,
    )
    await media_events.media_ended(platform=platform, call_id=call_id, outcome=outcome, socket_id=socket_id)


async def test_one_socket_carries_a_call_and_only_its_own_close_lets_go(platform, partner):
    call_id = await add_call(platform, partner.id, status="ringing", provider_call_id="vz-1")
    assert await _claim(platform, call_id, _start("vz-1"), "socket-a")
    assert not await _claim(platform, call_id, _start("vz-1", "stream-2"), "socket-b")
    await _ended(platform, call_id, "socket-b")  # a refused socket's end releases nothing
    await media_sockets.release(platform=platform, call_id=call_id, socket_id="socket-b")
    assert (await _get(platform, call_id)).media_socket_id == "socket-a"
    await _ended(platform, call_id, "socket-a")
    assert (await _get(platform, call_id)).media_socket_id is None


async def test_a_reconnect_is_the_same_carrier_call_once_the_first_socket_has_let_go(platform, partner):
    call_id = await add_call(platform, partner.id, status="ringing", provider_call_id="vz-2")
    assert await _claim(platform, call_id, _start("vz-2"), "socket-a")
    started = (await _get(platform, call_id)).media_started_at
    await _ended(platform, call_id, "socket-a")
    # Another carrier call's stream may not take the call over, even with the call's token.
    assert not await _claim(platform, call_id, _start("vz-someone-else", "stream-x"), "socket-x")
    # The carrier's fresh stream for the same call (Vobiz sends a new streamId) is taken on.
    assert await _claim(platform, call_id, _start("vz-2", "stream-2"), "socket-b")
    call = await _get(platform, call_id)
    assert (call.media_socket_id, call.provider_call_id, call.media_started_at) == ("socket-b", "vz-2", started)
    assert call.media_ended_at is None  # the new stream runs


async def test_a_stream_start_never_rewrites_the_carrier_id_but_confirms_a_provisional_one(platform, partner):
    plivo = await add_call(platform, partner.id, provider="plivo", status="ringing", provider_call_id="req-1")
    assert await _claim(platform, plivo, _start("pl-call-1"), "socket-a")  # Plivo: CallUUID replaces request_uuid
    call = await _get(platform, plivo)
    assert (call.provider_call_id, call.provider_call_id_final, call.status) == ("pl-call-1", True, "in_progress")
    await media_sockets.release(platform=platform, call_id=plivo, socket_id="socket-a")
    assert not await _claim(platform, plivo, _start("pl-call-2"), "socket-b")
    assert (await _get(platform, plivo)).provider_call_id == "pl-call-1"


async def test_no_socket_carries_a_call_that_is_over(platform, partner):
    call_id = await add_call(platform, partner.id, status="completed", provider_call_id="vz-3")
    assert not await _claim(platform, call_id, _start("vz-3"), "socket-a")
    assert (await _get(platform, call_id)).media_socket_id is None


async def test_the_claim_holds_across_worker_processes_on_one_store(platform, partner):
    call_id = await add_call(platform, partner.id, status="ringing", provider_call_id="vz-4")
    other = Platform.from_settings(platform.settings)
    try:
        assert await _claim(platform, call_id, _start("vz-4"), "socket-on-first")
        assert not await _claim(other, call_id, _start("vz-4", "stream-2"), "socket-on-second")
    finally:
        await other.close()


async def test_a_session_is_forgotten_only_by_its_own_socket(platform):
    first, second = object(), object()
    assert media_sockets.register(platform, "call-1", first)  # type: ignore[arg-type]
    assert not media_sockets.register(platform, "call-1", second)  # type: ignore[arg-type]
    media_sockets.unregister(platform, "call-1", second)  # type: ignore[arg-type]
    assert platform.media_sessions["call-1"] is first
    media_sockets.unregister(platform, "call-1", first)  # type: ignore[arg-type]
    assert "call-1" not in platform.media_sessions


class _Opening:
    """A media socket whose carrier sends ``messages`` (JSON text), then nothing."""

    def __init__(self, *messages: dict[str, object]) -> None:
        self._messages = [json.dumps(m) for m in messages]

    async def receive_text(self) -> str:
        return self._messages.pop(0)


def _vobiz_start(stream_id: str, call_uuid: str, extra_headers: str = "") -> dict[str, object]:
    start = {"callId": call_uuid, "streamId": stream_id, "mediaFormat": {"encoding": "audio/x-mulaw"}}
    return {"event": "start", "start": start, "extra_headers": extra_headers}


@pytest.mark.parametrize(
    "start",
    [
        _vobiz_start("stream\x00-1", "vz-9"),
        _vobiz_start("stream-1", "vz\x00-9"),
        _vobiz_start("stream-1", "vz-9", "x-note=a\x00b"),
    ],
    ids=["stream_id", "call_id", "custom_parameter"],
)
async def test_a_start_message_with_a_nul_is_refused_and_nothing_is_stored(platform, partner, start):
    # PostgreSQL refuses a NUL in text and JSON (a 500 and a socket left open); SQLite would store it.
    call_id = await add_call(platform, partner.id, status="ringing", provider_call_id="vz-9")
    call = await _get(platform, call_id)
    admission = media_sockets.Admission(
        call_id=call_id,
        call=call,
        carrier=get_carrier(Provider.VOBIZ),
        account=None,  # type: ignore[arg-type]  # the start is refused before the account is used
        url_token=call_token(platform.token_keys[0], call_id, TokenPurpose.MEDIA),
    )
    stream = await media_sockets.open_stream(
        platform=platform, websocket=_Opening(start), admission=admission  # type: ignore[arg-type]
    )
    assert stream is None
    after = await _get(platform, call_id)
    assert (after.media_socket_id, after.media_started_at, after.status) == (None, None, "ringing")


@pytest.mark.parametrize(
    ("end_reason", "status"), [("silence_timeout", "failed"), ("caller_hung_up", "failed"), ("transferred", "pending")]
)
async def test_a_cold_transfer_the_stream_never_handed_over_is_settled_failed(platform, partner, end_reason, status):
    """A transfer asked but not handed to the carrier before the stream ended (the call ended,
    or its stream moved) gets no dial report: it is settled ``failed``, not left pending. One the
    carrier took (the stream ended as the hand-off) waits for the carrier's report."""
    from callwright.domain.transfers import TransferSource, pending_record
    from callwright.voice.session import MediaOutcome

    asked = pending_record(to="+14155550100", source=TransferSource.API, requested_at="2026-12-07T00:00:00Z")
    call_id = await add_call(platform, partner.id, status="in_progress", provider_call_id="vz-9", transfer=asked)
    assert await _claim(platform, call_id, _start("vz-9"), "socket-a")
    now = utcnow()
    outcome = MediaOutcome(
        end_reason=end_reason, started_at=now - timedelta(seconds=9), ended_at=now,
        first_agent_audio_at=None, intro_spoken=True,
    )
    await media_events.media_ended(platform=platform, call_id=call_id, outcome=outcome, socket_id="socket-a")

    transfer = (await _get(platform, call_id)).transfer
    assert transfer["status"] == status, transfer
    if status == "failed":
        assert transfer["carrier_reason"] == media_events.ENDED_BEFORE_HANDOFF and transfer["completed_at"]
        assert transfer["carrier_status"] is None
