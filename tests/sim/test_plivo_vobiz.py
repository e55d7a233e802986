"""Plivo's and Vobiz's far end, driven over real HTTP and WebSocket by a stand-in agent platform.

Signatures are checked with the official SDKs' validators; the stream's messages with strict shape
fixtures from carriers.md (tests/sim/shapes.py).
"""

from __future__ import annotations

import asyncio
import base64
import wave

import numpy as np
import pytest
from plivo.utils import validate_v3_signature as plivo_validate_v3
from vobiz.utils import validate_signature as vobiz_validate_v2
from vobiz.utils import validate_v3_signature as vobiz_validate_v3

from callwright.sim import EndReason, Scenario, Utterance
from callwright.sim.audio import tone
from tests.sim import shapes
from tests.sim.agent_platform import AgentScript, Received
from tests.sim.conftest import PLIVO_ID, TOKEN, VOBIZ_ID, check_the_clear_cut_the_tone

try:  # the official Plivo stream SDK's models, when installed (PyPI plivo-stream-sdk)
    from plivo_stream import types as plivo_types
except ImportError:
    plivo_types = None

pytestmark = pytest.mark.e2e

CARRIERS = ["plivo", "vobiz"]
SPEECH = Utterance.from_pcm(tone(350, 0.4).tobytes())


