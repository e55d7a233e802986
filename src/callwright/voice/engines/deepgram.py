"""Deepgram streaming speech-to-text (``STT_ENGINES["deepgram"]``), through Pipecat's
``DeepgramSTTService``.

One live-transcription WebSocket per call (``/v1/listen``, ``Authorization: Token <key>``) takes the
caller's 8 kHz PCM16 as binary messages (``encoding=linear16&sample_rate=8000``). When Silero VAD
says the caller stopped, Pipecat sends ``Finalize`` so Deepgram returns the final ``Results`` at
once rather than after its own endpointing; each final result with words becomes a
``TranscriptionFrame``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from callwright.voice.engines.cloud_base import CLOUD_SAMPLE_RATE, ProviderAccount, pipecat_language

if TYPE_CHECKING:
    from pipecat.services.deepgram.stt import DeepgramSTTService

DEEPGRAM_URL = "wss://api.deepgram.com"
DEEPGRAM_MODEL = "nova-3-general"
DEFAULT_LANGUAGE = "en"


class DeepgramEngine:
    def __init__(self, account: ProviderAccount) -> None:
        self.account = account

    async def load(self) -> None:
        return None  # Deepgram runs the model; a call opens its own connection

    async def create_stt(
        self, *, language: str | None = None, vocabulary: Sequence[str] = ()
    ) -> DeepgramSTTService:
        """A Deepgram service for one call; ``language`` is the agent's (default English);
        ``vocabulary`` (the agent's dictionaries) goes to nova-3 as ``keyterm`` prompting."""
        from pipecat.services.deepgram.stt import DeepgramSTTService

        settings = DeepgramSTTService.Settings(
            model=DEEPGRAM_MODEL, language=pipecat_language(language, DEFAULT_LANGUAGE)
        )
        if vocabulary:
            settings.keyterm = list(vocabulary)
        return DeepgramSTTService(
            api_key=self.account.api_key,
            base_url=self.account.base_url(DEEPGRAM_URL),
            encoding="linear16",
            sample_rate=CLOUD_SAMPLE_RATE,
            settings=settings,
            audio_passthrough=False,  # nothing after the STT needs the caller's audio
        )
