"""Load the shared voice models before the first call needs them.

Without it the first call of a process pays the loads on its way to the greeting: Silero VAD
(~35 ms), each Piper voice (~0.5 s plus a warm-up run) and Whisper (~0.9 s). Call it once at
startup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from callwright.voice.catalog import installed_voices
from callwright.voice.engines import STT_ENGINES, tts_engine
from callwright.voice.vad import silero_vad


async def preload_voice_models(voice_ids: Iterable[str] | None = None) -> None:
    """Load Silero VAD, the given voices (default: every installed voice) and the STT models."""
    ids = list(voice_ids) if voice_ids is not None else [v.voice_id for v in installed_voices()]
    # The call runtime's modules (Pipecat's transports, aggregators…): imported on the first
    # call instead, they held the event loop, and every call already up, for ~0.2 s.
    import callwright.voice.browser_leg
    import callwright.voice.session  # noqa: F401
    await asyncio.to_thread(lambda: silero_vad().session)
    for voice_id in ids:
        await tts_engine(voice_id).load(voice_id)
    for stt in STT_ENGINES.values():
        await stt.load()
