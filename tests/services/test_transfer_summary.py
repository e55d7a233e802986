"""The summary a warm transfer's human hears: written by the operator's LLM (a local server speaking
OpenAI's protocol records what it was sent) from the transcript so far, or, for a scripted agent,
without an LLM, or when the LLM fails, the deterministic offline summary."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx

from callwright.domain.transfers import offline_summary
from callwright.services.warm_transfers import make_summary
from callwright.settings import Settings
from callwright.store.models import Call
from tests.voice.openai_server import FakeOpenAIServer, serving_in_thread

TURNS = [
    {"role": "bot", "content": "Hi, this is Maya from Acme Deliveries."},
    {"role": "user", "content": "I need to move my delivery to Friday."},
    {"role": "bot", "content": "Please hold while I brief a colleague."},
]


def _platform(server: FakeOpenAIServer | None, http: httpx.AsyncClient) -> Any:
    settings = Settings() if server is None else Settings(
        llm_provider="openai-compatible", llm_base_url=server.base_url, llm_api_key="sk-local-test-key",
        llm_model="local-model",
    )
    return SimpleNamespace(settings=settings, http=http)


async def test_the_operators_llm_summarises_the_transcript():
    server = FakeOpenAIServer(completions=["Asha wants her delivery moved to Friday."])
    with serving_in_thread(server):
        async with httpx.AsyncClient() as http:
            summary = await make_summary(platform=_platform(server, http), call=Call(id="c1", agent={}), transcript=TURNS)
    assert summary == ("Asha wants her delivery moved to Friday.", "llm")
    [request] = server.requests
    assert request.body["stream"] is False and request.authorization == "Bearer sk-local-test-key"
    said = request.body["messages"][-1]["content"]
    assert "Caller: I need to move my delivery to Friday." in said and "Agent: Hi, this is Maya" in said


async def test_a_scripted_agent_no_llm_or_a_failing_one_gets_the_offline_summary():
    offline = (offline_summary(TURNS), "offline")
    scripted = Call(id="c2", agent={"script": {"replies": [{"text": "Sure."}]}})
    failing = FakeOpenAIServer(mode="error")
    with serving_in_thread(failing):
        async with httpx.AsyncClient() as http:
            assert await make_summary(platform=_platform(failing, http), call=scripted, transcript=TURNS) == offline
            assert failing.requests == []  # a scripted agent never asks the LLM
            assert await make_summary(platform=_platform(None, http), call=Call(id="c3", agent={}), transcript=TURNS) == offline
            assert await make_summary(platform=_platform(failing, http), call=Call(id="c4", agent={}), transcript=TURNS) == offline
    assert len(failing.requests) == 1
