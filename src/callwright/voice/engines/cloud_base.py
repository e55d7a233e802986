"""What the cloud speech engines share: the operator's account with a provider, and a TTS engine
that speaks a fixed list of the provider's voices through Pipecat's own service for it.

Every cloud service is asked for audio at the carriers' rate (8 kHz PCM16), so nothing is
resampled on the way out, and the STT services are fed the caller's 8 kHz PCM16 as it comes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language

from callwright.voice.catalog import Voice
from callwright.voice.engines.errors import VoiceUnavailable
from callwright.voice.pipeline import CARRIER_SAMPLE_RATE

# Cloud audio is requested at the carriers' rate both ways.
CLOUD_SAMPLE_RATE = CARRIER_SAMPLE_RATE


def pipecat_language(tag: str | None, default: str) -> Language:
    """``tag`` (e.g. "hi" or "hi-IN") as Pipecat's ``Language``; ``default`` if Pipecat lacks it."""
    for candidate in (tag, tag.split("-")[0] if tag else None, default):
        if candidate:
            try:
                return Language(candidate)
            except ValueError:
                continue
    return Language(default)


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """The operator's key for one provider, and where to reach it. The key never shows in repr."""

    api_key: str = field(repr=False)
    url: str | None = None  # replaces the provider's WebSocket base (scheme and host)

    def base_url(self, default: str) -> str:
        return (self.url or default).rstrip("/")


@dataclass(frozen=True, slots=True)
class CloudVoice:
    """A catalog voice and what the provider calls it."""

    voice: Voice
    provider_voice: str  # the provider's voice id or speaker name


def cloud_voice(
    engine: str,
    provider_voice: str,
    *,
    voice_id: str,
    name: str,
    locale: str,
    gender: str,
    description: str,
) -> CloudVoice:
    voice = Voice(
        voice_id=voice_id,
        name=name,
        language=locale.split("-")[0],
        locale=locale,
        gender=gender,
        engine=engine,
        sample_rate=CLOUD_SAMPLE_RATE,
        description=description,
    )
    return CloudVoice(voice=voice, provider_voice=provider_voice)


def library_voice(
    engine: str, provider_voice: str, name: str, locale: str, gender: str, *, family: str
) -> CloudVoice:
    """A voice from a provider's public library, listed as ``{engine}-{provider_voice}``."""
    return cloud_voice(
        engine,
        provider_voice,
        voice_id=f"{engine}-{provider_voice}",
        name=name,
        locale=locale,
        gender=gender,
        description=f"{name} ({locale}), {family}",
    )


class CloudTTSEngine:
    """A ``TTS_ENGINES`` entry for a provider's voices. There is nothing to load: the provider
    renders every line. Lines are not rendered ahead (``prerender``) either: that would be one
    more billed request per call, for a line the call renders anyway."""

    engine = ""

    def __init__(self, account: ProviderAccount, voices: Iterable[CloudVoice]) -> None:
        self.account = account
        self._voices = {v.voice.voice_id: v for v in voices}

    def catalog_voices(self) -> list[Voice]:
        return [v.voice for v in self._voices.values()]

    def voice(self, voice_id: str) -> CloudVoice:
        voice = self._voices.get(voice_id)
        if voice is None:
            raise VoiceUnavailable(voice_id)
        return voice

    async def load(self, voice_id: str) -> None:
        self.voice(voice_id)

    async def prerender(self, voice_id: str, text: str, *, sample_rate: int) -> None:
        return None

    async def create_tts(self, voice_id: str, *, cached_texts: Collection[str] = ()) -> TTSService:
        return self.service(self.voice(voice_id))

    def service(self, voice: CloudVoice) -> TTSService:
        """Pipecat's TTS service for one call, speaking ``voice`` at ``CLOUD_SAMPLE_RATE``."""
        raise NotImplementedError
