"""Cloud voices through the real app: the operator's keys, read at start-up, decide which
providers' voices GET /agent/voices and GET /config offer and which voice ids agents may use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from callwright.api.app import create_app
from callwright.platform import Platform
from callwright.settings import CLOUD_SPEECH_PROVIDERS, Settings
from callwright.voice.engines.cloud import configure_cloud_engines
from tests.conftest import PartnerHandle, error_of

API = "/api/v2"
KEY = "sarvam-operator-key-do-not-show"


def without_cloud_keys(settings: Settings, **keys: str) -> Settings:
    values: dict[str, object] = {f"{name}_api_key": None for name in CLOUD_SPEECH_PROVIDERS}
    values.update(keys, preload_voice_models=False, workers_enabled=False)
    return settings.model_copy(update=values)


@pytest.fixture(autouse=True)
def withdraw_cloud_engines(settings: Settings) -> Iterator[None]:
    yield
    configure_cloud_engines(without_cloud_keys(settings))


async def started_client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(platform=platform)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://callwright.test") as c:
            yield c


@pytest.fixture
async def keyed_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app started with a Sarvam key (and no other cloud key)."""
    platform = Platform.from_settings(without_cloud_keys(settings, sarvam_api_key=KEY))
    try:
        async for client in started_client(platform):
            yield client
    finally:
        await platform.close()


async def test_a_keyed_provider_s_voices_are_listed_and_usable(
    keyed_client: httpx.AsyncClient, partner: PartnerHandle
) -> None:
    voices = (await keyed_client.get(f"{API}/agent/voices", headers=partner.headers)).json()["data"]
    assert voices[0]["voice_id"] == "piper-joe-us"  # the default voice stays first
    by_id = {v["voice_id"]: v for v in voices}
    assert by_id["sarvam-priya-ta"] == {
        "voice_id": "sarvam-priya-ta",
        "name": "Priya",
        "language": "ta",
        "locale": "ta-IN",
        "gender": "female",
        "engine": "sarvam",
        "sample_rate": 8000,
        "description": "Priya (Tamil, ta-IN), Sarvam Bulbul voice",
    }
    assert not any(v["engine"] in ("elevenlabs", "cartesia") for v in voices)

    config = (await keyed_client.get(f"{API}/config", headers=partner.headers)).json()["data"]
    assert "sarvam-shubh-hi" in config["allowed_voices"]
    assert {"en", "hi", "ta"} <= set(config["allowed_languages"])

    created = await keyed_client.post(
        f"{API}/agent",
        json={
            "agent_name": "Hindi reminders",
            "voice_id": "sarvam-shubh-hi",
            "stt": {"provider": "sarvam"},
        },
        headers=partner.headers,
    )
    assert created.status_code == 201, created.text
    agent = created.json()["data"]
    assert (agent["voice_id"], agent["language"]) == ("sarvam-shubh-hi", "hi")
    assert KEY not in created.text + str(voices) + str(config)


async def test_without_a_key_its_voices_are_refused(
    client: httpx.AsyncClient, partner: PartnerHandle
) -> None:
    voices = (await client.get(f"{API}/agent/voices", headers=partner.headers)).json()["data"]
    assert {v["engine"] for v in voices} == {"piper"}
    response = await client.post(
        f"{API}/agent",
        json={"agent_name": "Hindi reminders", "voice_id": "sarvam-shubh-hi"},
        headers=partner.headers,
    )
    assert response.status_code == 400
    assert "voice_id" in error_of(response)["message"]
