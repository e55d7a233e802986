"""Twilio's far end: call-progress callbacks, the Url webhook and TwiML, Media Streams, AMD, and
the REST hang-up; signatures checked with twilio's RequestValidator, the REST API with its SDK.
"""

from __future__ import annotations

import asyncio
import base64
import math

import numpy as np
import pytest
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client as TwilioClient

from callwright.sim import DtmfPress, EndReason, Scenario, Utterance
from callwright.sim.audio import tone
from tests.sim import shapes
from tests.sim.agent_platform import AgentScript, Received
from tests.sim.conftest import CALLER_ID, TOKEN, TWILIO_SID, check_the_clear_cut_the_tone, fresh_number
from tests.sim_fixture import send_to_simulator

pytestmark = pytest.mark.e2e

SPEECH = Utterance.from_pcm(tone(350, 0.4).tobytes())


def signed(request: Received) -> bool:
    signature = request.headers["x-twilio-signature"]
    return RequestValidator(TOKEN).validate(request.url, request.params, signature)


async def test_answered_call_speaks_media_streams_and_reports_progress(dialer, agent_platform):
    press = DtmfPress(digit="7", at_secs=0.5)
    scenario = Scenario.caller_hangs_up_after(
        1.5, SPEECH, ring_secs=0.1, leading_silence_secs=0.3, dtmf=(press,)
    )
    script = AgentScript(tone_secs=0.5, mark="hello")
    call, tag = await dialer.call_to_end("twilio", scenario, script)

    statuses = agent_platform.received("status", tag)
    progress = [s.params["CallStatus"] for s in statuses]
    assert progress == ["initiated", "ringing", "in-progress", "completed"]
    assert [s.params["SequenceNumber"] for s in statuses] == ["0", "1", "2", "3"]
    assert all(signed(s) for s in statuses)
    completed = statuses[-1].params
    # Billed seconds, rounded up: 1.5 s makes 2, or more if a busy loop hung up late.
    assert completed["CallDuration"] == str(math.ceil(call.ended_at - call.answered_at))
    assert int(completed["CallDuration"]) >= 2 and completed["SipResponseCode"] == "200"
    assert completed["CallbackSource"] == "call-progress-events"

    (answer,) = agent_platform.received("answer", tag)
    assert signed(answer)
    expected = {
        "CallSid": call.call_id,
        "AccountSid": TWILIO_SID,
        "From": CALLER_ID,
        "To": call.to,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
    }
    assert expected.items() <= answer.params.items()

    session = agent_platform.session(tag)
    shapes.TwilioConnected.model_validate(session.messages[0].message)
    start = shapes.TwilioStart.model_validate(session.messages[1].message)
    assert start.start.callSid == call.call_id and start.start.customParameters == {"call_id": tag}
    assert start.streamSid == start.start.streamSid == call.stream_id
    assert start.sequenceNumber == "1"
    media = [shapes.TwilioMedia.model_validate(m) for m in session.events("media")]
    assert {len(base64.b64decode(m.media.payload)) for m in media} == {160}
    assert [m.media.chunk for m in media[:3]] == ["1", "2", "3"]
    numbers = [int(m["sequenceNumber"]) for m in session.events() if "sequenceNumber" in m]
    assert numbers == list(range(1, len(numbers) + 1))
    dtmf = shapes.TwilioDtmf.model_validate(session.first("dtmf"))
    assert dtmf.dtmf.digit == "7"

    mark = shapes.TwilioMark.model_validate(session.first("mark"))
    assert mark.mark.name == "hello"
    # Acknowledged once its 0.5 s of audio has played: never before; late only by a busy loop.
    assert 0.48 <= session.time_of("mark") - session.time_of("start") < 5
    # The caller hung up: stop, then the close.
    stop = shapes.TwilioStop.model_validate(session.messages[-1].message)
    assert stop.stop.callSid == call.call_id and session.closed_at is not None
    assert call.end_reason is EndReason.CALLEE_HUNG_UP
    heard = np.flatnonzero(np.abs(call.agent_audio()) > 1000)
    assert (heard[-1] - heard[0]) / 8000 == pytest.approx(0.5, abs=0.03)


async def test_clear_echoes_the_dropped_marks_at_once(dialer, agent_platform):
    scenario = Scenario.caller_hangs_up_after(1.0, SPEECH, ring_secs=0.05, leading_silence_secs=0.1)
    script = AgentScript(tone_secs=2.0, mark="long", clear_after_secs=0.4)
    call, tag = await dialer.call_to_end("twilio", scenario, script)
    session = agent_platform.session(tag)
    (clear,) = call.clears
    # §3.5: the mark of the dropped audio comes back when the clear drops it, not once the 2 s
    # tone would have played. The clear came before the mark was due (it dropped audio queued
    # ahead of the mark), and the mark came back in answer to it, once.
    assert clear.dropped_secs > 0
    assert [m["mark"]["name"] for m in session.events("mark")] == ["long"]
    assert clear.at <= session.time_of("mark")
    assert 0.38 <= session.time_of("mark") - session.time_of("start")  # the clear is sent at 0.4 s
    # The clear comes 0.4 s into the 2 s tone (later on a busy loop).
    check_the_clear_cut_the_tone(call, 2.0)
    assert clear.speech_onset_at == pytest.approx(call.caller_started_at + 0.1)


