"""A transcript that comes late is still the caller's turn. Pipecat ended a user turn that had
had no event for 5 s even if its transcript was still on the way: a slow speech-to-text (a loaded
box, a cloud service's hiccup) then delivered the caller's words with no turn open. The fake STT
here answers 7 s after the caller stops speaking and says meanwhile that it is transcribing, as
Whisper does, so the turn waits for it (``tests/voice/test_caller_turns.py`` has an STT that
does not say)."""

from __future__ import annotations

import pytest

from callwright.voice.engines.fake import REPLY, TRANSCRIPT
from tests.e2e.helpers import (
    FAKE_ENGINE_FIELDS,
    after_the_intro,
    finished_call,
    hang_up_after_the_reply,
    make_tenant,
    new_number,
    start_call,
)

pytestmark = pytest.mark.e2e

FAKE = FAKE_ENGINE_FIELDS
STT_MS = 7000.0  # past EMPTY_TURN_SECS (5 s)


@pytest.fixture(scope="module")
def platform_settings() -> dict[str, object]:
    return {"fake_engines": True, "fake_stt_latency_ms": STT_MS}


async def test_words_transcribed_after_their_turn_timed_out_are_answered(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], intro_message="Hi.", **FAKE)
    number = new_number()
    carrier_sim.set_scenario(number, after_the_intro("Yes, please tell me more about it."))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await hang_up_after_the_reply(carrier_sim, sim_call, timeout=90)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await finished_call(api, tenant, call_id)

    said = [(t["role"], t["content"]) for t in call["transcript"]]
    assert said == [("bot", "Hi."), ("user", TRANSCRIPT), ("bot", REPLY)], said
    # The reply came after the late transcript, not before it.
    spoken_until = sim_call.caller_speech()[-1].ends_at
    first_reply = min(at for at, loud in sim_call.agent_audio_arrivals if loud and at > spoken_until)
    assert first_reply - spoken_until >= STT_MS / 1000, first_reply - spoken_until
