"""ElevenLabs text-to-speech (``TTS_ENGINES["elevenlabs"]``), through Pipecat's
``ElevenLabsTTSService``.

One multi-context WebSocket per call (``/v1/text-to-speech/{voice}/multi-stream-input``, header
``xi-api-key``) with ``output_format=pcm_8000``: raw 8 kHz PCM16, base64 in each ``audio`` message,
so the carrier gets it without resampling. Each line is one context; ``isFinal`` ends it.
"""

from __future__ import annotations

from pipecat.services.tts_service import TTSService

from callwright.voice.engines.cloud_base import (
    CLOUD_SAMPLE_RATE,
    CloudTTSEngine,
    CloudVoice,
    library_voice,
)

ENGINE = "elevenlabs"
ELEVENLABS_URL = "wss://api.elevenlabs.io"
# Low latency, and multilingual (32 languages) should an agent speak something else.
ELEVENLABS_MODEL = "eleven_flash_v2_5"


def _voice(voice: str, name: str, locale: str, gender: str) -> CloudVoice:
    return library_voice(ENGINE, voice, name, locale, gender, family="ElevenLabs premade voice")


# ElevenLabs' premade voices, available to every account.
ELEVENLABS_VOICES = (
    _voice("21m00Tcm4TlvDq8ikWAM", "Rachel", "en-US", "female"),
    _voice("pNInz6obpgDQGcFmaJgB", "Adam", "en-US", "male"),
)


class ElevenLabsEngine(CloudTTSEngine):
    engine = ENGINE

    def service(self, voice: CloudVoice) -> TTSService:
        from pipecat.services.elevenlabs.tts import ElevenLabsTTSService

        return ElevenLabsTTSService(
            api_key=self.account.api_key,
            url=self.account.base_url(ELEVENLABS_URL),
            sample_rate=CLOUD_SAMPLE_RATE,
            settings=ElevenLabsTTSService.Settings(
                voice=voice.provider_voice, model=ELEVENLABS_MODEL
            ),
        )
