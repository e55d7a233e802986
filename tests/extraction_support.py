"""Post-call extraction in tests: a local OpenAI-compatible server recording what it was sent,
settings pointing the operator's LLM at it, and calls carrying an agent snapshot and transcript."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from callwright.platform import Platform
from callwright.store.models import Call, CallEventRow, new_id, utcnow
from tests.connection_rows import add_call
from tests.voice.openai_server import FakeOpenAIServer, serving_in_thread
from tests.webhook_support import TRANSCRIPT

CONFIG = {
    "prompt": "Analyze the conversation and extract the caller's intent.",
    "keys": [
        {"name": "interested", "type": "boolean", "description": "Did the user express interest?"},
        {"name": "callback_at", "type": "datetime", "description": "When to call back; null otherwise."},
        {"name": "outcome", "type": "string", "description": "callback_requested, sale_made or not_interested."},
    ],
    "includeToolLogs": False,
}
GOOD_ANSWER = '{"interested": true, "callback_at": "2026-05-01T15:00:00Z", "outcome": "callback_requested"}'
GOOD_VALUES = {"interested": True, "callback_at": "2026-05-01T15:00:00Z", "outcome": "callback_requested"}


def serving_llm() -> Iterator[FakeOpenAIServer]:
    """For a test module's ``llm_server`` fixture: the local server, answering ``GOOD_ANSWER``."""
    server = FakeOpenAIServer(completions=[GOOD_ANSWER])
    with serving_in_thread(server):
        yield server


def llm_settings(server: FakeOpenAIServer, **more: Any) -> dict[str, Any]:
    return {
        "llm_provider": "openai-compatible",
        "llm_base_url": server.base_url,
        "llm_api_key": "sk-local-test-key",
        "llm_model": "local-extractor",
    } | more


async def call_with(
    platform: Platform, partner_id: str, config: dict[str, Any] | None, *, transcript: Any = TRANSCRIPT, **fields: Any
) -> str:
    """A dialled call whose agent snapshot has ``config`` as its extraction schema."""
    agent: dict[str, Any] = {"agent_name": "Sales bot"}
    if config is not None:
        agent["extraction_config"] = config
    return await add_call(platform, partner_id, agent=agent, transcript=transcript, **fields)


async def function_called(platform: Platform, call_id: str, partner_id: str, payload: dict[str, Any]) -> None:
    """A ``function_called`` event as the call's tool runner records it."""
    async with platform.sessions() as session:
        session.add(
            CallEventRow(
                id=new_id(), call_id=call_id, partner_id=partner_id, kind="function_called", source="media",
                payload=payload, created_at=utcnow(),
            )
        )
        await session.commit()


async def call_row(platform: Platform, call_id: str) -> Call:
    async with platform.sessions() as session:
        call = await session.scalar(select(Call).where(Call.id == call_id))
        assert call is not None
        return call
