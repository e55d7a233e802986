"""A call's intro, its variables filled in, is rendered while the phone rings."""

from __future__ import annotations

from callwright.services.media_events import prepare_intro
from callwright.store.models import Call
from callwright.voice.engines import TTS_ENGINES


async def test_prepare_intro_puts_the_personalised_intro_in_the_speech_cache():
    call = Call(
        id="call-prerender",
        agent={"intro_message": "Hello {{name}}, this is Callwright.", "voice_id": "piper-joe-us"},
        variables={"name": "Prerendra"},
    )
    cache = TTS_ENGINES["piper"].speech_cache
    key = {"voice_id": "piper-joe-us", "sample_rate": 8000, "text": "Hello Prerendra, this is Callwright."}
    assert cache.get(**key) is None
    await prepare_intro(call)
    audio = cache.get(**key)
    assert audio is not None and len(audio) > 8000 * 2 * 0.8  # at least 0.8 s of 16-bit audio


async def test_an_intro_rendered_on_the_dialing_node_reaches_the_node_taking_the_stream(settings):
    """Any node may accept the stream: the dialer's rendering travels through Redis."""
    import uuid

    from callwright.platform import Platform
    from callwright.services.media_events import agent_script, fetch_intro
    from tests.redis_support import REDIS_URL, require_redis

    require_redis()
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "redis_namespace": f"test-{uuid.uuid4().hex[:12]}"})
    dialing, streaming = Platform.from_settings(shared), Platform.from_settings(shared)
    for platform in (dialing, streaming):
        await platform.control.start()
    try:
        call = Call(
            id="call-shared-intro",
            agent={"intro_message": "Hello {{name}}, this is node A.", "voice_id": "piper-joe-us"},
            variables={"name": "Asha"},
        )
        cache = TTS_ENGINES["piper"].speech_cache
        key = {"voice_id": "piper-joe-us", "sample_rate": 8000, "text": "Hello Asha, this is node A."}
        await prepare_intro(call, platform=dialing)
        rendered = cache.peek(**key)
        assert rendered is not None
        cache.clear()  # the node taking the stream is another process, with a cache of its own
        await fetch_intro(streaming, agent_script(call))
        assert cache.peek(**key) == rendered
    finally:
        for platform in (dialing, streaming):
            await platform.close()


async def test_the_dialer_renders_the_intro_as_the_agents_dictionary_pronounces_it(client, platform, partner):
    """The call speaks its intro through the dictionaries' pronunciations: that is the line the
    dialer renders while the phone rings (and shares with the node taking the stream)."""
    made = await client.post(
        "/api/v2/dictionaries", json={"name": "Names", "terms": ["Meera Iyer => Meera Eye-er"]}, headers=partner.headers
    )
    assert made.status_code == 201, made.text
    call = Call(
        id="call-pronounced-intro",
        partner_id=partner.id,
        agent={
            "intro_message": "Hello, Meera Iyer speaking.", "voice_id": "piper-joe-us",
            "dictionary_ids": [made.json()["data"]["id"]],
        },
        variables={},
    )
    cache = TTS_ENGINES["piper"].speech_cache
    cache.clear()
    await prepare_intro(call, platform=platform)
    spoken = {"voice_id": "piper-joe-us", "sample_rate": 8000}
    assert cache.peek(**spoken, text="Hello, Meera Eye-er speaking.") is not None
    assert cache.peek(**spoken, text="Hello, Meera Iyer speaking.") is None
