"""Cartesia text-to-speech (``TTS_ENGINES["cartesia"]``), through Pipecat's ``CartesiaTTSService``.

One WebSocket per call (``/tts/websocket``, headers ``X-API-Key`` and ``Cartesia-Version``); each
line is a context whose request asks for ``raw`` ``pcm_s16le`` at 8000 Hz, so the base64 ``chunk``
messages are the carrier's audio as is. ``done`` ends the context.
"""

from __future__ import annotations

from pipecat.services.tts_service import TTSService

from callwright.voice.engines.cloud_base import (
    CLOUD_SAMPLE_RATE,
    CloudTTSEngine,
    CloudVoice,
    library_voice,
    pipecat_language,
)

ENGINE = "cartesia"
CARTESIA_URL = "wss://api.cartesia.ai"


def _voice(voice: str, name: str, locale: str, gender: str) -> CloudVoice:
    return library_voice(ENGINE, voice, name, locale, gender, family="Cartesia Sonic voice")


# Voices from Cartesia's public library.
CARTESIA_VOICES = (
    _voice("71a7ad14-091c-4e8e-a314-022ece01c121", "British Reading Lady", "en-GB", "female"),
    _voice("d46abd1d-2d02-43e8-819f-51fb652c1c61", "Newsman", "en-US", "male"),
    _voice("3b554273-4299-48b9-9aaf-eefd438e3941", "Indian Lady", "en-IN", "female"),
)


class CartesiaEngine(CloudTTSEngine):
    engine = ENGINE

    def service(self, voice: CloudVoice) -> TTSService:
        from pipecat.services.cartesia.tts import CartesiaTTSService

        return CartesiaTTSService(
            api_key=self.account.api_key,
            url=f"{self.account.base_url(CARTESIA_URL)}/tts/websocket",
            sample_rate=CLOUD_SAMPLE_RATE,
            encoding="pcm_s16le",
            container="raw",
            settings=CartesiaTTSService.Settings(
                voice=voice.provider_voice,
                language=pipecat_language(voice.voice.language, "en"),
            ),
        )
