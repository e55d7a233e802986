"""``kb_enable_llm_processing`` against a local OpenAI-compatible server that records what it gets,
on both databases: an agent with the switch on and its own ``kb_llm_system_prompt``; a caller's
turn that finds passages sends one processing request (the prompt, the passages, the caller's
words) and the turn's context carries the answer instead of the passages; a turn that finds
nothing sends none; a hanging or failing LLM gives the raw passages."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest
from pipecat.frames.frames import LLMContextFrame
from pipecat.processors.aggregators.llm_context import LLMContext

from callwright.domain import knowledge as kb
from callwright.domain.agent_spec import AgentSpec
from callwright.platform import Platform
from callwright.services.kb_ingest import IngestWorker
from callwright.services.kb_retrieval import CallKnowledge, Processing, processing_for
from callwright.settings import Settings
from callwright.voice.knowledge import KnowledgeContext
from tests.conftest import PartnerHandle
from tests.kb_support import DOCX_FACT, DOCX_MIME, FILLER, PDF_FACT, PDF_MIME, make_docx, make_pdf, upload
from tests.voice.openai_server import FakeOpenAIServer, serving_in_thread

ANSWER = "The Pune branch opens at 9:30 on weekdays."
PROMPT = "You condense bank documents for a phone agent. Two sentences at most."
QUESTION = "What time does the Pune branch open?"


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(completions=[ANSWER])
    with serving_in_thread(server):
        yield server


@pytest.fixture
def settings(settings: Settings, llm_server: FakeOpenAIServer) -> Settings:
    return settings.model_copy(update={
        "llm_provider": "openai-compatible", "llm_base_url": llm_server.base_url,
        "llm_api_key": "sk-local-test-key", "llm_model": "local-model",
        # Generous: the success path must not depend on the machine's speed.
        "kb_llm_timeout_secs": 30.0,
    })


async def _knowledge(client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle) -> CallKnowledge:
    pdf = await upload(client, partner.headers, "Branches.pdf", make_pdf(PDF_FACT, *FILLER), PDF_MIME)
    docx = await upload(client, partner.headers, "Refunds.docx", make_docx(DOCX_FACT), DOCX_MIME)
    worker = IngestWorker(platform)
    while await worker.run_due():
        pass
    made = await client.post(
        "/api/v2/agent",
        json={"agent_name": "Bank", "kb_enable_llm_processing": True, "kb_llm_system_prompt": PROMPT},
        headers=partner.headers,
    )
    assert made.status_code == 201, made.text
    agent = made.json()["data"]
    assert (agent["kb_enable_llm_processing"], agent["kb_llm_system_prompt"]) == (True, PROMPT)
    spec = AgentSpec.parse(agent)
    processing = processing_for(platform, spec)
    assert processing is not None and processing.system_prompt == PROMPT
    return CallKnowledge(
        platform=platform, partner_id=partner.id, document_ids=[pdf, docx], threshold=spec.kb_threshold,
        result_format=None, include_summaries=False, processing=processing,
    )


async def test_the_turn_gets_the_llms_notes_instead_of_the_passages(
    client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle, llm_server: FakeOpenAIServer
):
    knowledge = await _knowledge(client, platform, partner)
    before = len(llm_server.requests)
    context = LLMContext([{"role": "assistant", "content": "Sunrise Bank, hello!"}, {"role": "user", "content": QUESTION}])
    await KnowledgeContext(knowledge)._add_passages(LLMContextFrame(context))

    [asked] = llm_server.requests[before:]
    assert asked.authorization == "Bearer sk-local-test-key" and asked.body["stream"] is False
    system, user = asked.body["messages"]
    assert system == {"role": "system", "content": PROMPT}
    assert QUESTION in user["content"] and PDF_FACT in user["content"] and "[Branches.pdf]" in user["content"]

    messages = context.get_messages()
    assert [m["role"] for m in messages] == ["assistant", "system", "user"]  # type: ignore[index]
    carried = messages[1]["content"]  # type: ignore[index]
    assert carried == f"{kb.PROCESSED_HEADER}\n\n{ANSWER}"
    assert PDF_FACT not in carried

    # The next turn's context carries one set: the notes of the last turn are taken out.
    context.add_message({"role": "assistant", "content": "Half past nine."})
    context.add_message({"role": "user", "content": "Do you sell cricket bats?"})
    await KnowledgeContext(knowledge)._add_passages(LLMContextFrame(context))
    assert "system" not in [m["role"] for m in context.get_messages()]  # type: ignore[index]
    # Nothing passed the threshold: no processing request.
    assert len(llm_server.requests) == before + 1


@pytest.mark.parametrize("mode", ["hang", "error"])
async def test_a_hanging_or_failing_llm_gives_the_raw_passages(
    client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle, llm_server: FakeOpenAIServer, mode: str
):
    knowledge = await _knowledge(client, platform, partner)
    assert knowledge.processing is not None
    # The fake server hangs well past this bound.
    knowledge.processing = dataclasses.replace(knowledge.processing, timeout_secs=0.2)
    before = len(llm_server.requests)
    llm_server.mode = mode  # type: ignore[assignment]
    try:
        carried = await knowledge.context_for(QUESTION)
    finally:
        llm_server.mode = "stream"
    assert len(llm_server.requests) == before + 1
    assert carried is not None and carried.startswith(kb.DEFAULT_RESULT_HEADER) and PDF_FACT in carried


def test_the_processing_request_falls_back_to_the_default_prompt():
    [system, user] = kb.processing_messages(system_prompt=None, passages="P", words="W")
    assert system["content"] == kb.DEFAULT_LLM_SYSTEM_PROMPT and user["content"] == "Caller said: W\n\nP"
    assert kb.processing_messages(system_prompt="  ", passages="P", words="W")[0]["content"] == kb.DEFAULT_LLM_SYSTEM_PROMPT
    assert kb.render_processed("NONE.") is None and kb.render_processed("  ") is None


def test_processing_is_off_without_the_switch(platform: Platform):
    assert processing_for(platform, AgentSpec(kb_llm_system_prompt=PROMPT)) is None
    assert isinstance(processing_for(platform, AgentSpec(kb_enable_llm_processing=True)), Processing)
