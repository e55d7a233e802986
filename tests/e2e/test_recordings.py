"""Call recordings end to end: an agent with ``enable_recording`` talks with the simulator's caller;
the partner then downloads the WAV through a signed URL, and its two channels are compared with
what the simulator's caller said (left) and heard (right)."""

from __future__ import annotations

import asyncio
import io
import time
import wave

import httpx
import numpy as np
import pytest

from callwright.sim import Scenario
from callwright.sim.audio import SAMPLE_RATE
from tests.e2e.helpers import (
    after_the_intro,
    hang_up_after_the_reply,
    heard_speech_secs,
    make_tenant,
    new_number,
    start_call,
    wait_for_status,
)

pytestmark = pytest.mark.e2e

SPOKEN = "I would like to book an appointment for tomorrow morning"
SCRIPT = {"replies": [{"text": "Sure, I have booked you for nine tomorrow morning."}]}
# How far the recording's timeline may sit from the simulator's (two clocks, one per side of a
# loopback socket, each read by a busy event loop), and the two channels from each other.
MAX_OFFSET_SECS = 0.25
MAX_SKEW_SECS = 0.1
WINDOW_SECS = 0.5  # the stretch of audio lined up at a time
# How far the recording's length may be from what the caller heard: the two ends of the stream are
# seen by two event loops, which a loaded box made 0.52 s apart (run T-A). Missing or doubled
# audio would be far more.
MAX_LENGTH_GAP_SECS = 1.5


async def _recorded_call(api, carrier_sim, provider: str, scenario: Scenario, **agent_fields):
    tenant = await make_tenant(api, carrier_sim, [provider], enable_recording=True, **agent_fields)
    number = new_number()
    carrier_sim.set_scenario(number, scenario)
    call_id = await start_call(api, tenant, provider, number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier=provider, timeout=15)
    # The caller hangs up once the agent has answered it, however late the answer comes.
    await hang_up_after_the_reply(carrier_sim, sim_call)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=40)
    call = await wait_for_status(api, tenant, call_id)
    deadline = time.monotonic() + 10.0
    while call["recording_url"] is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # the media outcome is stored a moment after the hang-up
        call = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
    assert call["recording_url"], call
    minted = await api.get(f"/api/v2/calls/{call_id}/recording-url", headers=tenant.headers)
    assert minted.status_code == 200, minted.text
    async with httpx.AsyncClient(timeout=20) as anyone:  # no API key: the URL is the credential
        download = await anyone.get(minted.json()["data"]["recording_url"])
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(download.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, SAMPLE_RATE)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    return sim_call, frames[:, 0].astype(np.float64), frames[:, 1].astype(np.float64)


def _line_up(recorded: np.ndarray, window: np.ndarray, at: int, reach: int) -> tuple[float, float]:
    """Where ``window`` (from sample ``at`` of the reference) lines up best in ``recorded``
    (padded by ``reach`` at its start): the lag in seconds and the normalised correlation."""
    size = len(window)
    span = recorded[at : at + size + 2 * reach]
    if len(span) < size:
        return 0.0, 0.0
    n = 1 << (len(span) + size).bit_length()
    scores = np.fft.irfft(np.fft.rfft(span, n) * np.conj(np.fft.rfft(window, n)), n)[: len(span) - size + 1]
    best = int(np.argmax(scores))
    match = span[best : best + size]
    r = float(np.dot(match, window) / (np.linalg.norm(match) * np.linalg.norm(window) + 1e-9))
    return (best - reach) / SAMPLE_RATE, r


def _window_lags(recorded: np.ndarray, reference: np.ndarray) -> list[tuple[float, float, float]]:
    """For each half second of ``reference`` that is mostly sound: where it lines up best in
    ``recorded`` (seconds, positive: later in the recording, searched within ±0.5 s) and the
    normalised correlation there. Per window, as the two sides' clocks may differ by a few ms from
    one utterance to the next, which is nothing to a listener but everything to a raw
    waveform correlation over the whole call.

    A stall of either side's event loop inside a window (a gap one side heard at its own moment)
    shifts the window's two parts against each other: the window then counts by the better of its
    halves, which one stall leaves whole."""
    size, reach = int(WINDOW_SECS * SAMPLE_RATE), SAMPLE_RATE // 2
    recorded = np.r_[np.zeros(reach), recorded]  # so a window at 0 s can be found earlier
    found = []
    for at in range(0, len(reference) - size, size):
        window = reference[at : at + size]
        blocks = np.sqrt((window.reshape(-1, 160) ** 2).mean(axis=1))
        if (blocks > 300).mean() < 0.5:  # mostly silence: nothing to line up
            continue
        lag, r = _line_up(recorded, window, at, reach)
        if r <= 0.9:
            half = size // 2
            lag, r = max(
                (_line_up(recorded, window[:half], at, reach), _line_up(recorded, window[half:], at + half, reach)),
                key=lambda found: found[1],
            )
        found.append((at / SAMPLE_RATE, lag, r))
    return found


