"""``session_setup.setup_session``, what a phone call and a browser session both start with, on
both databases: the dictionaries of the session's own partner only (another partner's id in the
agent's snapshot adds nothing), the bed loaded at the rate the session's leg sends, and no
knowledge when no document is linked. Whole sessions: tests/e2e/test_browser_session_settings.py
and the phone-call e2e tests."""

from __future__ import annotations

import uuid

import numpy as np

from callwright.services.session_setup import setup_session
from callwright.voice.ambience import CURATED
from callwright.voice.background import BackgroundLoop
from callwright.voice.session import AgentScript

SOFT_NOISE = next(a for a in CURATED if a.slug == "soft-noise")


async def _dictionary(client, partner, terms: list[str]) -> str:
    made = await client.post("/api/v2/dictionaries", json={"name": "Names", "terms": terms}, headers=partner.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["data"]["id"])


async def test_a_session_gets_its_partners_dictionaries_and_the_bed_at_its_legs_rate(
    client, platform, partner, other_partner
):
    own = await _dictionary(client, partner, ["Meera Iyer => Meera Eye-er"])
    foreign = await _dictionary(client, other_partner, ["Zyntrax"])
    agent = {
        "intro_message": "Hello.", "voice_id": "piper-joe-us", "dictionary_ids": [own, foreign],
        "background_audio_id": SOFT_NOISE.id, "background_audio_volume": 0.5,
    }
    setup = await setup_session(
        platform=platform, partner_id=partner.id, agent_id=str(uuid.uuid4()), agent=agent,
        script=AgentScript("Hello.", "piper-joe-us"), output_sample_rate=48_000,
    )
    try:
        assert setup.script.vocabulary == ("Meera Iyer",)  # not the other partner's "Zyntrax"
        assert setup.script.pronunciations == (("Meera Iyer", "Meera Eye-er"),)
        assert setup.knowledge is None  # no document linked
        assert setup.background is not None and setup.loading is not None
        await setup.loading
        # Under a 20 ms frame of voice at 48 kHz, the bed added is the loop rendered at 48 kHz.
        mixer = setup.background
        await mixer.start(48_000)
        voice = np.full(960, 1000, dtype=np.int16)
        mixed = np.frombuffer(await mixer.mix(voice.tobytes()), dtype=np.int16)
        bed = np.round(BackgroundLoop.curated(SOFT_NOISE.id, 48_000).samples[:960].astype(np.float32) * 0.5)
        assert np.array_equal(mixed.astype(np.int32) - 1000, bed.astype(np.int32))
    finally:
        setup.release()


async def test_an_agent_without_these_settings_gets_the_script_as_it_is(client, platform, partner):
    script = AgentScript("Hello.", "piper-joe-us")
    setup = await setup_session(
        platform=platform, partner_id=partner.id, agent_id=None, agent={"intro_message": "Hello."},
        script=script, output_sample_rate=8000,
    )
    assert (setup.script, setup.background, setup.loading, setup.knowledge) == (script, None, None, None)
