"""The carriers' WebSocket messages as strict shape fixtures, from carriers.md §1.5, §2.5, §3.5 and
§4.5 (Plivo's also from the official plivo-stream-sdk ``types.py``). Not verified against live
traffic: no SDK oracle exists for Exotel, and ``plivo_stream`` is not installed here.

Strict: an unknown key or a number where the carrier sends a string fails validation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# --- Plivo (§2.5) and Vobiz (§1.5) ---------------------------------------------------------------


class PlivoMediaFormat(Shape):
    encoding: Literal["audio/x-mulaw", "audio/x-l16"]
    sampleRate: StrictInt


class PlivoStartData(Shape):
    callId: StrictStr
    streamId: StrictStr
    accountId: StrictStr
    tracks: list[StrictStr]
    mediaFormat: PlivoMediaFormat


class PlivoStart(Shape):
    event: Literal["start"]
    sequenceNumber: StrictInt
    start: PlivoStartData
    extra_headers: StrictStr


class PlivoMediaData(Shape):
    track: StrictStr
    timestamp: StrictStr
    chunk: StrictInt
    payload: StrictStr


class PlivoMedia(Shape):
    event: Literal["media"]
    sequenceNumber: StrictInt
    streamId: StrictStr
    media: PlivoMediaData
    extra_headers: StrictStr


class PlivoPlayedStream(Shape):
    event: Literal["playedStream"]
    sequenceNumber: StrictInt
    streamId: StrictStr
    name: StrictStr


class PlivoClearedAudio(Shape):
    event: Literal["clearedAudio"]
    sequenceNumber: StrictInt
    streamId: StrictStr


class VobizPlayedStream(Shape):
    event: Literal["playedStream"]
    name: StrictStr


class VobizClearedAudio(Shape):
    event: Literal["clearedAudio"]
    streamId: StrictStr


# --- Twilio (§3.5) -------------------------------------------------------------------------------


class TwilioConnected(Shape):
    event: Literal["connected"]
    protocol: Literal["Call"]
    version: Literal["1.0.0"]


class TwilioMediaFormat(Shape):
    encoding: Literal["audio/x-mulaw"]
    sampleRate: Literal[8000]
    channels: Literal[1]


class TwilioStartData(Shape):
    accountSid: StrictStr
    streamSid: StrictStr
    callSid: StrictStr
    tracks: list[StrictStr]
    customParameters: dict[str, StrictStr]
    mediaFormat: TwilioMediaFormat


class TwilioStart(Shape):
    event: Literal["start"]
    sequenceNumber: StrictStr
    start: TwilioStartData
    streamSid: StrictStr


class TwilioMediaData(Shape):
    track: StrictStr
    chunk: StrictStr
    timestamp: StrictStr
    payload: StrictStr


class TwilioMedia(Shape):
    event: Literal["media"]
    sequenceNumber: StrictStr
    media: TwilioMediaData
    streamSid: StrictStr


class TwilioMarkName(Shape):
    name: StrictStr


class TwilioMark(Shape):
    event: Literal["mark"]
    sequenceNumber: StrictStr
    streamSid: StrictStr
    mark: TwilioMarkName


class TwilioStopData(Shape):
    accountSid: StrictStr
    callSid: StrictStr


class TwilioStop(Shape):
    event: Literal["stop"]
    sequenceNumber: StrictStr
    streamSid: StrictStr
    stop: TwilioStopData


class TwilioDtmfData(Shape):
    track: Literal["inbound_track"]
    digit: StrictStr


class TwilioDtmf(Shape):
    event: Literal["dtmf"]
    streamSid: StrictStr
    sequenceNumber: StrictStr
    dtmf: TwilioDtmfData


# --- Exotel (§4.5) -------------------------------------------------------------------------------


class ExotelConnected(Shape):
    event: Literal["connected"]


class ExotelMediaFormat(Shape):
    encoding: Literal["audio/x-raw"]
    sample_rate: StrictStr
    bit_rate: Literal["16"]


class ExotelStartData(Shape):
    stream_sid: StrictStr
    call_sid: StrictStr
    account_sid: StrictStr
    from_: StrictStr = Field(alias="from")
    to: StrictStr
    custom_parameters: dict[str, StrictStr]
    media_format: ExotelMediaFormat


class ExotelStart(Shape):
    event: Literal["start"]
    sequence_number: StrictInt
    stream_sid: StrictStr
    start: ExotelStartData


class ExotelMediaData(Shape):
    chunk: StrictInt
    timestamp: StrictStr
    payload: StrictStr


class ExotelMedia(Shape):
    event: Literal["media"]
    sequence_number: StrictInt
    stream_sid: StrictStr
    media: ExotelMediaData


class ExotelMark(Shape):
    event: Literal["mark"]
    sequence_number: StrictInt
    stream_sid: StrictStr
    mark: TwilioMarkName


class ExotelStopData(Shape):
    call_sid: StrictStr
    account_sid: StrictStr
    reason: Literal["callended", "stopped"]


class ExotelStop(Shape):
    event: Literal["stop"]
    sequence_number: StrictInt
    stream_sid: StrictStr
    stop: ExotelStopData
