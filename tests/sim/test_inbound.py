"""Inbound calls the simulator places to an account's number: each carrier's real inbound request
to what the number routes to (Twilio's VoiceUrl, a Plivo/Vobiz application, an ExoPhone's flow),
signed as the carrier signs (checked with the official SDKs' validators), then the media stream."""

from __future__ import annotations

import json
import uuid

import pytest
from plivo.utils import validate_v3_signature as plivo_validate_v3
from twilio.request_validator import RequestValidator

from callwright.domain.providers import Provider
from callwright.sim import EndReason, Scenario
from tests.sim.agent_platform import AgentScript
from tests.sim.conftest import EXOPHONE, EXOTEL_SID, PLIVO_ID, TOKEN, TWILIO_SID, VOBIZ_ID, fresh_number

pytestmark = pytest.mark.e2e

CALLER = "+919812345678"


async def _ring(sim, agent_platform, carrier, account, number, tag):
    scenario = Scenario.caller_hangs_up_after(1.0, ring_secs=0.05)
    caller = fresh_number("+9198123")
    sim.set_scenario(caller, scenario)
    agent_platform.scripts[tag] = AgentScript(tone_secs=0.2, mark=None)
    call = await sim.place_inbound_call(carrier, account, to=number, from_=caller)
    await sim.wait_for_call_end(call.call_id, timeout=20)
    return call, caller


async def test_twilio_posts_the_numbers_voice_url_signed_with_direction_inbound(sim, agent_platform):
    tag, number = "in-tw-" + uuid.uuid4().hex[:8], fresh_number()
    sim.add_number("twilio", TWILIO_SID, number, voice_url=agent_platform.answer_url("twilio", tag))
    call, caller = await _ring(sim, agent_platform, "twilio", TWILIO_SID, number, tag)
    (answer,) = agent_platform.received("answer", tag)
    params = answer.params
    assert params["Direction"] == "inbound" and params["CallStatus"] == "ringing"
    assert (params["From"], params["To"], params["AccountSid"]) == (caller, number, TWILIO_SID)
    assert params["CallSid"] == call.call_id and call.direction == "inbound"
    assert RequestValidator(TOKEN).validate(answer.url, params, answer.headers["x-twilio-signature"])
    assert call.end_reason == EndReason.CALLEE_HUNG_UP and call.media_started_at is not None


@pytest.mark.parametrize("carrier", ["plivo", "vobiz"])
async def test_plivo_and_vobiz_post_the_applications_answer_url(sim, agent_platform, carrier):
    account = PLIVO_ID if carrier == "plivo" else VOBIZ_ID
    tag, number = f"in-{carrier}-" + uuid.uuid4().hex[:8], fresh_number()
    application = sim.add_application(carrier, account, name="ours", answer_url=agent_platform.answer_url(carrier, tag))
    sim.state.numbers.add_number(Provider(carrier), account, number, app_id=application.app_id)
    call, caller = await _ring(sim, agent_platform, carrier, account, number, tag)
    (answer,) = agent_platform.received("answer", tag)
    params = answer.params
    assert params["Direction"] == "inbound" and params["Event"] == "StartApp"
    assert params["CallUUID"] == call.call_id and "RequestUUID" not in params
    written = (caller.lstrip("+"), number.lstrip("+")) if carrier == "plivo" else (caller, number)
    assert (params["From"], params["To"]) == written
    if carrier == "plivo":
        headers = answer.headers
        nonce, signature = headers["x-plivo-signature-v3-nonce"], headers["x-plivo-signature-v3"]
        assert plivo_validate_v3("POST", answer.url, nonce, TOKEN, signature, dict(params))
    else:
        assert answer.headers["x-vobiz-signature-v3"] and answer.headers["x-vobiz-signature-v3-nonce"]
    assert call.end_reason == EndReason.CALLEE_HUNG_UP and call.media_started_at is not None


async def test_exotel_asks_the_voicebot_applet_url_of_the_exophones_flow(sim, agent_platform):
    tag = "in-exo-" + uuid.uuid4().hex[:8]
    agent_platform.documents[tag] = json.dumps({"url": agent_platform.ws_url("exotel", tag)})
    sim.set_exotel_flow(EXOTEL_SID, EXOPHONE, agent_platform.answer_url("exotel", tag))
    call, caller = await _ring(sim, agent_platform, "exotel", EXOTEL_SID, EXOPHONE, tag)
    (answer,) = agent_platform.received("answer", tag)
    params = answer.params
    assert answer.method == "GET" and params["Direction"] == "incoming"
    assert params["CallSid"] == call.call_id
    # Exotel writes numbers nationally.
    assert (params["CallFrom"], params["CallTo"]) == ("0" + caller[-10:], "0" + EXOPHONE[-10:])
    assert call.media_started_at is not None
    start = agent_platform.session(tag).first("start")["start"]
    assert (start["from"], start["to"]) == (caller, EXOPHONE)


async def test_a_number_routed_nowhere_is_not_called(sim):
    with pytest.raises(LookupError):
        await sim.place_inbound_call("twilio", TWILIO_SID, to=fresh_number(), from_=CALLER)
    sim.set_exotel_flow(EXOTEL_SID, EXOPHONE, None)
    with pytest.raises(LookupError):
        await sim.place_inbound_call("exotel", EXOTEL_SID, to=EXOPHONE, from_=CALLER)
