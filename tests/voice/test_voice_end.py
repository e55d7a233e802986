"""Where the caller's voice ended, as ``CallVADAnalyzer`` places it: to within a block of 8 ms,
wherever the voice falls on Silero's 32 ms windows, while Silero's own stop decision comes
0–110 ms past ``stop_secs``; line noise after the voice does not move it."""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.audio.vad.vad_analyzer import VADState

from callwright.sim.audio import audible_part
from callwright.voice.vad import CallVADAnalyzer, silero_vad
from tests.voice.media_server import MediaServer
from tests.voice.test_shared_models import rendered_intro

RATE = 8000
FRAME = 160  # 20 ms, as the carriers send it
LOUD_RMS = 330.0  # the simulator's "speech" level over a 20 ms frame
BLOCK = 0.008 + 1e-6  # the resolution of the voice's end


class FrameClock:
    """The time a frame arrives: audio comes in real time, one 20 ms frame after another."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cut_voice() -> np.ndarray:
    """The intro from its first loud frame, cut off at its loudest 20 ms in the second half: a
    voice that ends at its last sample, however Piper happened to render the intro."""
    pcm = rendered_intro()
    frames = pcm[: pcm.size // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    levels = np.sqrt((frames**2).mean(axis=1))
    first = int(np.flatnonzero(levels > LOUD_RMS)[0])
    half = len(levels) // 2
    loudest = half + int(np.argmax(levels[half:]))
    return pcm[first * FRAME : (loudest + 1) * FRAME]


async def play(voice: np.ndarray, *, lead_samples: int, after: np.ndarray) -> tuple[float, float, float]:
    """Feed quiet, ``voice``, then ``after`` in 20 ms frames; return when the voice truly ended,
    where the analyzer put its end for the turn's timer, and when Silero last decided the caller had stopped (the
    intro pauses after "Hello,": an earlier stop)."""
    clock = FrameClock()
    analyzer = CallVADAnalyzer(session=silero_vad().session, clock=clock)
    analyzer.set_sample_rate(RATE)
    stream = np.concatenate([np.zeros(lead_samples, np.int16), voice, after]).astype(np.int16)
    true_end = clock.now + (lead_samples + voice.size) / RATE
    stopped_at = None
    before = VADState.QUIET
    for start in range(0, stream.size - FRAME + 1, FRAME):
        clock.now += FRAME / RATE  # this frame's last sample has just been said
        state = await analyzer.analyze_audio(stream[start : start + FRAME].tobytes())
        if before == VADState.STOPPING and state == VADState.QUIET:  # the last one counts
            stopped_at = clock.now
        before = state
    assert analyzer.speech_ended_at is not None and stopped_at is not None
    return true_end, analyzer.speech_ended_by(stopped_at), stopped_at


@pytest.mark.parametrize("lead_ms", [500, 504, 508, 512, 516, 520, 524, 528])
async def test_the_voice_end_is_found_to_within_a_block_wherever_it_falls_on_the_window_grid(
    media_server: MediaServer, lead_ms: int
) -> None:
    voice = cut_voice()
    true_end, ended, stopped_at = await play(
        voice, lead_samples=lead_ms * RATE // 1000, after=np.zeros(RATE, np.int16)
    )
    assert abs(ended - true_end) <= BLOCK


async def test_silero_decides_late_by_tens_of_milliseconds_and_the_voice_end_makes_up_for_it(
    media_server: MediaServer,
) -> None:
    # A line that fades out as voices do, cut where the simulator's caller hears it end (its last
    # 20 ms frame over -40 dBFS): Silero's confidence trails off over windows after it.
    voice, stop_secs = audible_part(rendered_intro()), 0.2
    lags = []
    for lead_ms in range(500, 532, 4):
        true_end, ended, stopped_at = await play(
            voice, lead_samples=lead_ms * RATE // 1000, after=np.zeros(RATE, np.int16)
        )
        lags.append(stopped_at - stop_secs - true_end)
        # What the turn's timer counts from: the voice's end (to within that 20 ms frame), not
        # the decision less stop_secs.
        assert -0.02 <= ended - true_end <= BLOCK
    assert max(lags) >= 0.04, lags  # what the old reading (decision - stop_secs) was off by


def test_before_any_speech_the_end_is_the_stop_decision_less_stop_secs() -> None:
    analyzer = CallVADAnalyzer(session=silero_vad().session)
    assert analyzer.speech_ended_at is None
    assert analyzer.speech_ended_by(5.0) == pytest.approx(5.0 - analyzer.params.stop_secs)


async def test_line_noise_after_the_voice_does_not_move_its_end(media_server: MediaServer) -> None:
    voice = cut_voice()
    rng = np.random.default_rng(7)
    hiss = rng.normal(0, 100, RATE).astype(np.int16)  # about -50 dBFS of line noise
    true_end, ended, _ = await play(voice, lead_samples=4000, after=hiss)
    assert abs(ended - true_end) <= BLOCK
