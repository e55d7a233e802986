"""The knowledge base in a whole call through the simulator, on both databases: a PDF, a DOCX and
a locally served web page go up through the Partner API (signed upload URL, PUT, confirm; the web
link), the platform's own ingestion worker indexes them, they are linked to the agent, and when
the caller asks what only the PDF answers, the request the model gets (a local OpenAI-compatible
server that records it) carries that passage as a system message just before the caller's words."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.helpers import (
    Tenant,
    after_the_intro,
    finished_call,
    hang_up_after_the_reply,
    make_tenant,
    new_number,
    start_call,
)
from tests.kb_support import (
    DOCX_FACT,
    DOCX_MIME,
    FILLER,
    PDF_FACT,
    PDF_MIME,
    make_docx,
    make_pdf,
    serving_page,
    upload,
)
from tests.voice.openai_server import FakeOpenAIServer, local_llm_settings, serving_in_thread

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(pieces=["It opens", " at nine thirty."])
    with serving_in_thread(server):
        yield server


@pytest.fixture(scope="module")
def platform_settings(llm_server: FakeOpenAIServer) -> dict[str, object]:
    return local_llm_settings(llm_server)


async def _ready(api: httpx.AsyncClient, tenant: Tenant, document_id: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        doc = (await api.get(f"/api/v2/documents/{document_id}", headers=tenant.headers)).json()["data"]
        if doc["status"] != "processing" or time.monotonic() > deadline:
            return doc
        await asyncio.sleep(0.2)


def _question_at(requests: list, call: dict) -> int:  # type: ignore[type-arg]
    """Where, among the LLM requests a call made, is the turn answering the caller's question: the
    first streamed request whose last user message has its end. Found by its words, not by
    position, since speech recognition may hear the question as one turn or, after a pause, as
    two; and by the word it ends on as well as the names (tiny.en once heard "the peanut brain")."""
    for at, request in enumerate(requests):
        if not request.body.get("stream"):
            continue
        said = [m["content"].lower() for m in request.body["messages"] if m["role"] == "user"]
        if said and any(word in said[-1] for word in ("pune", "branch", "open")):
            return at
    raise AssertionError(f"no turn answered the question; transcript: {call['transcript']}")


async def test_the_model_gets_the_passage_that_answers_the_caller(api, carrier_sim, llm_server: FakeOpenAIServer):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], prompt="You answer questions about Sunrise Bank.")
    pdf = await upload(api, tenant.headers, "Branches.pdf", make_pdf(PDF_FACT, *FILLER), PDF_MIME)
    docx = await upload(api, tenant.headers, "Refunds.docx", make_docx(DOCX_FACT), DOCX_MIME)
    with serving_page() as url:
        web = (await api.post("/api/v2/documents/web-link", json={"url": url}, headers=tenant.headers)).json()["data"]["id"]
        for document_id in (pdf, docx, web):
            doc = await _ready(api, tenant, document_id)
            assert doc["status"] == "ready", doc
    linked = await api.post(
        f"/api/v2/agent/{tenant.agent_id}/documents", json={"document_ids": [pdf, docx, web]}, headers=tenant.headers
    )
    assert linked.status_code == 200, linked.text
    agent = (await api.get(f"/api/v2/agent/{tenant.agent_id}", headers=tenant.headers)).json()["data"]
    assert (agent["document_count"], agent["kb_threshold"]) == (3, "medium")

    number = new_number()
    carrier_sim.set_scenario(number, after_the_intro("What time does the Pune branch open"))
    requests_before = len(llm_server.requests)
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await hang_up_after_the_reply(carrier_sim, sim_call)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=40)
    call = await finished_call(api, tenant, call_id)

    made = llm_server.requests[requests_before:]
    messages = made[_question_at(made, call)].body["messages"]
    user_at = max(i for i, m in enumerate(messages) if m["role"] == "user")
    knowledge = messages[user_at - 1]
    assert knowledge["role"] == "system" and "Knowledge base" in knowledge["content"], messages
    assert PDF_FACT in knowledge["content"] and "[Branches.pdf]" in knowledge["content"]
    # Only the passage that answers: the refunds document and the web page stay out.
    assert DOCX_FACT not in knowledge["content"] and "Zephyr" not in knowledge["content"]


async def test_with_llm_processing_the_model_gets_the_notes_not_the_passages(api, carrier_sim, llm_server: FakeOpenAIServer):
    notes = "The Pune branch opens at 9:30 (from the branch list)."
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], prompt="You answer questions about Sunrise Bank.")
    pdf = await upload(api, tenant.headers, "Branches.pdf", make_pdf(PDF_FACT, *FILLER), PDF_MIME)
    assert (await _ready(api, tenant, pdf))["status"] == "ready"
    await api.post(f"/api/v2/agent/{tenant.agent_id}/documents", json={"document_ids": [pdf]}, headers=tenant.headers)
    switched = await api.put(
        f"/api/v2/agent/{tenant.agent_id}",
        json={"kb_enable_llm_processing": True, "kb_llm_system_prompt": "Condense for a bank agent."},
        headers=tenant.headers,
    )
    assert switched.status_code == 200, switched.text

    number = new_number()
    carrier_sim.set_scenario(number, after_the_intro("What time does the Pune branch open"))
    requests_before = len(llm_server.requests)
    llm_server.completions = [notes]
    try:
        call_id = await start_call(api, tenant, "vobiz", number)
        sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
        await hang_up_after_the_reply(carrier_sim, sim_call)
        await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=40)
        call = await finished_call(api, tenant, call_id)
    finally:
        llm_server.completions = ["{}"]

    made = llm_server.requests[requests_before:]
    first_turn = _question_at(made, call)
    processing = [r for r in made[:first_turn] if not r.body.get("stream")]
    assert processing, call["transcript"]
    system, user = processing[-1].body["messages"]
    assert system["content"] == "Condense for a bank agent." and PDF_FACT in user["content"]
    assert "Caller said:" in user["content"] and "pune" in user["content"].lower()
    messages = made[first_turn].body["messages"]
    user_at = max(i for i, m in enumerate(messages) if m["role"] == "user")
    knowledge = messages[user_at - 1]
    assert knowledge["role"] == "system" and knowledge["content"].endswith(notes), messages
    assert PDF_FACT not in knowledge["content"]
