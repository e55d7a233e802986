"""How a line is cut for a fast first audio, and the cache of rendered lines."""

from __future__ import annotations

import pytest

from callwright.voice.engines.piper import speech_pieces
from callwright.voice.speech_cache import RenderedSpeechCache


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("Hello, this is Joe.", ["Hello,", "this is Joe."]),
        ("Hi there. How are you?", ["Hi there.", "How are you?"]),
        ("  Good morning; Joe here.  ", ["Good morning;", "Joe here."]),
        ("Dr. Rao asked me to call.", ["Dr. Rao asked me to call."]),
        ("Dr. Rao asked me to call, briefly.", ["Dr. Rao asked me to call,", "briefly."]),
        ("It costs $1,000 or 3.5 lakh", ["It costs $1,000 or 3.5 lakh"]),
        ("Hello.", ["Hello."]),
        ("Hello, ", ["Hello,"]),
        ("", [""]),
    ],
)
def test_the_opening_clause_is_rendered_on_its_own(text: str, pieces: list[str]) -> None:
    assert speech_pieces(text) == pieces


def key(text: str) -> dict[str, object]:
    return {"voice_id": "v", "sample_rate": 8000, "text": text}


def test_the_cache_returns_what_was_put_and_counts_hits_and_misses() -> None:
    cache = RenderedSpeechCache(max_bytes=100)
    assert cache.get(**key("a")) is None
    cache.put(**key("a"), audio=b"x" * 10)
    assert cache.get(**key("a")) == b"x" * 10
    assert cache.get(voice_id="v", sample_rate=16000, text="a") is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_least_recently_used_line_goes_first_when_the_cache_is_full() -> None:
    cache = RenderedSpeechCache(max_bytes=30)
    for text in "abc":
        cache.put(**key(text), audio=b"x" * 10)
    assert cache.get(**key("a")) is not None  # "b" is now the least recently used
    cache.put(**key("d"), audio=b"x" * 10)
    assert cache.get(**key("b")) is None
    assert all(cache.get(**key(t)) is not None for t in "acd")
    assert cache.size_bytes == 30


def test_a_line_larger_than_the_cache_is_not_kept_and_replacing_a_line_keeps_the_count() -> None:
    cache = RenderedSpeechCache(max_bytes=30)
    cache.put(**key("big"), audio=b"x" * 31)
    assert len(cache) == 0
    cache.put(**key("a"), audio=b"x" * 10)
    cache.put(**key("a"), audio=b"y" * 20)
    assert (len(cache), cache.size_bytes) == (1, 20)
