"""Browser sessions over WebRTC through the API: start, read, the offer's checks, the per-key start
budget, the concurrency limit, and tenant isolation (B can neither read A's session nor answer
its offer). A whole session with a real peer is tests/e2e/test_browser_session.py."""

from __future__ import annotations

from callwright.store.models import BrowserSession
from tests.conftest import error_of, make_partner

AUDIO_OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


async def _agent(client, partner) -> str:
    response = await client.post(
        "/api/v2/agent", json={"agent_name": "Front desk", "intro_message": "Hello there"}, headers=partner.headers
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def _start(client, partner, agent_id):
    return await client.post("/api/v2/sessions/webrtc", json={"agent_id": agent_id}, headers=partner.headers)


async def test_a_started_session_names_where_to_post_the_offer_and_reads_back(client, partner):
    agent_id = await _agent(client, partner)
    response = await _start(client, partner, agent_id)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == {"session_id", "agent_id", "status", "offer_url", "offer_expires_at", "ice_servers"}
    assert data["offer_url"] == f"http://127.0.0.1:8080/api/v2/sessions/{data['session_id']}/offer"
    assert (data["agent_id"], data["status"], data["ice_servers"]) == (agent_id, "created", [])

    read = await client.get(f"/api/v2/sessions/{data['session_id']}", headers=partner.headers)
    assert read.status_code == 200
    session = read.json()["data"]
    assert session["type"] == "webrtc"
    assert (session["agent_name"], session["status"], session["transcript"]) == ("Front desk", "created", [])
    assert session["recording_url"] is None and session["credits_used"] == 0.0


async def test_another_partner_can_neither_read_a_session_nor_answer_its_offer(client, platform, partner, other_partner):
    agent_id = await _agent(client, partner)
    session_id = (await _start(client, partner, agent_id)).json()["data"]["session_id"]

    read = await client.get(f"/api/v2/sessions/{session_id}", headers=other_partner.headers)
    assert (read.status_code, error_of(read)["reason"]) == (404, "session_not_found")
    offer = await client.post(
        f"/api/v2/sessions/{session_id}/offer", json={"sdp": AUDIO_OFFER, "type": "offer"}, headers=other_partner.headers
    )
    assert (offer.status_code, error_of(offer)["reason"]) == (404, "session_not_found")
    # Nor can it start a session with the first partner's agent.
    started = await _start(client, other_partner, agent_id)
    assert (started.status_code, error_of(started)["reason"]) == (404, "agent_not_found")

    async with platform.sessions() as session:
        row = await session.get(BrowserSession, session_id)
        assert row is not None and row.status == "created"  # untouched


async def test_an_offer_that_cannot_be_answered_is_400_naming_the_field(client, partner):
    agent_id = await _agent(client, partner)
    session_id = (await _start(client, partner, agent_id)).json()["data"]["session_id"]
    url = f"/api/v2/sessions/{session_id}/offer"

    wrong_type = await client.post(url, json={"sdp": AUDIO_OFFER, "type": "answer"}, headers=partner.headers)
    assert wrong_type.status_code == 400
    assert error_of(wrong_type)["details"][0]["field"] == "type"
    no_audio = await client.post(
        url, json={"sdp": AUDIO_OFFER.replace("m=audio", "m=video"), "type": "offer"}, headers=partner.headers
    )
    assert no_audio.status_code == 400 and "m=audio" in error_of(no_audio)["message"]
    missing = await client.post(url, json={"type": "offer"}, headers=partner.headers)
    assert missing.status_code == 400
    # Refused before any WebRTC work: the session still waits for a good offer.
    read = await client.get(f"/api/v2/sessions/{session_id}", headers=partner.headers)
    assert read.json()["data"]["status"] == "created"


async def test_the_11th_start_in_a_minute_is_429_and_other_endpoints_keep_their_budget(client, platform):
    handle = await make_partner(platform, "limited", requests_per_minute=60, calls_per_minute=10, concurrency_limit=50)
    agent_id = await _agent(client, handle)
    for n in range(10):
        response = await _start(client, handle, agent_id)
        assert response.status_code == 200, (n, response.text)
        assert response.headers["X-RateLimit-Remaining"] == str(9 - n)
    refused = await _start(client, handle, agent_id)
    assert refused.status_code == 429
    assert "browser session starts" in error_of(refused)["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    # The calls budget is its own.
    calls = await client.get("/api/v2/calls/concurrency", headers=handle.headers)
    assert calls.status_code == 200 and calls.headers["X-RateLimit-Remaining"] == "9"


async def test_live_sessions_are_bound_by_the_partners_concurrency_limit(client, platform):
    handle = await make_partner(platform, "narrow", concurrency_limit=2)
    agent_id = await _agent(client, handle)
    assert (await _start(client, handle, agent_id)).status_code == 200
    assert (await _start(client, handle, agent_id)).status_code == 200
    refused = await _start(client, handle, agent_id)
    assert (refused.status_code, error_of(refused)["reason"]) == (429, "concurrency_limit")
    assert refused.headers["Retry-After"] == "5"


async def test_a_draining_server_answers_no_new_offer(client, platform, partner):
    agent_id = await _agent(client, partner)
    session_id = (await _start(client, partner, agent_id)).json()["data"]["session_id"]
    platform.draining = True
    refused = await client.post(
        f"/api/v2/sessions/{session_id}/offer", json={"sdp": AUDIO_OFFER, "type": "offer"}, headers=partner.headers
    )
    assert (refused.status_code, error_of(refused)["reason"]) == (503, "draining")
    assert refused.headers["Retry-After"] == "5"
    read = await client.get(f"/api/v2/sessions/{session_id}", headers=partner.headers)
    assert read.json()["data"]["status"] == "created"  # the browser may offer again elsewhere


async def test_the_intro_is_pre_rendered_as_the_agents_dictionary_pronounces_it(client, platform, partner):
    """The session speaks its intro through the dictionaries' pronunciations, so that is the line
    rendered while the browser connects (the raw one would never be asked for)."""
    import asyncio

    from callwright.voice.engines import TTS_ENGINES

    made = await client.post(
        "/api/v2/agent",
        json={"agent_name": "Desk", "intro_message": "Please hold for Meera Iyer.", "voice_id": "piper-joe-us"},
        headers=partner.headers,
    )
    agent_id = made.json()["data"]["id"]
    names = await client.post(
        "/api/v2/dictionaries", json={"name": "Names", "terms": ["Meera Iyer => Meera Eye-er"]}, headers=partner.headers
    )
    attached = await client.put(
        f"/api/v2/agent/{agent_id}/dictionaries", json={"dictionary_ids": [names.json()["data"]["id"]]},
        headers=partner.headers,
    )
    assert attached.status_code == 200, attached.text
    cache = TTS_ENGINES["piper"].speech_cache
    spoken = {"voice_id": "piper-joe-us", "sample_rate": 8000, "text": "Please hold for Meera Eye-er."}
    cache.clear()

    assert (await _start(client, partner, agent_id)).status_code == 200
    await asyncio.gather(*platform.browser_tasks)
    assert cache.peek(**spoken) is not None
    assert cache.peek(**spoken | {"text": "Please hold for Meera Iyer."}) is None
