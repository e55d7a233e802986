"""The background mixer and the curated ambiences: the loop under the voice, saturation, volume,
the hold before the agent's first audio, and loops that repeat without a seam."""

from __future__ import annotations

import numpy as np
import pytest

from callwright.voice import ambience
from callwright.voice.background import BackgroundLoop, BackgroundMixer

FRAME = 160  # 20 ms at 8 kHz
SILENCE = bytes(FRAME * 2)


def pcm(values: np.ndarray) -> bytes:
    return values.astype(np.int16).tobytes()


def samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.int16)


def ramp_loop(length: int = 400) -> BackgroundLoop:
    values = (np.arange(length) * 10).astype(np.int16)
    values.setflags(write=False)
    return BackgroundLoop(f"ramp-{length}", 8000, values)


async def started(loop: BackgroundLoop | None, **kwargs) -> BackgroundMixer:
    mixer = BackgroundMixer(loop, hold_secs=0, **kwargs)
    await mixer.start(8000)
    return mixer


async def test_the_bed_fills_silence_and_loops_round_without_a_gap():
    loop = ramp_loop(400)
    mixer = await started(loop, volume=1.0)
    out = np.concatenate([samples(await mixer.mix(SILENCE)) for _ in range(5)])  # 800 samples
    expected = np.tile(loop.samples, 2)
    assert np.array_equal(out, expected)
    assert mixer.last_voice is None  # the bed alone: the agent is quiet


async def test_the_voice_is_added_with_saturation_and_remembered():
    mixer = await started(ramp_loop(400), volume=1.0)
    voice = np.full(FRAME, 32000, dtype=np.int16)
    voice[:2] = (-32768, 5)
    mixed = samples(await mixer.mix(pcm(voice)))
    assert mixed[0] == -32768 and mixed[1] == 15  # -32768 + 10 saturates; 5 + 10
    assert mixed[-1] == 32767  # 32000 + 1590 saturates
    assert mixer.last_voice == pcm(voice)


async def test_volume_scales_the_bed():
    loud = await started(ramp_loop(400), volume=1.0)
    soft = await started(ramp_loop(400), volume=0.25)
    a, b = samples(await loud.mix(SILENCE)), samples(await soft.mix(SILENCE))
    assert np.allclose(b, np.round(a * 0.25), atol=1)
    silent = await started(ramp_loop(400), volume=0.0)
    assert not samples(await silent.mix(SILENCE)).any()


async def test_nothing_is_sent_while_held_until_the_agent_speaks():
    mixer = BackgroundMixer(ramp_loop(400), volume=1.0, hold_secs=60)
    await mixer.start(8000)
    assert await mixer.mix(SILENCE) == b""  # held: the transport sends nothing
    voice = pcm(np.full(FRAME, 100))
    assert samples(await mixer.mix(voice))[1] == 100 + 10  # the first audio, with the bed from then on
    assert samples(await mixer.mix(SILENCE)).any()


async def test_without_a_loop_yet_the_agent_passes_through():
    mixer = await started(None)
    voice = pcm(np.full(FRAME, 100))
    assert await mixer.mix(voice) == voice
    mixer.set_loop(ramp_loop(400))  # loaded later, used from the next frame
    assert samples(await mixer.mix(SILENCE)).any()


def test_volume_out_of_range_is_refused():
    with pytest.raises(ValueError):
        BackgroundMixer(None, volume=1.5)


@pytest.mark.parametrize("asset", ambience.CURATED, ids=lambda a: a.slug)
def test_curated_ambiences_are_deterministic_soft_and_seamless(asset):
    ambience.render.cache_clear()
    first = ambience.render(asset.id, 8000)
    ambience.render.cache_clear()
    again = ambience.render(asset.id, 8000)
    assert np.array_equal(first, again)  # the same on every install
    assert len(first) == ambience.LOOP_SECS * 8000
    level = float(np.sqrt(np.mean(first.astype(np.float64) ** 2)))
    assert abs(level - ambience.TARGET_RMS) < 5
    # The step from the last sample to the first is no bigger than steps inside the loop.
    steps = np.abs(np.diff(first.astype(np.int32)))
    assert abs(int(first[0]) - int(first[-1])) <= np.percentile(steps, 99.9)
    assert len(ambience.render(asset.id, 16000)) == ambience.LOOP_SECS * 16000
