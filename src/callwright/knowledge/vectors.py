"""The vector store seam: nearest passages to a query vector among one partner's documents.

``VectorStore.search`` takes the partner and the documents to search, and every implementation
filters on both itself (in SQL), so a caller that passes another partner's document ids gets
nothing back: tenant isolation holds at this layer, not only in the services above it.

``ScanStore`` (both databases): exact cosine search over each document's passage vectors, kept
in process memory per (partner, document) after the first read. A ready document's passages never
change (re-ingesting makes a new document), so an entry stays valid until the document is
deleted; ``forget`` drops it then. 10,000 passages of 256 floats are 10 MB and one matrix
product (well under a millisecond); bench/kb_retrieval.py measures the whole retrieval.

pgvector and sqlite-vec were the plan for the two databases; docs/knowledge-base.md says why this
server ships the exact scan instead (measured faster, and neither extension loads here).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.knowledge.embedding import DIMENSIONS
from callwright.store.models import KbChunk


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: int
    document_id: str
    score: float  # cosine similarity, -1..1


class VectorStore(Protocol):
    async def search(
        self,
        session: AsyncSession,
        *,
        partner_id: str,
        document_ids: Sequence[str],
        query: np.ndarray,
        limit: int,
        min_score: float,
    ) -> list[Hit]:
        """At most ``limit`` passages of ``partner_id``'s ``document_ids`` scoring at least
        ``min_score``, best first."""
        ...

    async def prepare(self, session: AsyncSession, *, partner_id: str, document_ids: Sequence[str]) -> None:
        """Get ready to search these documents (a call's first turn should not pay for it)."""
        ...

    def forget(self, partner_id: str, document_id: str) -> None:
        """The document is gone (or changed): drop whatever is kept of it."""
        ...


class ScanStore:
    """Exact search over cached per-document matrices (see the module's docstring)."""

    def __init__(self, max_rows: int = 200_000) -> None:
        self.max_rows = max_rows  # about 200 MB of float32 at 256 dimensions
        self._cache: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()

    async def search(
        self,
        session: AsyncSession,
        *,
        partner_id: str,
        document_ids: Sequence[str],
        query: np.ndarray,
        limit: int,
        min_score: float,
    ) -> list[Hit]:
        if not document_ids or limit <= 0:
            return []
        wanted = list(dict.fromkeys(document_ids))
        missing = [d for d in wanted if (partner_id, d) not in self._cache]
        if missing:
            await self._load(session, partner_id, missing)
        q = np.asarray(query, dtype=np.float32)
        ids: list[np.ndarray] = []
        scored: list[np.ndarray] = []
        owners: list[str] = []
        with self._lock:
            entries = [(d, self._cache.get((partner_id, d))) for d in wanted]
        for document_id, entry in entries:
            if entry is None or not len(entry[0]):
                continue
            ids.append(entry[0])
            scored.append(entry[1] @ q)  # one small product per document: no 10 MB copy per turn
            owners += [document_id] * len(entry[0])
        if not ids:
            return []
        chunk_ids = np.concatenate(ids)
        scores = np.concatenate(scored)
        top = min(limit, len(scores))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best])]
        return [
            Hit(int(chunk_ids[i]), owners[i], float(scores[i])) for i in best if float(scores[i]) >= min_score
        ]

    async def prepare(self, session: AsyncSession, *, partner_id: str, document_ids: Sequence[str]) -> None:
        missing = [d for d in dict.fromkeys(document_ids) if (partner_id, d) not in self._cache]
        if missing:
            await self._load(session, partner_id, missing)

    async def _load(self, session: AsyncSession, partner_id: str, document_ids: list[str]) -> None:
        rows = (
            await session.execute(
                select(KbChunk.document_id, KbChunk.id, KbChunk.embedding)
                .where(KbChunk.partner_id == partner_id, KbChunk.document_id.in_(document_ids))
                .order_by(KbChunk.document_id, KbChunk.ordinal)
            )
        ).all()
        grouped: dict[str, tuple[list[int], list[bytes]]] = {d: ([], []) for d in document_ids}
        for document_id, chunk_id, blob in rows:
            grouped[document_id][0].append(chunk_id)
            grouped[document_id][1].append(blob)
        with self._lock:
            for document_id, (chunk_ids, blobs) in grouped.items():
                if not chunk_ids:
                    continue  # not ready (or not this partner's): read again next time
                matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), DIMENSIONS)
                key = (partner_id, document_id)
                if key not in self._cache:
                    self._cache[key] = (np.asarray(chunk_ids, dtype=np.int64), matrix)
                    self._rows += len(chunk_ids)
            while self._rows > self.max_rows and len(self._cache) > 1:
                _, (dropped, _) = self._cache.popitem(last=False)
                self._rows -= len(dropped)

    def forget(self, partner_id: str, document_id: str) -> None:
        with self._lock:
            entry = self._cache.pop((partner_id, document_id), None)
            if entry is not None:
                self._rows -= len(entry[0])
