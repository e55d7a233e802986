"""Exotel's Connect Voice AI far end (AgentStream protocol, multipart status callbacks) and MCube's
click-to-call (JSON webhooks, call release). Shapes from carriers.md §4.5 and §5: no SDK oracle
exists for either, so these are unverified against live traffic.
"""

from __future__ import annotations

import asyncio
import base64

import pytest

from callwright.sim import EndReason, Scenario, Utterance
from callwright.sim.audio import tone
from tests.sim import shapes
from tests.sim.agent_platform import AgentScript
from tests.sim.conftest import EXOPHONE, EXOTEL_KEY, EXOTEL_SID, MCUBE_JWT, TOKEN

pytestmark = pytest.mark.e2e

SPEECH = Utterance.from_pcm(tone(350, 0.4).tobytes())


async def test_exotel_streams_pcm_in_its_own_words(dialer, agent_platform):
    scenario = Scenario.caller_hangs_up_after(1.5, SPEECH, ring_secs=0.05, leading_silence_secs=0.2)
    script = AgentScript(tone_secs=0.6, mark="hi")
    number, tag = dialer.prepare(scenario, script, country="+9198765")
    stream_url = agent_platform.ws_url("exotel", tag).replace("ws://", "ws://bot:secret@")
    stream_url += "&lang=hi"
    call_id = await dialer.place(
        "exotel", number, tag, stream_url=stream_url, CustomField="order-42"
    )
    call = await dialer.sim.wait_for_call_end(call_id, 10)

    session = agent_platform.session(tag)
    # §4.4: credentials in the URL arrive as Basic auth; the query's pairs as custom_parameters.
    assert session.headers["authorization"] == "Basic " + base64.b64encode(b"bot:secret").decode()
    shapes.ExotelConnected.model_validate(session.messages[0].message)
    start = shapes.ExotelStart.model_validate(session.messages[1].message)
    assert start.start.custom_parameters == {"tag": tag, "lang": "hi"}
    assert (start.start.call_sid, start.start.from_, start.start.to) == (call_id, number, EXOPHONE)
    assert start.start.media_format.sample_rate == "8000"
    media = [shapes.ExotelMedia.model_validate(m) for m in session.events("media")]
    assert {len(base64.b64decode(m.media.payload)) for m in media} == {3200}
    assert 6 <= len(media) <= 8  # 1.5 s of 200 ms chunks
    mark = shapes.ExotelMark.model_validate(session.first("mark"))
    assert mark.mark.name == "hi"
    assert 0.58 <= session.time_of("mark") - session.time_of("start") < 5  # late: a busy loop
    stop = shapes.ExotelStop.model_validate(session.messages[-1].message)
    assert stop.stop.reason == "callended"
    # The agent's 3200 B chunks keep Exotel's rule; the tone was heard.
    assert call.media_violations == [] and call.first_agent_audio_at is not None

    answered, terminal = agent_platform.received("status", tag)
    assert answered.headers["content-type"].startswith("multipart/form-data")
    assert (answered.params["EventType"], answered.params["Status"]) == ("answered", "in-progress")
    assert (terminal.params["EventType"], terminal.params["Status"]) == ("terminal", "completed")
    assert terminal.params["ConversationDuration"] == "2"
    assert terminal.params["CustomField"] == "order-42"
    assert terminal.params["CallSid"] == call_id and terminal.params["Direction"] == "outbound-api"


async def test_exotel_records_agent_chunks_that_break_its_size_rule(dialer, agent_platform):
    # 0.3 s of PCM is 4800 B: one 3300 B chunk (not a multiple of 320 B), then 1500 B (too small).
    script = AgentScript(tone_secs=0.3, exotel_chunk_bytes=3300, close_after_secs=0.6)
    scenario = Scenario.answer(ring_secs=0.05)
    call, tag = await dialer.call_to_end("exotel", scenario, script, timeout=60)
    assert [v.split(": ")[1][:30] for v in call.media_violations] == [
        "agent media chunk of 3300 B br", "agent media chunk of 1500 B br"
    ]  # fmt: skip
    # The platform closing the socket ends the call (no next applet).
    assert call.end_reason is EndReason.STREAM_CLOSED and call.status == "completed"
    assert agent_platform.session(tag).events("stop") == []


