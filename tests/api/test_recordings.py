"""Recording URLs: the partner mints a signed one; the platform serves the WAV to whoever holds
it until it expires. Recordings are made by the real recorder and kept by the real storage
(local here; S3 against a real S3 server on loopback)."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest

from callwright.api.app import create_app
from callwright.domain.recording_urls import recording_signature
from callwright.platform import Platform
from callwright.services.recordings import recording_key, save_recording, signed_recording_url
from callwright.store.models import Call
from callwright.voice.recorder import CallRecorder
from tests.conftest import error_of, make_partner
from tests.connection_rows import add_connection
from tests.s3_server import S3Server, running_s3_server

VOBIZ_IDS = {"auth_id": "MA_XXXXXXXX", "from_number": "+918011223344"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


_agents: dict[tuple[str, bool], str] = {}  # (partner id, enable_recording) → agent id


async def _call(client, platform, partner, *, enable_recording: bool = True) -> str:
    """A call (pending: nothing dials in these tests) by an agent that records, or not."""
    if not any(partner_id == partner.id for partner_id, _ in _agents):
        await add_connection(platform, partner.id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    if (partner.id, enable_recording) not in _agents:
        agent = await client.post(
            "/api/v2/agent",
            json={"agent_name": f"Recorder {enable_recording}", "enable_recording": enable_recording},
            headers=partner.headers,
        )
        assert agent.status_code == 201, agent.text
        _agents[partner.id, enable_recording] = agent.json()["data"]["id"]
    started = await client.post(
        "/api/v2/calls/start",
        json={"agent_id": _agents[partner.id, enable_recording], "to_number": "+919876543210", "provider": "vobiz"},
        headers=partner.headers,
    )
    assert started.status_code == 200, started.text
    return started.json()["data"]["call_id"]


async def _record(platform: Platform, call_id: str) -> str:
    """Record two seconds (the caller speaks, then the agent answers) and keep the recording,
    as the media route does when the call's stream ends; returns the URL stored on the call."""
    clock = Clock()
    recorder = CallRecorder(platform.settings.var_dir / "work", clock=clock)
    voice = (np.sin(np.arange(160) / 4) * 6000).astype("<i2").tobytes()
    for k in range(100):
        clock.now = k * 0.02
        recorder.caller_audio(voice if k < 40 else bytes(320))
        if k >= 60:
            recorder.agent_audio(voice)
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        url = await save_recording(platform=platform, call=call, recorder=recorder)
        assert url is not None
        call.recording_url = url
        await session.commit()
    return url


