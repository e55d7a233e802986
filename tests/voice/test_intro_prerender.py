"""A call's intro, its variables filled in, is rendered while the phone rings."""

from __future__ import annotations

from callwright.services.media_events import prepare_intro
from callwright.store.models import Call
from callwright.voice.engines import TTS_ENGINES


async def test_prepare_intro_puts_the_personalised_intro_in_the_speech_cache():
    call = Call(
        id="call-prerender",
        agent={"intro_message": "Hello {{name}}, this is Callwright.", "voice_id": "piper-joe-us"},
        variables={"name": "Prerendra"},
    )
    cache = TTS_ENGINES["piper"].speech_cache
    key = {"voice_id": "piper-joe-us", "sample_rate": 8000, "text": "Hello Prerendra, this is Callwright."}
    assert cache.get(**key) is None
    await prepare_intro(call)
    audio = cache.get(**key)
    assert audio is not None and len(audio) > 8000 * 2 * 0.8  # at least 0.8 s of 16-bit audio
