"""What the wrapped carrier serializer reports: the carrier's stop, the first audible agent audio."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from pipecat.frames.frames import InputAudioRawFrame, OutputAudioRawFrame, StartFrame
from pipecat.serializers.exotel import ExotelFrameSerializer
from pipecat.serializers.plivo import PlivoFrameSerializer
from pipecat.serializers.twilio import TwilioFrameSerializer

from callwright.voice.pipeline import out_frame_10ms_chunks
from callwright.voice.stream_watch import WatchedSerializer
from tests.voice.media_caller import EXOTEL, PLIVO, TWILIO


async def watched(carrier: object) -> tuple[WatchedSerializer, list[str]]:
    events: list[str] = []
    serializer = WatchedSerializer(
        carrier,
        on_stop=lambda: events.append("stop"),
        on_first_audio=lambda: events.append("audio"),
    )
    # Carrier serializers read only the pipeline's sample rates from the setup.
    await serializer.setup(SimpleNamespace(audio_in_sample_rate=8000, audio_out_sample_rate=8000))
    return serializer, events


def twilio() -> TwilioFrameSerializer:
    return TwilioFrameSerializer(
        "MZ1", "CA1", params=TwilioFrameSerializer.InputParams(auto_hang_up=False)
    )


@pytest.mark.parametrize(
    ("carrier", "wire"), [(twilio, TWILIO), (lambda: ExotelFrameSerializer("MZ1", "CA1"), EXOTEL)]
)
async def test_the_carriers_stop_message_is_reported_and_media_still_becomes_audio(
    carrier, wire
) -> None:
    serializer, events = await watched(carrier())
    frame = await serializer.deserialize(json.dumps(wire.media("1", 0, wire.inbound_frame)))
    assert isinstance(frame, InputAudioRawFrame)
    assert events == []
    assert await serializer.deserialize(json.dumps(wire.stop("1"))) is None
    assert events == ["stop"]


async def test_messages_that_merely_mention_stop_are_not_a_stop(voice_logs) -> None:
    voice_logs.allowed.update({"Failed to parse JSON message", "could not read"})
    serializer, events = await watched(twilio())
    for message in ['{"event": "mark", "mark": {"name": "stop"}}', 'not json "stop"', '"stop"']:
        assert await serializer.deserialize(message) is None
    assert events == []


async def test_a_message_the_carrier_serializer_chokes_on_is_dropped_not_raised(voice_logs) -> None:
    # Pipecat's Twilio serializer raises on JSON that is not an object; the transport would
    # stop reading the socket over it.
    voice_logs.allowed.add("could not read")
    serializer, _ = await watched(twilio())
    assert await serializer.deserialize("[1, 2]") is None
    assert [r.getMessage() for r in voice_logs.records] == [
        "Dropped a media message the carrier serializer could not read: "
        "AttributeError(\"'list' object has no attribute 'get'\")"
    ]


async def test_the_first_audible_agent_frame_is_reported_once() -> None:
    plivo = PlivoFrameSerializer(
        "S1", "C1", params=PlivoFrameSerializer.InputParams(auto_hang_up=False)
    )
    serializer, events = await watched(plivo)
    silence = OutputAudioRawFrame(bytes(320), sample_rate=8000, num_channels=1)
    tone = np.sin(np.arange(160) / 3) * 8000
    speech = OutputAudioRawFrame(tone.astype(np.int16).tobytes(), sample_rate=8000, num_channels=1)

    payload = await serializer.serialize(silence)
    assert json.loads(payload)["event"] == "playAudio"
    assert events == []
    await serializer.serialize(StartFrame())
    await serializer.serialize(speech)
    await serializer.serialize(speech)
    assert events == ["audio"]
    assert PLIVO.agent_audio(json.loads(await serializer.serialize(speech))) is not None


def test_outbound_media_messages_are_20_ms_unless_the_carrier_wants_fixed_packets() -> None:
    assert out_frame_10ms_chunks(None) == 2
    assert out_frame_10ms_chunks(3200) == 20  # Exotel: 3200 B = 200 ms of 8 kHz PCM16
    for bad in (0, 3000, -320):
        with pytest.raises(ValueError, match="multiple of 160"):
            out_frame_10ms_chunks(bad)


async def test_with_background_audio_the_agents_own_audio_is_timed_not_the_bed() -> None:
    from callwright.voice.background import BackgroundLoop, BackgroundMixer

    bed = np.full(800, 2000, dtype=np.int16)
    bed.setflags(write=False)
    mixer = BackgroundMixer(BackgroundLoop("flat", 8000, bed), volume=1.0, hold_secs=0)
    await mixer.start(8000)
    events: list[str] = []
    serializer = WatchedSerializer(
        twilio(), on_stop=lambda: None, on_first_audio=lambda: events.append("audio"), mixer=mixer
    )
    await serializer.setup(SimpleNamespace(audio_in_sample_rate=8000, audio_out_sample_rate=8000))

    async def send(agent: bytes) -> None:
        mixed = await mixer.mix(agent)  # as the output transport does, just before serializing
        assert await serializer.serialize(OutputAudioRawFrame(mixed, 8000, 1))

    await send(bytes(320))  # the bed alone: loud on the wire, but the agent is quiet
    assert events == [] and serializer.last_audio_at is None
    await send(np.full(160, 3000, dtype=np.int16).tobytes())
    assert events == ["audio"] and serializer.last_audio_at is not None
