"""Sarvam, for Indian languages: streaming speech-to-text (``STT_ENGINES["sarvam"]``, Pipecat's
``SarvamRealtimeSTTService``) and text-to-speech (``TTS_ENGINES["sarvam"]``, ``SarvamTTSService``).

STT: ``/speech-to-text-realtime/ws`` (header ``API-SUBSCRIPTION-KEY``), ``encoding=linear16`` at
8000 Hz, base64 ``audio_input`` events. Endpointing is ``manual``: Silero VAD already cuts the
caller's turns, and Pipecat turns its start and stop into Sarvam's ``speech_start`` and
``speech_end``, after which Sarvam sends ``transcript.final``. Sarvam's realtime endpoint is in
beta at Sarvam: an account may need access granted.

TTS: ``/text-to-speech/ws`` (header ``api-subscription-key``); a ``config`` message sets speaker,
language and ``speech_sample_rate`` 8000 with ``linear16`` output, then ``text`` and ``flush``; the
``audio`` messages carry base64 PCM16 and the ``final`` event ends the line. A Sarvam speaker
speaks every supported language, so the catalog lists each speaker once per language: the
agent's language follows its voice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipecat.services.tts_service import TTSService

from callwright.domain.dictionaries import vocabulary_prompt
from callwright.voice.engines.cloud_base import (
    CLOUD_SAMPLE_RATE,
    CloudTTSEngine,
    CloudVoice,
    ProviderAccount,
    cloud_voice,
    pipecat_language,
)

if TYPE_CHECKING:
    from pipecat.services.sarvam.stt import SarvamRealtimeSTTService

ENGINE = "sarvam"
SARVAM_URL = "wss://api.sarvam.ai"
SARVAM_TTS_MODEL = "bulbul:v3"

# Bulbul's languages (Sarvam calls Odia "od-IN"; Pipecat maps or-IN to it).
SARVAM_LOCALES = {
    "bn-IN": "Bengali",
    "en-IN": "English",
    "gu-IN": "Gujarati",
    "hi-IN": "Hindi",
    "kn-IN": "Kannada",
    "ml-IN": "Malayalam",
    "mr-IN": "Marathi",
    "or-IN": "Odia",
    "pa-IN": "Punjabi",
    "ta-IN": "Tamil",
    "te-IN": "Telugu",
}
SARVAM_SPEAKERS = {"shubh": "male", "priya": "female"}  # bulbul:v3 speakers


def _voices() -> tuple[CloudVoice, ...]:
    voices = []
    for speaker, gender in SARVAM_SPEAKERS.items():
        for locale, language in SARVAM_LOCALES.items():
            name = speaker.title()
            voices.append(
                cloud_voice(
                    ENGINE,
                    speaker,
                    voice_id=f"{ENGINE}-{speaker}-{locale.split('-')[0]}",
                    name=name,
                    locale=locale,
                    gender=gender,
                    description=f"{name} ({language}, {locale}), Sarvam Bulbul voice",
                )
            )
    return tuple(voices)


SARVAM_VOICES = _voices()


class SarvamTTSEngine(CloudTTSEngine):
    engine = ENGINE

    def service(self, voice: CloudVoice) -> TTSService:
        from pipecat.services.sarvam.tts import SarvamTTSService

        return SarvamTTSService(
            api_key=self.account.api_key,
            url=f"{self.account.base_url(SARVAM_URL)}/text-to-speech/ws",
            sample_rate=CLOUD_SAMPLE_RATE,
            settings=SarvamTTSService.Settings(
                model=SARVAM_TTS_MODEL,
                voice=voice.provider_voice,
                language=pipecat_language(voice.voice.locale, "en-IN"),
            ),
        )


class SarvamSTTEngine:
    def __init__(self, account: ProviderAccount) -> None:
        self.account = account

    async def load(self) -> None:
        return None  # Sarvam runs the model; a call opens its own connection

    async def create_stt(
        self, *, language: str | None = None, vocabulary: Sequence[str] = ()
    ) -> SarvamRealtimeSTTService:
        """A Sarvam service for one call; without ``language`` Sarvam detects it per utterance.
        ``vocabulary`` (the agent's dictionaries) becomes Sarvam's decoding ``prompt``."""
        from pipecat.services.sarvam.stt import SarvamRealtimeSTTService

        return SarvamRealtimeSTTService(
            api_key=self.account.api_key,
            base_url=f"{self.account.base_url(SARVAM_URL)}/speech-to-text-realtime/ws",
            endpointing="manual",
            sample_rate=CLOUD_SAMPLE_RATE,
            audio_passthrough=False,  # nothing after the STT needs the caller's audio
            settings=SarvamRealtimeSTTService.Settings(
                language=pipecat_language(language, "en-IN") if language else None,
                prompt=vocabulary_prompt(vocabulary) if vocabulary else None,
            ),
        )
