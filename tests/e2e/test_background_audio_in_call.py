"""Background audio in a call through the simulator: the caller hears the bed under the agent's
voice and through its silences, and nothing before the agent's first audio; without background
audio the silences are silent.

The fake voice is a 400 Hz tone: with every multiple of 400 Hz taken out of what the caller
heard, what is left under the voice is the bed (µ-law's error on a tone that repeats every 20
samples falls on those multiples too).
"""

from __future__ import annotations

import numpy as np
import pytest

from callwright.sim import Scenario
from callwright.sim.audio import SAMPLE_RATE, rms
from callwright.voice.ambience import CURATED
from tests.e2e.helpers import FAKE_ENGINE_FIELDS, finished_call, make_tenant, new_number, start_call

pytestmark = pytest.mark.e2e

FAKE = FAKE_ENGINE_FIELDS
SOFT_NOISE = next(a for a in CURATED if a.slug == "soft-noise")


@pytest.fixture(scope="module")
def platform_settings() -> dict[str, object]:
    return {"fake_engines": True}


def bed_under_the_tone(pcm: np.ndarray) -> float:
    """The RMS of what is not the fake voice under it: the voice is a 400 Hz tone, 20 samples a
    cycle, so in each 20 ms window (8 cycles) the part that repeats every cycle is the voice and
    the rest is the bed. The median over windows: on a loaded machine a frame sent late leaves a
    seam in the tone, which only the window holding it sees."""
    cycles = pcm[: len(pcm) // 160 * 160].astype(np.float64).reshape(-1, 8, 20)
    rest = cycles - cycles.mean(axis=1, keepdims=True)
    return float(np.median(np.sqrt(np.mean(rest**2, axis=(1, 2)))))


async def heard_on_a_call(api, carrier_sim, **agent: object) -> tuple[np.ndarray, float, float]:
    """What the caller heard of a silent 7 s call, when the agent's intro started and how long it is."""
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], **FAKE, **agent)
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(7.0))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await finished_call(api, tenant, call_id)
    assert call["transcript"][0]["role"] == "bot"
    intro_secs = len(call["transcript"][0]["content"]) / 15  # the fake voice: 15 characters a second
    heard = sim_call.agent_audio()
    return heard, tone_starts_at(heard), intro_secs


def tone_amplitude(frame: np.ndarray) -> float:
    """The 400 Hz component's amplitude in 160 samples (8 whole cycles); the fake voice's tone is
    0.3 of full scale, about 9800."""
    phase = 2 * np.pi * 400 * np.arange(len(frame)) / SAMPLE_RATE
    samples = frame.astype(np.float64)
    return float(2 / len(frame) * np.hypot(samples @ np.sin(phase), samples @ np.cos(phase)))


def tone_starts_at(pcm: np.ndarray) -> float:
    """Where the fake voice starts in ``pcm``: the first 20 ms frame (8 whole cycles of 400 Hz)
    whose 400 Hz component is loud, whatever else is in it."""
    frames = pcm[: len(pcm) // 160 * 160].astype(np.float64).reshape(-1, 160)
    loud = np.flatnonzero(np.array([tone_amplitude(frame) for frame in frames]) > 3000)
    assert len(loud), "the caller never heard the agent's voice"
    return float(loud[0]) * 160 / SAMPLE_RATE


async def test_the_bed_is_heard_under_the_voice_and_in_silence_and_not_before_the_greeting(api, carrier_sim):
    on, start_on, intro_secs = await heard_on_a_call(
        api, carrier_sim, background_audio_id=SOFT_NOISE.id, background_audio_volume=1.0
    )
    off, start_off, _ = await heard_on_a_call(api, carrier_sim)

    def part(pcm: np.ndarray, start: float, end: float) -> np.ndarray:
        return pcm[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]

    figures = {}
    for name, pcm, start in (("on", on, start_on), ("off", off, start_off)):
        under = bed_under_the_tone(part(pcm, start + 0.2, start + intro_secs - 0.2))
        silence = part(pcm, start + intro_secs + 0.5, start + intro_secs + 2.5)
        figures[name] = (under, rms(silence))
    print(f"\nRMS under the voice / in silence: with the bed {figures['on']}, without {figures['off']}")
    under_on, silence_on = figures["on"]
    under_off, silence_off = figures["off"]
    # The bed (RMS 600 at volume 1.0; about 560 of it is left once the voice is taken out) under the voice and in the silence after it …
    assert under_on > 300 and silence_on > 300
    # … and none of it without background audio.
    assert under_off < 50 and silence_off < 5
    # Nothing was queued at the carrier ahead of the greeting: the first thing the caller heard
    # is the agent's voice, not the bed.
    first = int(np.flatnonzero(on)[0])
    assert tone_amplitude(on[first : first + 160]) > 3000
