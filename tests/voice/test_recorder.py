"""The call recorder: each side's audio lands at its time on its own channel of a stereo WAV."""

from __future__ import annotations

import audioop
import json
import struct
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from pipecat.frames.frames import InterruptionFrame, OutputAudioRawFrame
from pipecat.serializers.twilio import TwilioFrameSerializer

from callwright.voice import recorder as recorder_module
from callwright.voice.recorder import FLUSH_BYTES, CallRecorder
from callwright.voice.stream_watch import WatchedSerializer
from tests.voice.media_caller import TWILIO

RATE = 8000


class Clock:
    """A hand-set monotonic clock, so a test says when each chunk arrived."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def at(self, secs: float) -> None:
        self.now = 100.0 + secs


def tone(secs: float, level: int = 8000, period: float = 5.0) -> bytes:
    samples = np.sin(np.arange(round(secs * RATE)) / period) * level
    return samples.astype("<i2").tobytes()


def read_wav(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    return frames[:, 0], frames[:, 1]


def loud(track: np.ndarray) -> np.ndarray:
    """Sample indexes of 10 ms blocks with sound in them (block starts)."""
    blocks = track[: len(track) // 80 * 80].reshape(-1, 80).astype(np.int64)
    return np.flatnonzero(np.abs(blocks).max(axis=1) > 0) * 80


class CallerStream:
    """The carrier's side of the stream: the caller's 20 ms frames (silence unless given), each
    read when due, so the caller's track runs on as a real stream's does."""

    def __init__(self, recorder: CallRecorder, clock: Clock) -> None:
        self.recorder, self.clock, self.sent = recorder, clock, 0

    def until(self, secs: float, audio: bytes = b"") -> None:
        while (self.sent + 1) * 0.02 <= secs + 1e-9:
            self.clock.at((self.sent + 1) * 0.02)
            start = self.sent * 320
            self.recorder.caller_audio(audio[start : start + 320].ljust(320, b"\0") if audio else bytes(320))
            self.sent += 1
        self.clock.at(secs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorder(tmp_path: Path, clock: Clock) -> CallRecorder:
    clock.at(0.0)
    return CallRecorder(tmp_path / "work", sample_rate=RATE, clock=clock)


async def test_a_caller_chunk_at_one_second_lands_at_sample_8000_on_the_left(recorder, clock, tmp_path):
    first, later = tone(0.1), tone(0.2, level=4000)
    recorder.caller_audio(first)
    clock.at(1.0)  # the carrier paused, then streamed again
    recorder.caller_audio(later)
    left, right = read_wav(await recorder.finish(tmp_path / "call.wav"))

    assert len(left) == 8000 + 1600
    assert left[:800].tobytes() == first
    assert not left[800:8000].any(), "the gap is silence"
    assert left[8000:].tobytes() == later
    assert not right.any(), "the agent said nothing"


async def test_an_agent_chunk_lands_at_its_send_time_on_the_right(recorder, clock, tmp_path):
    caller = CallerStream(recorder, clock)
    caller.until(0.5)
    recorder.agent_audio(tone(0.2))
    caller.until(2.0)
    left, right = read_wav(await recorder.finish(tmp_path / "call.wav"))

    assert right[4000:5600].tobytes() == tone(0.2)
    assert not right[:4000].any() and not right[5600:].any()
    assert not left.any()


async def test_the_callers_track_stays_whole_when_frames_arrive_late_or_bunched(recorder, clock, tmp_path):
    speech = tone(1.0)
    frames = [speech[i : i + 320] for i in range(0, len(speech), 320)]  # 20 ms frames
    # Read late while the pipeline started, then in a burst, then with ±50 ms of jitter.
    arrivals = [0.4] * 20 + [0.02 * (k + 1) + (0.05 if k % 3 else -0.05) for k in range(20, 50)]
    for frame, at in zip(frames, arrivals, strict=True):
        clock.at(at)
        recorder.caller_audio(frame)
    left, _ = read_wav(await recorder.finish(tmp_path / "call.wav"))
    assert left.tobytes() == speech


async def test_agent_audio_sent_ahead_queues_behind_what_is_playing(recorder, clock, tmp_path):
    first, second = tone(0.3), tone(0.3, level=3000)
    caller = CallerStream(recorder, clock)
    caller.until(1.0)
    recorder.agent_audio(first)
    caller.until(1.05)  # sent while the first is still playing: the carrier plays it next
    recorder.agent_audio(second)
    caller.until(2.0)
    _, right = read_wav(await recorder.finish(tmp_path / "call.wav"))
    assert right[8000:12800].tobytes() == first + second


async def test_a_clear_keeps_only_what_was_played(recorder, clock, tmp_path):
    caller = CallerStream(recorder, clock)
    caller.until(1.0)
    recorder.agent_audio(tone(2.0))  # queued at once: 1.0 s to 3.0 s
    caller.until(1.5)
    recorder.agent_cleared()  # barge-in: the carrier drops what it had not played
    caller.until(1.75)
    recorder.agent_audio(tone(0.25, level=2000))
    caller.until(4.0)
    _, right = read_wav(await recorder.finish(tmp_path / "call.wav"))

    assert right[8000:12000].tobytes() == tone(2.0)[:8000]
    assert not right[12000:14000].any(), "the dropped audio is not in the recording"
    assert right[14000:16000].tobytes() == tone(0.25, level=2000)
    assert not right[16000:].any()


async def test_agent_audio_queued_past_the_end_of_the_stream_was_never_heard(recorder, clock, tmp_path):
    caller = CallerStream(recorder, clock)
    caller.until(1.5)
    recorder.agent_audio(tone(3.0))  # sent in one go at 1.5 s; only 0.5 s of it played
    caller.until(2.0)  # then the stream closed
    left, right = read_wav(await recorder.finish(tmp_path / "call.wav"))
    assert len(left) == len(right) == 2 * RATE
    assert right[12000:].tobytes() == tone(3.0)[: 4000 * 2]


async def test_the_file_is_a_standard_stereo_pcm16_wav(recorder, clock, tmp_path):
    caller = CallerStream(recorder, clock)
    caller.until(0.25, tone(0.25))
    recorder.agent_audio(tone(0.5, level=1000))
    caller.until(0.8)
    path = await recorder.finish(tmp_path / "call.wav")
    header = path.read_bytes()[:44]
    riff, size, wave_id, fmt, fmt_size = struct.unpack("<4sI4s4sI", header[:20])
    audio_format, channels, rate, byte_rate, block_align, bits = struct.unpack("<HHIIHH", header[20:36])
    data_id, data_size = struct.unpack("<4sI", header[36:44])
    assert (riff, wave_id, fmt, fmt_size, data_id) == (b"RIFF", b"WAVE", b"fmt ", 16, b"data")
    assert (audio_format, channels, rate, byte_rate, block_align, bits) == (1, 2, 8000, 32000, 4, 16)
    frames = round(0.8 * RATE)  # the stream's length (the agent's half second ended at 0.75 s)
    assert data_size == frames * 4
    assert size == 36 + data_size == path.stat().st_size - 8


async def test_memory_stays_bounded_over_a_long_call_with_a_long_gap(recorder, clock, tmp_path):
    frame = tone(0.02)
    peak = 0
    for k in range(60 * 50):  # a minute of 20 ms frames both ways
        clock.at(k * 0.02)
        recorder.caller_audio(frame)
        recorder.agent_audio(frame)
        peak = max(peak, len(recorder._caller.pending), len(recorder._agent.pending))
    clock.at(600.0)  # then nine minutes with nothing from either side
    recorder.agent_audio(frame)
    clock.at(600.02)
    recorder.caller_audio(frame)
    peak = max(peak, len(recorder._agent.pending), len(recorder._caller.pending))
    assert peak < FLUSH_BYTES + 2 * len(frame)
    left, right = read_wav(await recorder.finish(tmp_path / "call.wav"))
    assert len(right) == 600 * RATE + 320
    assert right[:160].tobytes() == frame and right[-320:-160].tobytes() == frame
    assert not right[60 * RATE : -320].any()
    assert left[: 60 * RATE].tobytes() == frame * 3000
    assert not left[60 * RATE : -160].any() and left[-160:].tobytes() == frame


async def test_nothing_recorded_writes_no_file(recorder, tmp_path):
    assert await recorder.finish(tmp_path / "call.wav") is None
    assert not (tmp_path / "call.wav").exists()


async def test_a_failed_disk_write_is_reported_not_silently_kept(recorder, tmp_path, voice_logs):
    voice_logs.allowed.add("a call recording could not be written")
    recorder._caller.file.close()  # every later write to it fails, as on a full or lost disk
    recorder.caller_audio(tone(3.0))
    with pytest.raises(recorder_module.RecordingFailed):
        await recorder.finish(tmp_path / "call.wav")
    assert not (tmp_path / "call.wav").exists()


async def test_the_watched_serializer_records_both_directions_and_the_clear(tmp_path, clock):
    clock.at(0.0)
    recorder = CallRecorder(tmp_path / "work", sample_rate=RATE, clock=clock)
    carrier = TwilioFrameSerializer("MZ1", "CA1", params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
    serializer = WatchedSerializer(carrier, on_stop=lambda: None, on_first_audio=lambda: None, recorder=recorder)
    await serializer.setup(SimpleNamespace(audio_in_sample_rate=8000, audio_out_sample_rate=8000))

    spoken = audioop.lin2ulaw(tone(1.0), 2)
    for k in range(50):  # one second of the caller (µ-law on the wire, PCM16 in the pipeline)
        clock.at(k * 0.02)
        await serializer.deserialize(json.dumps(TWILIO.media("1", k, spoken[k * 160 : (k + 1) * 160])))
    clock.at(0.2)
    await serializer.serialize(OutputAudioRawFrame(tone(0.5), sample_rate=8000, num_channels=1))
    clock.at(0.4)
    await serializer.serialize(InterruptionFrame())
    left, right = read_wav(await recorder.finish(tmp_path / "call.wav"))

    assert len(left) == RATE
    assert np.corrcoef(left, np.frombuffer(tone(1.0), dtype="<i2"))[0, 1] > 0.99
    assert right[1600:3200].tobytes() == tone(0.5)[:3200]
    assert not right[3200:].any(), "the clear dropped the rest"