async def test_exotel_lower_case_connect_and_an_unknown_caller_id(dialer, agent_platform):
    number, tag = dialer.prepare(Scenario.busy(ring_secs=0.05))
    base = f"{dialer.sim.api_urls()['exotel']}/v1/accounts/{EXOTEL_SID}/calls/connect"
    form = {
        "from": number,
        "callerid": EXOPHONE,
        "streamurl": agent_platform.ws_url("exotel", tag),
        "streamtype": "bidirectional",
        "statuscallback": agent_platform.status_url(tag),
    }
    auth = (EXOTEL_KEY, TOKEN)
    response = await dialer.http.post(base, data=form, auth=auth)
    assert response.status_code == 200
    call_id = response.json()["call"]["sid"]
    call = await dialer.sim.wait_for_call_end(call_id, 5)
    # Without StatusCallbackEvents: one POST at the end with the basic fields (§4.6).
    (final,) = agent_platform.received("status", tag)
    assert final.params["Status"] == "busy" and "EventType" not in final.params
    assert call.answered_at is None

    refused = await dialer.http.post(base, data={**form, "callerid": "+918000000000"}, auth=auth)
    assert refused.status_code == 400
    # v1 answers XML unless the path ends in .json (§4.1).
    classic = f"{dialer.sim.api_urls()['exotel']}/v1/Accounts/{EXOTEL_SID}/Calls/connect"
    as_xml = await dialer.http.post(classic, data=form, auth=auth)
    assert as_xml.text.startswith("<?xml") and "<TwilioResponse><Call><Sid>" in as_xml.text
    details = await dialer.http.get(f"{classic.removesuffix('/connect')}/{call_id}.json", auth=auth)
    assert details.json()["Call"]["Status"] == "busy"


async def test_mcube_click_to_call_posts_webhooks_and_releases(dialer, agent_platform):
    talk = Scenario.answer(SPEECH, ring_secs=0.05, leading_silence_secs=0.1)
    talk_number, talk_tag = dialer.prepare(talk)
    long_number, long_tag = dialer.prepare(Scenario.caller_hangs_up_after(30, ring_secs=0.05))
    talk_id, long_id = await asyncio.gather(
        dialer.place("mcube", talk_number[-10:], talk_tag),
        dialer.place("mcube", long_number, long_tag),
    )
    while dialer.sim.call(long_id).answered_at is None:
        await asyncio.sleep(0.02)
    release_url = f"{dialer.sim.base_url}/hangup-api/call-release"
    release = await dialer.http.post(release_url, json={"token": MCUBE_JWT, "callid": long_id})
    assert release.json()["status"] is True
    talked, released = await asyncio.gather(
        dialer.sim.wait_for_call_end(talk_id, 5), dialer.sim.wait_for_call_end(long_id, 5)
    )

    on_call, hangup = agent_platform.received("status", talk_tag)
    assert on_call.headers["content-type"] == "application/json"
    assert on_call.params["dialstatus"] == "ANSWER" and "endtime" not in on_call.params
    assert hangup.params["endtime"] and hangup.params["disconnectedby"] == "Customer"
    assert (hangup.params["callid"], hangup.params["refid"]) == (talk_id, talk_tag)
    assert talked.end_reason is EndReason.CALLEE_HUNG_UP
    # The customer talked for the script (0.1 s + 0.4 s) and a second more.
    assert talked.ended_at - talked.answered_at == pytest.approx(1.5, abs=0.1)

    released_hook = agent_platform.received("status", long_tag)[-1]
    assert released_hook.params["disconnectedby"] == "Agent"
    assert released.end_reason is EndReason.API_HANGUP
    again = await dialer.http.post(release_url, json={"token": MCUBE_JWT, "callid": long_id})
    assert again.json()["status"] is False


async def test_mcube_refuses_a_bad_token_and_reports_busy(dialer, agent_platform):
    bad = await dialer.mcube("9876543210", "x", HTTP_AUTHORIZATION="not-a-token")
    assert bad.status_code == 401
    _call, tag = await dialer.call_to_end("mcube", Scenario.busy(ring_secs=0.05))
    (final,) = agent_platform.received("status", tag)
    assert final.params["dialstatus"] == "Busy" and final.params["answeredtime"] == ""
