"""A dictionary attached through the API reaches the call's Whisper: the caller says two names
tiny.en has never heard, and the call's transcript spells them right only with the dictionary."""

from __future__ import annotations

import pytest

from callwright.sim import Utterance
from tests.e2e.helpers import (
    after_the_intro,
    finished_call,
    hang_up_after_the_reply,
    make_tenant,
    new_number,
    start_call,
)
from tests.voice.test_dictionaries_in_speech import LINE, TERMS, rendered
from tests.voice.test_whisper_stt import word_error_rate

pytestmark = pytest.mark.e2e

SCRIPT = {"replies": [{"text": "Thank you, I will pass that on."}]}


async def heard(api, carrier_sim, *, dictionary: bool) -> str:
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], script=SCRIPT)
    if dictionary:
        created = await api.post("/api/v2/dictionaries", json={"name": "Names", "terms": TERMS}, headers=tenant.headers)
        assert created.status_code == 201, created.text
        attached = await api.put(
            f"/api/v2/agent/{tenant.agent_id}/dictionaries",
            json={"dictionary_ids": [created.json()["data"]["id"]]}, headers=tenant.headers,
        )
        assert attached.status_code == 200, attached.text
    number = new_number()
    line = Utterance.from_pcm(rendered(LINE))
    carrier_sim.set_scenario(number, after_the_intro(line))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await hang_up_after_the_reply(carrier_sim, sim_call)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await finished_call(api, tenant, call_id)
    said = [t["content"] for t in call["transcript"] if t["role"] == "user"]
    assert said, call["transcript"]
    return " ".join(said)


async def test_the_attached_dictionary_fixes_the_names_in_the_calls_transcript(api, carrier_sim):
    without = await heard(api, carrier_sim, dictionary=False)
    with_it = await heard(api, carrier_sim, dictionary=True)
    print(f"\nWER in the call: without {word_error_rate(LINE, without):.2f} ({without!r}), "
          f"with {word_error_rate(LINE, with_it):.2f} ({with_it!r})")
    assert "Meera Iyer" not in without or "Zyntrax" not in without
    assert "Meera Iyer" in with_it and "Zyntrax" in with_it
