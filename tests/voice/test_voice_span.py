"""Where the caller's voice began and ended, as ``CallVADAnalyzer`` follows it.

- The end, to within a block of 8 ms wherever the voice falls on Silero's 32 ms windows, while
  Silero's own stop decision comes 0–110 ms past ``stop_secs``; line noise after the voice does
  not move it.
- The turn starts ``start_secs`` after the voice began, give or take a window; a short burst
  starts none.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from pipecat.audio.vad.vad_analyzer import VADState
from piper.config import SynthesisConfig

from callwright.sim.audio import audible_part, resample
from callwright.voice.engines import TTS_ENGINES
from callwright.voice.vad import CallVADAnalyzer, silero_vad
from tests.voice.conftest import INTRO, VOICE
from tests.voice.media_server import MediaServer

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


@cache
def still_intro() -> np.ndarray:
    """The intro as Piper says it without its random noise: the same waveform in every run. (A
    call's rendering varies from process to process, and Silero's verdicts with it.)"""
    still = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(TTS_ENGINES["piper"].voices.get(VOICE).synthesize(INTRO, syn_config=still))
    spoken = np.concatenate([chunk.audio_int16_array for chunk in chunks])
    return resample(spoken, chunks[0].sample_rate, RATE).astype(np.int16)


def cut_voice() -> np.ndarray:
    """The intro from its first loud frame, cut off at its loudest 20 ms in the second half: a
    voice that ends at its last sample, however Piper happened to render the intro."""
    pcm = still_intro()
    frames = pcm[: pcm.size // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    levels = np.sqrt((frames**2).mean(axis=1))
    first = int(np.flatnonzero(levels > LOUD_RMS)[0])
    half = len(levels) // 2
    loudest = half + int(np.argmax(levels[half:]))
    return pcm[first * FRAME : (loudest + 1) * FRAME]


@dataclass
class Heard:
    began: float  # when the voice truly began and ended
    ended: float
    started_at: float | None  # when the analyzer first said SPEAKING
    stopped_at: float | None  # when it last went back to QUIET
    ended_by: float | None  # where it put the voice's end for the turn's timer


async def play(voice: np.ndarray, *, lead_samples: int, after: np.ndarray) -> Heard:
    """Feed quiet, ``voice``, then ``after`` in 20 ms frames, as a carrier sends them."""
    clock = FrameClock()
    analyzer = CallVADAnalyzer(session=silero_vad().session, clock=clock)
    analyzer.set_sample_rate(RATE)
    stream = np.concatenate([np.zeros(lead_samples, np.int16), voice, after]).astype(np.int16)
    began = clock.now + lead_samples / RATE
    ended = began + voice.size / RATE
    started_at = stopped_at = None
    before = VADState.QUIET
    for start in range(0, stream.size - FRAME + 1, FRAME):
        clock.now += FRAME / RATE  # this frame's last sample has just been said
        state = await analyzer.analyze_audio(stream[start : start + FRAME].tobytes())
        if state == VADState.SPEAKING and started_at is None:
            started_at = clock.now
        # The last stop counts: the intro pauses after "Hello," (an earlier stop).
        if before == VADState.STOPPING and state == VADState.QUIET:
            stopped_at = clock.now
        before = state
    ended_by = analyzer.speech_ended_by(stopped_at) if stopped_at is not None else None
    return Heard(began, ended, started_at, stopped_at, ended_by)


GRID = [500 + 4 * i for i in range(8)]  # leads that put the voice all over a 32 ms window
QUIET_SECOND = np.zeros(RATE, np.int16)


@pytest.mark.parametrize("lead_ms", GRID)
async def test_the_voice_end_is_found_to_within_a_block_wherever_it_falls_on_the_window_grid(
    media_server: MediaServer, lead_ms: int
) -> None:
    heard = await play(cut_voice(), lead_samples=lead_ms * RATE // 1000, after=QUIET_SECOND)
    assert heard.ended_by is not None
    assert abs(heard.ended_by - heard.ended) <= BLOCK


async def test_silero_decides_late_by_tens_of_milliseconds_and_the_voice_end_makes_up_for_it(
    media_server: MediaServer,
) -> None:
    # A line that fades out as voices do, cut where the simulator's caller hears it end (its last
    # 20 ms frame over -40 dBFS): Silero's confidence trails off over windows after it.
    voice, stop_secs = audible_part(still_intro()), 0.2
    lags = []
    for lead_ms in GRID:
        heard = await play(voice, lead_samples=lead_ms * RATE // 1000, after=QUIET_SECOND)
        assert heard.stopped_at is not None and heard.ended_by is not None
        lags.append(heard.stopped_at - stop_secs - heard.ended)
        # What the turn's timer counts from: the voice's end (to within that 20 ms frame), not
        # the decision less stop_secs.
        assert -0.02 <= heard.ended_by - heard.ended <= BLOCK
    assert max(lags) >= 0.04, lags  # what the old reading (decision - stop_secs) was off by


def breathed(voice: np.ndarray, secs: float = 0.06) -> np.ndarray:
    """``voice`` led in by ``secs`` of breath (noise 20 dB under the voice): a soft onset, which
    Silero scores as speech only once the voice proper comes."""
    level = np.sqrt(np.mean(voice.astype(np.float64) ** 2))
    breath = np.random.default_rng(3).normal(0, level / 10, round(secs * RATE))
    return np.concatenate([breath.astype(np.int16), voice])


async def test_the_turn_starts_start_secs_after_the_voice_began(media_server: MediaServer) -> None:
    voice, start_secs = breathed(cut_voice()), 0.2
    delays = []
    for lead_ms in GRID:
        heard = await play(voice, lead_samples=lead_ms * RATE // 1000, after=QUIET_SECOND)
        assert heard.started_at is not None
        delays.append(heard.started_at - heard.began)
    # Never before the caller has spoken start_secs (8 ms: the onset's resolution); after it,
    # the 20 ms frame that completes them, the 8 ms block, and now and then a wait for Silero's
    # fourth speech window: within 40 ms. Counted in Silero's windows from its first speech
    # window, as Pipecat does, this voice starts 264-288 ms after the breath began.
    assert min(delays) >= start_secs - BLOCK, delays
    assert max(delays) <= start_secs + 0.04, delays


async def test_a_short_burst_starts_no_turn(media_server: MediaServer) -> None:
    burst = cut_voice()[: RATE // 10]  # 100 ms of voice
    heard = await play(burst, lead_samples=4000, after=QUIET_SECOND)
    assert heard.started_at is None


def test_before_any_speech_the_end_is_the_stop_decision_less_stop_secs() -> None:
    analyzer = CallVADAnalyzer(session=silero_vad().session)
    assert analyzer.speech_ended_at is None
    assert analyzer.speech_ended_by(5.0) == pytest.approx(5.0 - analyzer.params.stop_secs)


async def test_line_noise_after_the_voice_does_not_move_its_end(media_server: MediaServer) -> None:
    rng = np.random.default_rng(7)
    hiss = rng.normal(0, 100, RATE).astype(np.int16)  # about -50 dBFS of line noise
    heard = await play(cut_voice(), lead_samples=4000, after=hiss)
    assert heard.ended_by is not None
    assert abs(heard.ended_by - heard.ended) <= BLOCK
