"""Retrieval for a call: the agent's documents worked out once when the call starts, then per
caller turn the query embedded and the nearest passages above the agent's ``kb_threshold``
fetched through the vector store (which filters on the partner itself).

With the agent's ``kb_enable_llm_processing`` the passages of a turn (only when some pass the
threshold) and the caller's words go to the operator's LLM first, with ``kb_llm_system_prompt``
(or ``knowledge.DEFAULT_LLM_SYSTEM_PROMPT``); its answer replaces the passages in the turn's
context. The request is bounded by ``kb_llm_timeout_secs``: on timeout or any failure the raw
passages go instead, so the turn is never held longer than that."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from callwright.domain import knowledge as kb
from callwright.domain.agent_spec import AgentSpec
from callwright.knowledge.embedding import Embedder
from callwright.services.documents import agent_document_ids
from callwright.services.extraction import Endpoint, endpoint_of
from callwright.store.models import KbChunk, KbDocument

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.knowledge")


async def retrieve(
    *,
    platform: Platform,
    partner_id: str,
    document_ids: list[str],
    query: str,
    threshold: str | None,
    limit: int = kb.TOP_K,
) -> list[kb.Passage]:
    """The passages of ``document_ids`` (``partner_id``'s only) nearest ``query``, best first."""
    if not document_ids or not query.strip():
        return []
    # A query is a few words: WordLlama embeds it in well under a millisecond, so inline (a
    # thread hop would cost more on a busy loop than the work).
    vector = Embedder.embed_one(query)
    async with platform.sessions() as session:
        hits = await platform.vector_store.search(
            session, partner_id=partner_id, document_ids=document_ids, query=vector, limit=limit,
            min_score=kb.min_score(threshold),
        )
        if not hits:
            return []
        rows = {
            chunk_id: (text, name, summary)
            for chunk_id, text, name, summary in await session.execute(
                select(KbChunk.id, KbChunk.text, KbDocument.name, KbDocument.summary)
                .join(KbDocument, KbDocument.id == KbChunk.document_id)
                .where(KbChunk.partner_id == partner_id, KbChunk.id.in_([h.chunk_id for h in hits]))
            )
        }
    return [
        kb.Passage(hit.document_id, rows[hit.chunk_id][1], rows[hit.chunk_id][0], hit.score, rows[hit.chunk_id][2])
        for hit in hits
        if hit.chunk_id in rows
    ]


@dataclass(frozen=True)
class Processing:
    """``kb_enable_llm_processing`` for a call: where to ask, with what prompt, how long at most."""

    http: httpx.AsyncClient
    endpoint: Endpoint
    system_prompt: str | None
    timeout_secs: float

    async def condense(self, *, passages: str, words: str) -> str | None:
        """The processed system message, or None when the LLM found nothing that answers.

        Raises on timeout, HTTP failure or an answer that is not a chat completion."""
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": kb.processing_messages(system_prompt=self.system_prompt, passages=passages, words=words),
            "stream": False,
        }
        if self.endpoint.temperature is not None:
            body["temperature"] = self.endpoint.temperature
        headers = {"Authorization": f"Bearer {self.endpoint.api_key}"} if self.endpoint.api_key else {}
        async with asyncio.timeout(self.timeout_secs):
            answer = await self.http.post(self.endpoint.url, json=body, headers=headers, timeout=self.timeout_secs)
        answer.raise_for_status()
        content = answer.json()["choices"][0]["message"].get("content")
        if not isinstance(content, str):
            raise ValueError("the LLM's answer has no text")
        return kb.render_processed(content)


@dataclass
class CallKnowledge:
    """What a call's turns search (``voice.knowledge``): fixed when the call starts."""

    platform: Platform
    partner_id: str
    document_ids: list[str]
    threshold: str | None
    result_format: str | None
    include_summaries: bool
    processing: Processing | None = None

    async def context_for(self, words: str) -> str | None:
        """The system message for a caller's turn, or None when nothing passes the threshold."""
        passages = await retrieve(
            platform=self.platform, partner_id=self.partner_id, document_ids=self.document_ids, query=words,
            threshold=self.threshold,
        )
        raw = kb.render_passages(passages, result_format=self.result_format, include_summaries=self.include_summaries)
        if raw is None or self.processing is None:
            return raw
        started = time.monotonic()
        try:
            processed = await self.processing.condense(passages=raw, words=words)
        except Exception as exc:  # timeout, HTTP or shape: the raw passages rather than nothing
            log.warning(
                "knowledge processing failed after %.0f ms (%s); the turn gets the raw passages",
                (time.monotonic() - started) * 1000, type(exc).__name__,
            )
            return raw
        log.debug("knowledge processing took %.0f ms", (time.monotonic() - started) * 1000)
        return processed


def processing_for(platform: Platform, spec: AgentSpec) -> Processing | None:
    """The call's passage processing, or None when the agent does not ask for it. An agent that
    asks for it on a server whose LLM has since been removed gets the raw passages (logged)."""
    if not spec.kb_enable_llm_processing:
        return None
    endpoint = endpoint_of(platform.settings)
    if endpoint is None:
        log.warning("kb_enable_llm_processing is on but no LLM is configured; the call gets raw passages")
        return None
    return Processing(
        http=platform.http, endpoint=endpoint, system_prompt=spec.kb_llm_system_prompt,
        timeout_secs=platform.settings.kb_llm_timeout_secs,
    )


async def knowledge_for_session(
    *, platform: Platform, partner_id: str, agent_id: str | None, spec: AgentSpec
) -> CallKnowledge | None:
    """A session's knowledge (a call's or a browser session's): the documents linked to its
    agent now, or None when there are no ready ones."""
    if agent_id is None:
        return None
    async with platform.sessions() as session:
        ids = await agent_document_ids(session, partner_id=partner_id, agent_id=agent_id)
        if not ids:
            return None
        # The passages' vectors are read now, while the greeting plays, not on the first turn.
        await platform.vector_store.prepare(session, partner_id=partner_id, document_ids=ids)
    # So is the model, on a thread: a process that has not ingested anything has not loaded it.
    await asyncio.to_thread(Embedder.load)
    return CallKnowledge(
        platform=platform, partner_id=partner_id, document_ids=ids, threshold=spec.kb_threshold,
        result_format=spec.kb_result_format, include_summaries=spec.kb_include_summaries,
        processing=processing_for(platform, spec),
    )