def _offset(recorded: np.ndarray, reference: np.ndarray, what: str, *, cuts: tuple[float, ...] = ()) -> float:
    """How far ``reference`` sits in ``recorded`` (the median over its windows), after checking
    that it is there, at most ``MAX_OFFSET_SECS`` from where it should be. A window may straddle a
    stall of either side's event loop (a gap the simulator heard at its own moment), so not every
    window must match closely: a stall spoils one window or two, however long the call, so up to
    two (or a fifth, if more) may fall short, whatever their score (a stall as the intro began
    left one at 0.38). The other side's audio on the channel would spoil them all.

    ``cuts`` (seconds into ``reference``): where a clear cut the agent's audio. The platform cuts
    its recording where it sent the clear, the simulator where the clear arrived; the two differ
    by the clear's trip, which a loaded box makes long. Windows within ``MAX_OFFSET_SECS`` of a
    cut are left out here, and the cut is checked on its own."""
    windows = [
        window
        for window in _window_lags(recorded, reference)
        if not any(window[0] - MAX_OFFSET_SECS < cut < window[0] + WINDOW_SECS + MAX_OFFSET_SECS for cut in cuts)
    ]
    assert len(windows) >= 2, f"no {what} audio to compare"
    matched = [(at, lag) for at, lag, r in windows if r > 0.9]
    short = len(windows) - len(matched)
    assert len(matched) >= 2 and short <= max(2, 0.2 * len(windows)), f"{what} audio is not on its channel: {windows}"
    for at, lag in matched:
        assert abs(lag) < MAX_OFFSET_SECS, f"{what} audio at {at:.1f} s is {lag:.3f} s off"
    return float(np.median([lag for _, lag in matched]))


def _rms(track: np.ndarray, start: float, end: float) -> float:
    part = track[max(0, int(start * SAMPLE_RATE)) : max(0, int(end * SAMPLE_RATE))]
    return float(np.sqrt(np.mean(part**2))) if len(part) else 0.0


@pytest.mark.parametrize("provider", ["vobiz", "exotel"])  # µ-law on the wire, and PCM16
async def test_the_recording_has_the_caller_left_and_the_agent_right_in_time(api, carrier_sim, provider):
    # The intro plays, the caller speaks once it is over, the agent answers, the caller hangs up.
    scenario = after_the_intro(SPOKEN)
    sim_call, left, right = await _recorded_call(api, carrier_sim, provider, scenario, script=SCRIPT)
    said = sim_call.caller_audio().astype(np.float64)  # from the start of the media stream
    heard = sim_call.agent_audio().astype(np.float64)
    origin = sim_call.media_started_at

    assert abs(len(left) - len(heard)) / SAMPLE_RATE < MAX_LENGTH_GAP_SECS, (len(left), len(heard))
    caller_lag = _offset(left, said, "the caller's")
    agent_lag = _offset(right, heard, "the agent's")
    print(f"\n{provider}: caller channel {caller_lag * 1000:+.1f} ms, agent channel {agent_lag * 1000:+.1f} ms")
    assert abs(caller_lag - agent_lag) < MAX_SKEW_SECS, "the two channels are aligned"
    # Neither side's audio is on the other's channel.
    assert all(r < 0.5 for _, _, r in _window_lags(right, said))
    assert all(r < 0.5 for _, _, r in _window_lags(left, heard))

    speech = sim_call.caller_speech()[0]
    start, end = speech.starts_at - origin + caller_lag, speech.ends_at - origin + caller_lag
    assert _rms(left, start + 0.2, end - 0.2) > 300, "the caller's words are on the left"
    assert _rms(left, 0.5, start - 0.3) < 50, "the left is quiet before the caller speaks"
    # While only the caller spoke, the agent was silent, and so is the right channel.
    assert heard_speech_secs(sim_call, after=speech.starts_at, until=speech.ends_at) == 0
    assert _rms(right, start + 0.1, end - 0.1) < 50
    assert _rms(right, 0.0, start) > 300, "the intro is on the right"
    assert _rms(right, end, len(right) / SAMPLE_RATE) > 100, "and the reply"


async def test_only_the_agent_audio_the_caller_heard_is_recorded_after_a_barge_in(api, carrier_sim):
    long_intro = (
        "Hello {{name}}, this is Callwright calling about your appointment next week. "
        "I have a few details to go through with you, so please bear with me for a minute."
    )
    # The caller speaks over the intro 2 s into hearing it, however late it came (at a fixed 1.5 s
    # from the answer, a late intro left one window of it before the cut: run T).
    scenario = Scenario.answer("Sorry, who is this?", barges_in_after_secs=2.0, leading_silence_secs=0.0)
    sim_call, _left, right = await _recorded_call(
        api, carrier_sim, "vobiz", scenario, intro_message=long_intro, script=SCRIPT
    )
    assert sim_call.clears, "the caller's speech cleared the carrier's queued audio"
    clear = sim_call.clears[0]
    origin = sim_call.media_started_at
    heard = sim_call.agent_audio().astype(np.float64)
    agent_lag = _offset(right, heard, "the agent's", cuts=(clear.at - origin,))
    # The intro stopped at the clear: the rest of it, dropped by the carrier, is not recorded.
    speech_end = sim_call.caller_speech()[0].ends_at
    assert _rms(right, 0.3, clear.at - origin - 0.2) > 300, "the intro's start is there"
    assert _rms(right, clear.at - origin + agent_lag + 0.1, speech_end - origin) < 50
