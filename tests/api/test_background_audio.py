"""Background audio (``/agent/background-audio``): the curated assets, the three-step upload
through a signed URL to the platform's own storage, the WAV checks at finalize, attaching an asset
to an agent, and tenancy."""

from __future__ import annotations

import io
import wave
from urllib.parse import urlsplit

import numpy as np
import pytest
import soundfile

from callwright.voice.ambience import CURATED
from tests.conftest import error_of

ASSETS = "/api/v2/agent/background-audio"


def wav(secs: float = 1.0, *, rate: int = 16000, channels: int = 1, subtype: str = "PCM_16") -> bytes:
    t = np.arange(int(secs * rate)) / rate
    mono = 0.1 * np.sin(2 * np.pi * 220 * t)
    data = mono if channels == 1 else np.stack([mono] * channels, axis=1)
    buffer = io.BytesIO()
    soundfile.write(buffer, data, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def mint(client, partner, slug: str = "front-desk", size: int = 5 * 1024 * 1024):
    return await client.post(
        ASSETS, json={"slug": slug, "label": "Front desk", "mime_type": "audio/wav", "size_bytes": size},
        headers=partner.headers,
    )


async def upload(client, partner, data: bytes, slug: str = "front-desk") -> str:
    minted = await mint(client, partner, slug)
    assert minted.status_code == 201, minted.text
    body = minted.json()["data"]
    assert body["expires_in"] == 900
    put = await client.put(local(body["upload_url"]), content=data, headers={"Content-Type": "audio/wav"})
    assert put.status_code == 200, put.text
    return body["id"]


async def test_the_curated_assets_are_listed_ready_and_previewable(client, partner):
    listed = (await client.get(ASSETS, headers=partner.headers)).json()["data"]
    curated = [a for a in listed if a["is_platform"]]
    assert [a["slug"] for a in curated] == [a.slug for a in CURATED]
    assert all(a["status"] == "READY" and a["channels"] == 1 for a in curated)
    preview = await client.get(local(curated[0]["preview_url"]))
    assert preview.status_code == 200 and preview.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(preview.content)) as read:
        assert (read.getnchannels(), read.getframerate()) == (1, 8000)
        assert read.getnframes() == 8 * 8000


async def test_upload_finalize_attach_and_delete(client, partner):
    asset_id = await upload(client, partner, wav(2.5))
    pending = (await client.get(f"{ASSETS}/{asset_id}", headers=partner.headers)).json()["data"]
    assert pending["status"] == "UPLOADING" and pending["preview_url"] is None
    # An asset not finalized cannot be given to an agent.
    refused = await client.post("/api/v2/agent", json={"agent_name": "A", "background_audio_id": asset_id}, headers=partner.headers)
    assert refused.status_code == 400 and "UPLOADING" in error_of(refused)["message"]

    done = await client.post(f"{ASSETS}/{asset_id}/finalize", headers=partner.headers)
    assert done.status_code == 200, done.text
    asset = done.json()["data"]
    assert {k: asset[k] for k in ("slug", "label", "status", "duration_secs", "sample_rate", "channels")} == {
        "slug": "front-desk", "label": "Front desk", "status": "READY", "duration_secs": 2.5,
        "sample_rate": 16000, "channels": 1,
    }
    assert (await client.get(local(asset["preview_url"]))).content == wav(2.5)

    agent = await client.post(
        "/api/v2/agent", json={"agent_name": "A", "background_audio_id": asset_id, "background_audio_volume": 0.3},
        headers=partner.headers,
    )
    assert agent.status_code == 201, agent.text
    assert (agent.json()["data"]["background_audio_id"], agent.json()["data"]["background_audio_volume"]) == (asset_id, 0.3)

    deleted = await client.delete(f"{ASSETS}/{asset_id}", headers=partner.headers)
    assert deleted.status_code == 200
    after = (await client.get(f"/api/v2/agent/{agent.json()['data']['id']}", headers=partner.headers)).json()["data"]
    assert after["background_audio_id"] is None
    assert (await client.get(f"{ASSETS}/{asset_id}", headers=partner.headers)).status_code == 404


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (wav(1.0, channels=2), "mono"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", "could not be read"),
        (b"ID3" + bytes(100), "not a WAV"),
        (wav(301, rate=8000, subtype="PCM_U8"), "at most 300 s"),
    ],
)
async def test_finalize_refuses_what_is_not_a_usable_wav(client, partner, data, why):
    asset_id = await upload(client, partner, data)
    refused = await client.post(f"{ASSETS}/{asset_id}/finalize", headers=partner.headers)
    assert refused.status_code == 400
    assert why in error_of(refused)["message"]
    asset = (await client.get(f"{ASSETS}/{asset_id}", headers=partner.headers)).json()["data"]
    assert asset["status"] == "FAILED" and why in asset["error"]


