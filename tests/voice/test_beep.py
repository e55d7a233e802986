"""The beep detector: a held pure tone is a beep; speech, silence and short blips are not."""

from __future__ import annotations

import numpy as np
import pytest

from callwright.sim.audio import silence, tone, ulaw_decode, ulaw_encode
from callwright.sim.speech import speak
from callwright.voice.beep import BeepDetector


def detect(pcm: np.ndarray, chunk_bytes: int = 320) -> BeepDetector:
    detector = BeepDetector()
    data = pcm.astype(np.int16).tobytes()
    for i in range(0, len(data), chunk_bytes):
        if detector.feed(data[i : i + chunk_bytes]):
            break
    return detector


@pytest.mark.parametrize("hz", [440, 1000, 1400, 2000])
def test_a_held_tone_is_a_beep_found_near_its_start(hz: int) -> None:
    detector = detect(np.concatenate([silence(0.5), tone(hz, 0.5)]))
    assert detector.detected
    assert 0.6 <= detector.detected_at_secs <= 0.8  # 0.18 s of tone after 0.5 s of silence


def test_the_beeps_end_is_found_where_its_tone_stops() -> None:
    # A mailbox records from the beep's end: a message started at the detection would lose the
    # rest of the beep's length (0.32 s of the simulator's 0.5 s beep).
    detector = BeepDetector()
    pcm = np.concatenate([silence(0.5), tone(1000, 0.5), silence(0.5)]).astype(np.int16).tobytes()
    heard_at = None
    for i in range(0, len(pcm), 320):
        if detector.feed(pcm[i : i + 320]) and heard_at is None:
            heard_at = (i + 320) / 16000
            assert not detector.ended
    assert heard_at is not None and heard_at < 0.8
    assert detector.ended_at_secs == pytest.approx(1.0, abs=0.021)
    assert detector.feed(pcm[:320])  # once heard, always heard


def test_speech_silence_and_a_short_blip_are_not_beeps() -> None:
    assert not detect(speak("Hi, you have reached Sam. Please leave a message after the tone.")).detected
    assert not detect(silence(2.0)).detected
    assert not detect(np.concatenate([silence(0.2), tone(1000, 0.1), silence(0.5)])).detected


def test_the_beep_survives_mulaw_and_odd_chunk_sizes() -> None:
    pcm = ulaw_decode(ulaw_encode(np.concatenate([speak("Leave a message."), tone(1000, 0.4)])))
    assert detect(pcm, chunk_bytes=222).detected


def test_only_8khz_audio_is_accepted() -> None:
    with pytest.raises(ValueError, match="8000 Hz"):
        BeepDetector(sample_rate=16000)
