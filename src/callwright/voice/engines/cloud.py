"""Cloud speech engines, enabled by the operator's keys (``CALLWRIGHT_<PROVIDER>_API_KEY``).

``configure_cloud_engines`` runs once at start-up: a provider with a key gets its entries in
``STT_ENGINES`` / ``TTS_ENGINES`` and its voices in the catalog (so ``GET /agent/voices`` and
``GET /config`` offer them); a provider without one is withdrawn. An agent whose ``stt.provider``
is not enabled falls back to Whisper at call time, with a warning in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from callwright.settings import Settings
from callwright.voice.catalog import set_engine_voices
from callwright.voice.engines import STT_ENGINES, TTS_ENGINES, STTEngine
from callwright.voice.engines.cartesia import CARTESIA_VOICES, CartesiaEngine
from callwright.voice.engines.cloud_base import CloudTTSEngine, ProviderAccount
from callwright.voice.engines.deepgram import DeepgramEngine
from callwright.voice.engines.elevenlabs import ELEVENLABS_VOICES, ElevenLabsEngine
from callwright.voice.engines.sarvam import SARVAM_VOICES, SarvamSTTEngine, SarvamTTSEngine

log = logging.getLogger("callwright.voice")


@dataclass(frozen=True, slots=True)
class CloudProvider:
    name: str  # the settings prefix, and the engine name in both registries
    stt: Callable[[ProviderAccount], STTEngine] | None = None
    tts: Callable[[ProviderAccount], CloudTTSEngine] | None = None


CLOUD_PROVIDERS = (
    CloudProvider("deepgram", stt=DeepgramEngine),
    CloudProvider("elevenlabs", tts=lambda account: ElevenLabsEngine(account, ELEVENLABS_VOICES)),
    CloudProvider("cartesia", tts=lambda account: CartesiaEngine(account, CARTESIA_VOICES)),
    CloudProvider(
        "sarvam",
        stt=SarvamSTTEngine,
        tts=lambda account: SarvamTTSEngine(account, SARVAM_VOICES),
    ),
)


def provider_account(settings: Settings, provider: str) -> ProviderAccount | None:
    """The operator's account with ``provider``, or None when no key is set."""
    key = (getattr(settings, f"{provider}_api_key") or "").strip()
    if not key:
        return None
    url = (getattr(settings, f"{provider}_url") or "").strip() or None
    return ProviderAccount(api_key=key, url=url)


def configure_cloud_engines(settings: Settings) -> list[str]:
    """Enable the cloud engines whose key is set, withdraw the others; returns the enabled ones."""
    enabled = []
    for provider in CLOUD_PROVIDERS:
        account = provider_account(settings, provider.name)
        if provider.stt is not None:
            if account is None:
                STT_ENGINES.pop(provider.name, None)
            else:
                STT_ENGINES[provider.name] = provider.stt(account)
        if provider.tts is not None:
            if account is None:
                TTS_ENGINES.pop(provider.name, None)
                set_engine_voices(provider.name, ())
            else:
                engine = provider.tts(account)
                TTS_ENGINES[provider.name] = engine
                set_engine_voices(provider.name, engine.catalog_voices())
        if account is not None:
            enabled.append(provider.name)
    if enabled:
        log.info("cloud speech engines enabled: %s", ", ".join(enabled))
    return enabled
