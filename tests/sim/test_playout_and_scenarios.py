"""Pure pieces of the simulator: the playout clock, the scenario book, the caller's track."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from pydantic import ValidationError

from callwright.sim import Scenario, Utterance
from callwright.sim.audio import MULAW_8K, SAMPLE_RATE, AudioFormat, tone
from callwright.sim.caller import build_track
from callwright.sim.playout import Playout
from callwright.sim.scenarios import Outcome, ScenarioBook


def test_a_mark_is_due_once_the_audio_queued_before_it_has_played():
    playout = Playout()
    playout.play(tone(300, 1.0), now=10.0)
    playout.play(tone(300, 0.5), now=10.2)  # queued behind the first second
    assert playout.mark("done", now=10.3) == pytest.approx(11.5)
    assert playout.due_marks(11.49) == []
    assert playout.due_marks(11.5) == ["done"]


def test_audio_sent_after_a_gap_plays_when_it_arrives():
    playout = Playout()
    playout.play(tone(300, 0.2), now=1.0)
    late = playout.play(tone(300, 0.2), now=5.0)
    assert late.starts_at == 5.0


def test_clear_drops_what_was_not_heard_and_cuts_the_chunk_playing():
    playout = Playout()
    playout.play(tone(300, 1.0), now=0.0)
    playout.play(tone(300, 1.0), now=0.0)
    playout.mark("m1", now=0.0)
    cleared = playout.clear(now=0.25)
    assert cleared.dropped_secs == pytest.approx(1.75)
    assert cleared.pending_marks == ("m1",)
    assert playout.due_marks(100.0) == []
    heard = playout.heard()
    assert [len(chunk.pcm) for chunk in heard] == [int(0.25 * SAMPLE_RATE)]
    # New audio after the clear plays at once.
    assert playout.play(tone(300, 0.1), now=0.3).starts_at == 0.3


def test_render_places_heard_audio_on_the_timeline():
    playout = Playout()
    playout.play(np.full(800, 1000, dtype=np.int16), now=2.5)
    track = playout.render(origin=2.0, until=3.0)
    assert len(track) == SAMPLE_RATE
    assert track[:4000].max() == 0 and track[4000:4800].min() == 1000 and track[4800:].max() == 0
    assert playout.first_sound_at() == pytest.approx(2.5)


def test_scenario_book_matches_a_national_number_to_its_e164_form():
    book = ScenarioBook()
    book.set("+91 98765 43210", Scenario.busy())
    assert book.for_number("9876543210").outcome is Outcome.BUSY
    assert book.for_number("+919876543210").outcome is Outcome.BUSY
    assert book.for_number("+14155550100").outcome is Outcome.ANSWER
    book.set(None, Scenario.no_answer())
    assert book.for_number("+14155550100").outcome is Outcome.NO_ANSWER


def test_an_utterance_needs_exactly_one_source():
    with pytest.raises(ValidationError):
        Utterance()
    with pytest.raises(ValidationError):
        Utterance(text="hi", wav_path="/tmp/x.wav")


def test_caller_track_places_speech_after_the_leading_silence_and_gaps():
    first = Utterance.from_pcm(tone(500, 0.3).tobytes())
    quiet = tone(500, 0.2, amplitude=0.2).astype("<i2").tobytes()
    second = Utterance.from_pcm(quiet, sample_rate=16000)
    track = build_track(Scenario.answer(first, second, leading_silence_secs=0.5, gap_secs=0.25))
    (one, two) = track.speech
    assert (one.starts_at, one.ends_at) == pytest.approx((0.5, 0.8))
    # 0.2 s of 16 kHz samples read as 8 kHz at half the length: resampled, it lasts 0.1 s.
    assert (two.starts_at, two.ends_at) == pytest.approx((1.05, 1.15))
    assert track.duration_secs == pytest.approx(1.15)


@pytest.mark.parametrize(
    ("fmt", "size"),
    [
        (MULAW_8K, 160),
        (AudioFormat("l16", 16000), 640),
        (AudioFormat("l16", 8000, frame_ms=200), 3200),
    ],
)
def test_caller_frames_are_encoded_once_per_format_at_the_wire_size(fmt, size):
    speech = Utterance.from_pcm(tone(500, 0.5).tobytes())
    track = build_track(Scenario.answer(speech, leading_silence_secs=0.1))
    frames, quiet = track.payloads(fmt)
    assert track.payloads(fmt)[0] is frames  # cached
    assert {len(base64.b64decode(frame)) for frame in frames} == {size}
    assert len(base64.b64decode(quiet)) == size


def test_piper_renders_text_as_8k_speech():
    track = build_track(Scenario.answer("Hello there.", leading_silence_secs=0.0))
    (speech,) = track.speech
    assert 0.4 < speech.ends_at < 3.0
    assert np.abs(track.pcm).max() > 3000