def signed_by_carrier(carrier: str, request: Received) -> bool:
    headers, url = request.headers, request.url
    if carrier == "plivo":
        nonce, signature = headers["x-plivo-signature-v3-nonce"], headers["x-plivo-signature-v3"]
        return plivo_validate_v3("POST", url, nonce, TOKEN, signature, dict(request.params))
    v2_nonce, v2 = headers["x-vobiz-signature-v2-nonce"], headers["x-vobiz-signature-v2"]
    v3_nonce, v3 = headers["x-vobiz-signature-v3-nonce"], headers["x-vobiz-signature-v3"]
    # §1.9: the SDK's V3 matches Vobiz's only with no params and the URL without its query.
    bare_url = url.split("?")[0]
    return vobiz_validate_v2(url, v2_nonce, v2, TOKEN) and vobiz_validate_v3(
        "POST", bare_url, v3_nonce, TOKEN, v3, {}
    )


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_answered_call_speaks_the_carriers_protocol_and_callbacks(
    carrier, dialer, agent_platform, tmp_path
):
    scenario = Scenario.caller_hangs_up_after(1.6, SPEECH, ring_secs=0.1, leading_silence_secs=0.3)
    script = AgentScript(tone_secs=0.6, mark="greeting-done")
    call, tag = await dialer.call_to_end(carrier, scenario, script)

    # The answer request: the documented fields, signed so that the SDK's validator accepts it.
    (answer,) = agent_platform.received("answer", tag)
    call_uuid = answer.params["CallUUID"]
    assert answer.params["Event"] == "StartApp" and answer.params["CallStatus"] == "in-progress"
    assert answer.params["Direction"] == "outbound" and answer.params["ALegUUID"] == call_uuid
    assert answer.params["ALegRequestUUID"] == call.call_id
    assert (answer.params["From"], answer.params["To"]) == ("+14155550100", call.to)
    assert signed_by_carrier(carrier, answer)
    # Vobiz's request_uuid is the CallUUID; Plivo's are two ids.
    assert (call_uuid == call.call_id) is (carrier == "vobiz")

    statuses = agent_platform.received("status", tag)
    # Once, under two whole runs at once, only one of the two had arrived: most likely the hang-up
    # went on a pooled connection as the platform closed it (see sim/transport.py). If it comes
    # back, say what the simulator sent and what it was answered.
    assert len(statuses) == 2, (statuses, call.callbacks)
    ring, hangup = statuses
    assert (ring.params["Event"], ring.params["CallStatus"]) == ("Ring", "ringing")
    assert signed_by_carrier(carrier, ring) and signed_by_carrier(carrier, hangup)
    assert hangup.params["Event"] == "Hangup" and hangup.params["CallStatus"] == "completed"
    assert hangup.params["HangupCause"] == "NORMAL_CLEARING"
    cause = (hangup.params["HangupCauseName"], hangup.params["HangupSource"])
    assert cause == ("Normal Hangup", "Callee")
    assert hangup.params["Duration"] == "2" and hangup.params["AnswerTime"]
    assert [cb.status_code for cb in call.callbacks] == [200, 200, 200]

    # The stream: start with nested ids and the XML's extraHeaders, then 20 ms µ-law frames.
    session = agent_platform.session(tag)
    start = shapes.PlivoStart.model_validate(session.first("start"))
    account_id = PLIVO_ID if carrier == "plivo" else VOBIZ_ID
    assert (start.start.callId, start.start.accountId) == (call_uuid, account_id)
    assert start.start.mediaFormat.model_dump() == {"encoding": "audio/x-mulaw", "sampleRate": 8000}
    assert start.extra_headers == f"callId={tag}"
    media = [shapes.PlivoMedia.model_validate(m) for m in session.events("media")]
    assert {len(base64.b64decode(m.media.payload)) for m in media} == {160}
    assert [m.media.chunk for m in media] == list(range(1, len(media) + 1))
    assert 65 <= len(media) <= 90  # about 1.6 s of 20 ms frames
    assert media[1].media.timestamp == "20"
    # No inbound stop: the call's end just closes the socket.
    assert session.events("stop") == [] and session.closed_at is not None

    # playedStream once the 0.6 s queued before the checkpoint has played.
    played_model = shapes.PlivoPlayedStream if carrier == "plivo" else shapes.VobizPlayedStream
    played = played_model.model_validate(session.first("playedStream"))
    if plivo_types is not None and carrier == "plivo":
        plivo_types.StartEvent.model_validate(session.first("start"))
        plivo_types.MediaEvent.model_validate(session.first("media"))
        plivo_types.PlayedStreamEvent.model_validate(session.first("playedStream"))
    assert played.name == "greeting-done"
    # Once the 0.6 s before it has played: never before; late only by a busy loop.
    assert 0.58 <= session.time_of("playedStream") - session.time_of("start") < 5

    # What was recorded: the agent's 0.6 s tone, heard from the start of the stream.
    assert call.end_reason is EndReason.CALLEE_HUNG_UP
    agent = call.agent_audio()
    heard = np.flatnonzero(np.abs(agent) > 1000)
    assert (heard[-1] - heard[0]) / 8000 == pytest.approx(0.6, abs=0.03)
    assert 0 <= call.first_agent_audio_at - call.media_started_at < 5  # sent on the start
    # The caller speaks 0.3 s after answering; the stream carries it from the first whole frame.
    assert [round(s.starts_at - call.caller_started_at, 3) for s in call.caller_speech()] == [0.3]
    assert 0 <= call.caller_started_at - call.answered_at < 0.02
    # A frame boundary, soon after (how soon is the loop's: only a hang is refused).
    streamed_from = call.caller_streamed_from
    assert streamed_from is not None and 0 <= streamed_from < 5
    assert round(streamed_from / 0.02, 6).is_integer(), streamed_from
    assert [m.event for m in call.agent_events()][:2] == ["playAudio", "playAudio"]
    with wave.open(str(call.save_wav(tmp_path / "call.wav")), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        assert wav.getnframes() == len(agent)


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_rest_hangup_ends_the_call_as_an_api_request(carrier, dialer, agent_platform):
    scenario = Scenario.answer(SPEECH, ring_secs=0.05)
    number, tag = dialer.prepare(scenario, AgentScript(tone_secs=0.2))
    request_uuid = await dialer.place(carrier, number, tag)
    session_wait = asyncio.get_running_loop().time()
    while not agent_platform.received("answer", tag):
        await asyncio.sleep(0.02)
        assert asyncio.get_running_loop().time() - session_wait < 60  # a hang guard
    call_uuid = agent_platform.received("answer", tag)[0].params["CallUUID"]
    base = dialer.sim.api_urls()[carrier]
    auth_id = PLIVO_ID if carrier == "plivo" else VOBIZ_ID
    x_auth = {"X-Auth-ID": VOBIZ_ID, "X-Auth-Token": TOKEN}
    auth = {"auth": (PLIVO_ID, TOKEN)} if carrier == "plivo" else {"headers": x_auth}
    call_url = f"{base}/Account/{auth_id}/Call/{call_uuid}/"
    if carrier == "plivo":  # a request_uuid is not a call's id on Plivo
        missed = await dialer.http.delete(f"{base}/Account/{auth_id}/Call/{request_uuid}/", **auth)
        assert missed.status_code == 404
    live = await dialer.http.get(call_url, params={"status": "live"}, **auth)
    assert live.status_code == 200 and live.json()["call_status"] == "in-progress"

    assert (await dialer.http.delete(call_url, **auth)).status_code == 204
    call = await dialer.sim.wait_for_call_end(request_uuid, 5)
    assert (await dialer.http.delete(call_url, **auth)).status_code == 404

    hangup = agent_platform.received("status", tag)[-1]
    cause = (hangup.params["HangupSource"], hangup.params["HangupCauseName"])
    assert cause == ("API Request", "Normal Hangup")
    record = await dialer.http.get(call_url, **auth)
    if carrier == "vobiz":  # a finished Vobiz call is only in its CDR
        assert record.status_code == 404
        record = await dialer.http.get(f"{base}/Account/{auth_id}/cdr/{call_uuid}", **auth)
        assert record.status_code == 200 and record.json()["success"] is True
        detail = record.json()["data"]
    else:
        assert record.status_code == 200
        detail = record.json()
    assert "call_status" not in detail  # a finished record tells its end by end_time and cause
    assert (detail["hangup_source"], detail["hangup_cause_code"]) == ("API Request", 4000)
    assert call.end_reason is EndReason.API_HANGUP


async def test_plivo_cancels_a_ringing_call_by_its_request_uuid(dialer, agent_platform):
    number, tag = dialer.prepare(Scenario.slow_answer(5.0))
    request_uuid = await dialer.place("plivo", number, tag)
    await asyncio.sleep(0.2)
    url = f"{dialer.sim.api_urls()['plivo']}/Account/{PLIVO_ID}/Request/{request_uuid}/"
    assert (await dialer.http.delete(url, auth=(PLIVO_ID, TOKEN))).status_code == 204
    call = await dialer.sim.wait_for_call_end(request_uuid, 5)
    assert call.answered_at is None and agent_platform.received("answer", tag) == []
    hangup = agent_platform.received("status", tag)[-1]
    cause = (hangup.params["HangupCause"], hangup.params["HangupCauseName"])
    assert cause == ("ORIGINATOR_CANCEL", "Canceled")
    assert hangup.params["Duration"] == "0" and hangup.params["AnswerTime"] == ""


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_clear_audio_drops_queued_audio_and_is_acknowledged(carrier, dialer, agent_platform):
    scenario = Scenario.caller_hangs_up_after(1.2, SPEECH, ring_secs=0.05, leading_silence_secs=0.2)
    script = AgentScript(tone_secs=2.0, mark="long-answer", clear_after_secs=0.5)
    call, tag = await dialer.call_to_end(carrier, scenario, script)
    session = agent_platform.session(tag)
    model = shapes.PlivoClearedAudio if carrier == "plivo" else shapes.VobizClearedAudio
    model.model_validate(session.first("clearedAudio"))
    assert session.events("playedStream") == []  # the checkpoint's audio was dropped
    (clear,) = call.clears
    assert clear.after_onset_secs == pytest.approx(clear.at - call.caller_speech()[0].starts_at)
    # The agent clears 0.5 s into its 2 s tone (later on a busy loop).
    check_the_clear_cut_the_tone(call, 2.0)


@pytest.mark.parametrize(("carrier", "script"), [
    ("plivo", AgentScript(tone_secs=0.2, close_after_secs=0.5)),
    ("vobiz", AgentScript(tone_secs=0.2, close_after_secs=0.5, send_stop=True)),
])  # fmt: skip
async def test_stream_ended_by_the_platform_ends_the_xml_and_the_call(
    carrier, script, dialer, agent_platform
):
    scenario = Scenario.answer(ring_secs=0.05)
    call, tag = await dialer.call_to_end(carrier, scenario, script, timeout=60)
    assert call.end_reason is EndReason.STREAM_CLOSED
    hangup = agent_platform.received("status", tag)[-1]
    assert hangup.params["HangupCauseName"] == "End Of XML Instructions"
    assert hangup.params["HangupSource"] == ("Plivo" if carrier == "plivo" else "Vobiz")
    assert call.ended_at - call.media_started_at < 30  # ended by the close, not the 60 s limit


async def test_l16_stream_at_16k_and_an_answer_url_that_refuses(dialer, agent_platform):
    number, tag = dialer.prepare(Scenario.caller_hangs_up_after(0.5, SPEECH, ring_secs=0.05))
    agent_platform.documents[tag] = (
        '<Response><Stream bidirectional="true" keepCallAlive="true" '
        'contentType="audio/x-l16;rate=16000">'
        f"{agent_platform.ws_url('plivo', tag)}</Stream></Response>"
    )
    refused_number, refused_tag = dialer.prepare(Scenario.answer(ring_secs=0.05))
    agent_platform.answer_status[refused_tag] = 403
    ids = await asyncio.gather(
        dialer.place("plivo", number, tag), dialer.place("vobiz", refused_number, refused_tag)
    )
    _call, refused = await asyncio.gather(*(dialer.sim.wait_for_call_end(i, 5) for i in ids))

    start = shapes.PlivoStart.model_validate(agent_platform.session(tag).first("start"))
    assert start.start.mediaFormat.model_dump() == {"encoding": "audio/x-l16", "sampleRate": 16000}
    media = agent_platform.session(tag).events("media")
    payloads = {len(base64.b64decode(m["media"]["payload"])) for m in media}
    assert payloads == {640}

    answered = [(cb.kind, cb.status_code) for cb in refused.callbacks]
    assert answered == [("ring", 200), ("answer", 403), ("hangup", 200)]
    assert refused.end_reason is EndReason.ANSWER_FAILED and refused.media_started_at is None
