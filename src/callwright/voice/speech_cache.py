"""Rendered audio for lines that many calls speak word for word, such as an agent's intro.

Every call of an agent usually opens with the same sentence; rendering it once and replaying the
PCM takes synthesis off the path to the first greeting audio. Least recently used lines go first
once the cache holds ``max_bytes`` of audio (32 MB is about 35 minutes of 8 kHz PCM16).
Used from the event loop only.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cache

DEFAULT_MAX_BYTES = 32 * 1024 * 1024

_Key = tuple[str, int, str]  # (voice_id, sample_rate, text)


class RenderedSpeechCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._audio: OrderedDict[_Key, bytes] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, *, voice_id: str, sample_rate: int, text: str) -> bytes | None:
        key = (voice_id, sample_rate, text)
        audio = self._audio.get(key)
        if audio is None:
            self.misses += 1
            return None
        self._audio.move_to_end(key)
        self.hits += 1
        return audio

    def peek(self, *, voice_id: str, sample_rate: int, text: str) -> bytes | None:
        """The line's audio if held, without counting a hit or a miss or refreshing its place."""
        return self._audio.get((voice_id, sample_rate, text))

    def put(self, *, voice_id: str, sample_rate: int, text: str, audio: bytes) -> None:
        if len(audio) > self.max_bytes:
            return
        key = (voice_id, sample_rate, text)
        previous = self._audio.pop(key, None)
        if previous is not None:
            self._bytes -= len(previous)
        self._audio[key] = audio
        self._bytes += len(audio)
        while self._bytes > self.max_bytes:
            _, evicted = self._audio.popitem(last=False)
            self._bytes -= len(evicted)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._audio)

    def clear(self) -> None:
        self._audio.clear()
        self._bytes = 0


@cache
def rendered_speech() -> RenderedSpeechCache:
    """The process-wide cache of rendered lines."""
    return RenderedSpeechCache()