def _local(url: str) -> str:
    """The path and query of a platform URL, for the in-process client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _minted(client, partner, call_id) -> dict:
    response = await client.get(f"/api/v2/calls/{call_id}/recording-url", headers=partner.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _stereo(content: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)


async def test_the_partner_mints_a_signed_url_that_downloads_the_wav(client, platform, partner):
    call_id = await _call(client, platform, partner)
    stored_url = await _record(platform, call_id)

    call = (await client.get(f"/api/v2/calls/{call_id}", headers=partner.headers)).json()["data"]
    assert stored_url.startswith(f"http://127.0.0.1:8080/recordings/{call_id}.wav?expires=")
    # Every read of the call shows a freshly signed URL, so the one a partner sees never expired.
    assert call["recording_url"].startswith(f"http://127.0.0.1:8080/recordings/{call_id}.wav?expires=")
    shown_expiry = int(parse_qs(urlsplit(call["recording_url"]).query)["expires"][0])
    assert shown_expiry >= time.time() + 7 * 24 * 3600 - 60

    minted = await _minted(client, partner, call_id)
    assert set(minted) == {"call_id", "recording_url", "expires_at"}
    assert minted["call_id"] == call_id
    expires = int(parse_qs(urlsplit(minted["recording_url"]).query)["expires"][0])
    assert abs(expires - (time.time() + 7 * 24 * 3600)) < 60, "recording URLs live 7 days"
    assert minted["expires_at"] == datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    for url in (stored_url, minted["recording_url"]):
        response = await client.get(_local(url))  # no API key: the signature is the credential
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "audio/wav"
        assert response.headers["accept-ranges"] == "bytes"
        frames = _stereo(response.content)
        assert len(frames) == 16000
        assert np.abs(frames[:6400, 0]).max() > 5000 and not frames[6400:, 0].any(), "caller, left"
        assert not frames[:9600, 1].any() and np.abs(frames[9600:, 1]).max() > 5000, "agent, right"


async def test_a_byte_range_is_served_as_partial_content(client, platform, partner):
    call_id = await _call(client, platform, partner)
    url = _local(await _record(platform, call_id))
    whole = (await client.get(url)).content

    head = await client.get(url, headers={"Range": "bytes=0-43"})
    assert head.status_code == 206
    assert head.content == whole[:44] and head.content.startswith(b"RIFF")
    assert head.headers["content-range"] == f"bytes 0-43/{len(whole)}"
    tail = await client.get(url, headers={"Range": "bytes=-100"})
    assert (tail.status_code, tail.content) == (206, whole[-100:])
    past = await client.get(url, headers={"Range": f"bytes={len(whole)}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(whole)}"
    several = await client.get(url, headers={"Range": "bytes=0-1,5-6"})  # not served: whole file
    assert (several.status_code, several.content) == (200, whole)


async def test_an_expired_or_tampered_url_is_refused_with_403(client, platform, partner):
    call_id = await _call(client, platform, partner)
    other_id = await _call(client, platform, partner)
    url = await _record(platform, call_id)
    query = parse_qs(urlsplit(url).query)
    expires, sig = query["expires"][0], query["sig"][0]
    path = f"/recordings/{call_id}.wav"

    expired_at = int(time.time()) - 1
    expired_url, _ = signed_recording_url(platform=platform, call_id=call_id, now=expired_at - 7 * 24 * 3600)
    response = await client.get(_local(expired_url))
    assert response.status_code == 403
    assert error_of(response)["reason"] == "recording_url_expired"
    assert "recording-url" in error_of(response)["message"]

    tampered = sig[:-2] + ("AA" if not sig.endswith("AA") else "BB")
    refused = [
        f"{path}?expires={expires}&sig={tampered}",
        f"{path}?expires={int(expires) + 3600}&sig={sig}",  # a later expiry under the old signature
        f"/recordings/{other_id}.wav?expires={expires}&sig={sig}",  # another call's recording
        f"{path}?expires={expires}",
        path,
    ]
    for attempt in refused:
        response = await client.get(attempt)
        assert response.status_code == 403, attempt
        assert error_of(response)["reason"] == "recording_url_invalid"
    # A URL signed with a key that is not the platform's.
    forged = recording_signature(b"z" * 32, call_id, int(expires))
    assert (await client.get(f"{path}?expires={expires}&sig={forged}")).status_code == 403


async def test_another_partners_call_is_404_on_the_api(client, platform, partner, other_partner):
    call_id = await _call(client, platform, partner)
    await _record(platform, call_id)
    response = await client.get(f"/api/v2/calls/{call_id}/recording-url", headers=other_partner.headers)
    assert response.status_code == 404
    assert error_of(response)["reason"] == "call_not_found"
    assert (await client.get(f"/api/v2/calls/{call_id}/recording-url")).status_code == 401


async def test_a_call_without_a_recording_is_404_with_the_reason(client, platform, partner):
    not_recorded = await _call(client, platform, partner, enable_recording=False)
    response = await client.get(f"/api/v2/calls/{not_recorded}/recording-url", headers=partner.headers)
    assert response.status_code == 404
    error = error_of(response)
    assert error["reason"] == "recording_not_found"
    assert "enable_recording" in error["message"]

    not_yet = await _call(client, platform, partner)
    response = await client.get(f"/api/v2/calls/{not_yet}/recording-url", headers=partner.headers)
    assert (response.status_code, error_of(response)["reason"]) == (404, "recording_not_found")
    # A validly signed URL to a call with no recording.
    url, _ = signed_recording_url(platform=platform, call_id=not_yet)
    response = await client.get(_local(url))
    assert (response.status_code, error_of(response)["reason"]) == (404, "recording_not_found")


async def test_a_recording_gone_from_storage_is_404(client, platform, partner):
    call_id = await _call(client, platform, partner)
    url = await _record(platform, call_id)
    async with platform.sessions() as session:
        await platform.recordings.delete(recording_key(await session.get(Call, call_id)))
    response = await client.get(_local(url))
    assert response.status_code == 404
    assert "no longer in storage" in error_of(response)["message"]


async def test_nothing_recorded_keeps_no_recording(client, platform, partner):
    call_id = await _call(client, platform, partner)
    recorder = CallRecorder(platform.settings.var_dir / "work")
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        assert await save_recording(platform=platform, call=call, recorder=recorder) is None
        assert await platform.recordings.size(recording_key(call)) is None


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with running_s3_server() as server:
        yield server


@pytest.fixture
async def s3_platform(settings, s3_server) -> AsyncIterator[Platform]:
    bucket = s3_server.new_bucket()
    platform = Platform.from_settings(settings.model_copy(update=s3_server.settings(bucket)))
    try:
        yield platform
    finally:
        await platform.close()


@pytest.fixture
async def s3_client(s3_platform, platform) -> AsyncIterator[httpx.AsyncClient]:
    # ``platform`` empties the tables; ``s3_platform`` shares its database.
    transport = httpx.ASGITransport(app=create_app(platform=s3_platform), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://callwright.test") as c:
        yield c


async def test_a_recording_kept_on_s3_is_served_through_the_signed_url(s3_client, s3_platform, s3_server):
    partner = await make_partner(s3_platform, "s3-partner")
    call_id = await _call(s3_client, s3_platform, partner)
    await _record(s3_platform, call_id)

    objects = s3_server.client().list_objects_v2(Bucket=s3_platform.recordings.bucket)["Contents"]
    assert [o["Key"] for o in objects] == [f"{partner.id}/{call_id}.wav"]
    minted = await _minted(s3_client, partner, call_id)
    response = await s3_client.get(_local(minted["recording_url"]))
    assert response.status_code == 200, response.text
    frames = _stereo(response.content)
    assert np.abs(frames[:6400, 0]).max() > 5000 and np.abs(frames[9600:, 1]).max() > 5000
    ranged = await s3_client.get(_local(minted["recording_url"]), headers={"Range": "bytes=40-99"})
    assert (ranged.status_code, ranged.content) == (206, response.content[40:100])


async def test_a_call_whose_stored_url_expired_still_shows_one_that_works(client, platform, partner):
    call_id = await _call(client, platform, partner)
    await _record(platform, call_id)
    long_ago = int(time.time()) - 8 * 24 * 3600
    expired_url, _ = signed_recording_url(platform=platform, call_id=call_id, now=long_ago)
    async with platform.sessions() as session:
        (await session.get(Call, call_id)).recording_url = expired_url
        await session.commit()
    assert (await client.get(_local(expired_url))).status_code == 403

    listed = (await client.get("/api/v2/calls", headers=partner.headers)).json()["data"]["calls"]
    shown = next(c for c in listed if c["call_id"] == call_id)["recording_url"]
    assert shown != expired_url
    assert (await client.get(_local(shown))).status_code == 200
