"""Retrieval for a call: the agent's documents worked out once when the call starts, then per
caller turn the query embedded and the nearest passages above the agent's ``kb_threshold``
fetched through the vector store (which filters on the partner itself)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from callwright.domain import knowledge as kb
from callwright.domain.agent_spec import AgentSpec
from callwright.knowledge.embedding import Embedder
from callwright.services.documents import agent_document_ids
from callwright.store.models import Call, KbChunk, KbDocument

if TYPE_CHECKING:
    from callwright.platform import Platform


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


@dataclass
class CallKnowledge:
    """What a call's turns search (``voice.knowledge``): fixed when the call starts."""

    platform: Platform
    partner_id: str
    document_ids: list[str]
    threshold: str | None
    result_format: str | None
    include_summaries: bool

    async def context_for(self, words: str) -> str | None:
        """The system message for a caller's turn, or None when nothing passes the threshold."""
        passages = await retrieve(
            platform=self.platform, partner_id=self.partner_id, document_ids=self.document_ids, query=words,
            threshold=self.threshold,
        )
        return kb.render_passages(passages, result_format=self.result_format, include_summaries=self.include_summaries)


async def knowledge_for_call(*, platform: Platform, call: Call) -> CallKnowledge | None:
    """The call's knowledge, or None when its agent has no ready documents."""
    if call.agent_id is None:
        return None
    spec = AgentSpec.parse(call.agent or {})
    async with platform.sessions() as session:
        ids = await agent_document_ids(session, partner_id=call.partner_id, agent_id=call.agent_id)
        if not ids:
            return None
        # The passages' vectors are read now, while the greeting plays, not on the first turn.
        await platform.vector_store.prepare(session, partner_id=call.partner_id, document_ids=ids)
    # So is the model, on a thread: a process that has not ingested anything has not loaded it.
    await asyncio.to_thread(Embedder.load)
    return CallKnowledge(
        platform=platform, partner_id=call.partner_id, document_ids=ids, threshold=spec.kb_threshold,
        result_format=spec.kb_result_format, include_summaries=spec.kb_include_summaries,
    )