async def test_ieee_float_is_accepted(client, partner):
    asset_id = await upload(client, partner, wav(1.0, subtype="FLOAT"))
    done = await client.post(f"{ASSETS}/{asset_id}/finalize", headers=partner.headers)
    assert done.status_code == 200 and done.json()["data"]["status"] == "READY"


async def test_mint_rules(client, partner):
    too_big = await mint(client, partner, size=5 * 1024 * 1024 + 1)
    assert too_big.status_code == 400 and error_of(too_big)["details"][0]["field"] == "size_bytes"
    bad_slug = await mint(client, partner, slug="Front Desk")
    assert bad_slug.status_code == 400 and error_of(bad_slug)["details"][0]["field"] == "slug"
    mp3 = await client.post(
        ASSETS, json={"slug": "x1", "label": "x", "mime_type": "audio/mpeg", "size_bytes": 10}, headers=partner.headers
    )
    assert mp3.status_code == 400
    assert (await mint(client, partner, slug="office-hum")).status_code == 409  # a platform asset's
    assert (await mint(client, partner, slug="mine")).status_code == 201
    assert (await mint(client, partner, slug="mine")).status_code == 409


async def test_the_upload_url_is_signed_bounded_and_single_use(client, partner):
    minted = (await mint(client, partner, size=1000)).json()["data"]
    path = local(minted["upload_url"])
    forged = path.replace("sig=", "sig=x")
    assert (await client.put(forged, content=b"RIFF", headers={"Content-Type": "audio/wav"})).status_code == 403
    assert (await client.put(path, content=b"RIFF", headers={"Content-Type": "audio/mpeg"})).status_code == 415
    assert (await client.put(path, content=bytes(1001), headers={"Content-Type": "audio/wav"})).status_code == 413


async def test_another_partner_cannot_see_use_finalize_or_delete_an_upload(client, partner, other_partner):
    asset_id = await upload(client, partner, wav(1.0))
    assert (await client.post(f"{ASSETS}/{asset_id}/finalize", headers=other_partner.headers)).status_code == 404
    assert (await client.post(f"{ASSETS}/{asset_id}/finalize", headers=partner.headers)).status_code == 200
    assert (await client.get(f"{ASSETS}/{asset_id}", headers=other_partner.headers)).status_code == 404
    theirs = (await client.get(ASSETS, headers=other_partner.headers)).json()["data"]
    assert asset_id not in [a["id"] for a in theirs]
    agent = await client.post(
        "/api/v2/agent", json={"agent_name": "B", "background_audio_id": asset_id}, headers=other_partner.headers
    )
    assert agent.status_code == 400 and error_of(agent)["details"][0]["field"] == "background_audio_id"
    assert (await client.delete(f"{ASSETS}/{asset_id}", headers=other_partner.headers)).status_code == 404
    assert (await client.get(f"{ASSETS}/{asset_id}", headers=partner.headers)).status_code == 200
    # Platform assets are everyone's, and no one's to delete.
    assert (await client.delete(f"{ASSETS}/{CURATED[0].id}", headers=other_partner.headers)).status_code == 403


async def test_uploads_per_account_are_limited(client, partner, other_partner, monkeypatch):
    from callwright.domain import background_audio

    monkeypatch.setattr(background_audio, "ASSETS_PER_PARTNER_MAX", 1)
    assert (await mint(client, partner, slug="first")).status_code == 201
    over = await mint(client, partner, slug="second")
    assert over.status_code == 409 and error_of(over)["reason"] == "background_audio_limit_reached"
    assert (await mint(client, other_partner, slug="theirs")).status_code == 201  # per account