async def test_twilio_sdk_places_and_hangs_up_a_call(sim, agent_platform):
    http_client = TwilioHttpClient()
    send_to_simulator(http_client.session, "twilio", sim)
    client = TwilioClient(TWILIO_SID, TOKEN, http_client=http_client)
    number, tag = fresh_number(), "sdk"
    sim.set_scenario(number, Scenario.answer(SPEECH, ring_secs=0.05, machine_detection_secs=0.3))
    created = await asyncio.to_thread(
        client.calls.create,
        to=number,
        from_=CALLER_ID,
        url=agent_platform.answer_url("twilio", tag),
        status_callback=agent_platform.status_url(tag),
        status_callback_event=["completed"],
        machine_detection="Enable",
        async_amd="true",
        async_amd_status_callback=agent_platform.status_url("amd-" + tag),
        time_limit=30,
    )
    assert created.status == "queued" and created.sid.startswith("CA") and len(created.sid) == 34
    call = sim.call(created.sid)
    assert call.dial["MachineDetection"] == "Enable"
    assert call.dial["StatusCallbackEvent"] == ["completed"]
    while sim.call(created.sid).media_started_at is None:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)  # past AMD's verdict (0.3 s after answer)
    updated = await asyncio.to_thread(client.calls(created.sid).update, status="completed")
    assert updated.sid == created.sid
    call = await sim.wait_for_call_end(created.sid, 5)
    fetched = await asyncio.to_thread(client.calls(created.sid).fetch)
    assert fetched.status == "completed" and fetched.answered_by == "human"
    (amd,) = agent_platform.received("status", "amd-" + tag)
    assert amd.params["AnsweredBy"] == "human" and signed(amd)
    (done,) = agent_platform.received("status", tag)
    assert done.params["CallStatus"] == "completed"
    assert agent_platform.session(tag).events()[-1]["event"] == "stop"
    assert call.end_reason is EndReason.API_HANGUP


async def test_hanging_up_a_call_that_is_gone_is_20404(dialer):
    call, _ = await dialer.call_to_end("twilio", Scenario.busy(ring_secs=0.05))
    url = f"{dialer.sim.api_urls()['twilio']}/Accounts/{TWILIO_SID}/Calls/{call.call_id}.json"
    response = await dialer.http.post(url, data={"Status": "completed"}, auth=(TWILIO_SID, TOKEN))
    assert response.status_code == 404 and response.json()["code"] == 20404
    fetched = await dialer.http.get(url, auth=(TWILIO_SID, TOKEN))
    assert fetched.json()["status"] == "busy"


async def test_voicemail_with_detect_message_end_reports_the_beep(dialer, agent_platform):
    scenario = Scenario.voicemail("Leave a message.", ring_secs=0.05, leading_silence_secs=0.2)
    script = AgentScript(tone_secs=0.2, mark=None, close_after_secs=2.8)
    number, tag = dialer.prepare(scenario, script)
    amd_url = agent_platform.status_url("amd-" + tag)
    detection = {"MachineDetection": "DetectMessageEnd", "AsyncAmd": "true"}
    call_id = await dialer.place("twilio", number, tag, **detection, AsyncAmdStatusCallback=amd_url)
    call = await dialer.sim.wait_for_call_end(call_id, 8)
    (amd,) = agent_platform.received("status", "amd-" + tag)
    assert amd.params["AnsweredBy"] == "machine_end_beep"
    _greeting, beep = call.caller_speech()
    assert beep.label == "beep"
    # The verdict comes once the beep has ended.
    amd_at = next(cb.sent_at for cb in call.callbacks if cb.kind == "machine")
    assert amd_at == pytest.approx(beep.ends_at, abs=0.15)
    assert call.end_reason is EndReason.STREAM_CLOSED


async def test_answer_url_by_get_carries_the_params_in_the_signed_query(dialer, agent_platform):
    scenario = Scenario.caller_hangs_up_after(0.3, ring_secs=0.05)
    script = AgentScript(tone_secs=0.1)
    call, tag = await dialer.call_to_end("twilio", scenario, script, Method="GET")
    (answer,) = agent_platform.received("answer", tag)
    assert answer.method == "GET" and answer.params["CallSid"] == call.call_id
    # §3.9: a GET is signed over the full URL, query included, with no POST params.
    assert RequestValidator(TOKEN).validate(answer.url, {}, answer.headers["x-twilio-signature"])
