"""The ingestion worker: a processing document's text extracted, chunked, embedded and stored.

Durable like the extraction worker: ``KbDocument.ingest_due_at`` is the job. A worker claims a
due document by moving ``ingest_due_at`` ahead by its lease (a compare-and-set, so one worker wins),
then writes the document's passages and marks it ready in one transaction (an earlier, cut run's
passages are replaced, never doubled). A worker that dies mid-job leaves the lease to run out and
the next pass, in any process, claims the document again. After ``MAX_ATTEMPTS`` cut runs the
document fails with a reason. A document that cannot be read fails at once with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete

from callwright.domain import knowledge as kb
from callwright.domain.clock import Clock, SystemClock
from callwright.domain.webhook_urls import UrlRefused, parse_webhook_url
from callwright.knowledge.embedding import Embedder, to_blob
from callwright.knowledge.extract import UnreadableDocument, html_text, text_of
from callwright.services.documents import document_storage
from callwright.services.leased_jobs import JobLoop, claim_due
from callwright.services.webhook_targets import checked_addresses, get_pinned, policy_for
from callwright.store.models import KbChunk, KbDocument

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.kb")

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 3
FETCH_DEADLINE_SECS = 20.0  # a web link's whole fetch: connect, headers and body
EMBED_BATCH = 256


class IngestWorker(JobLoop):
    """Runs the due ingestion jobs of the store (any process; a job is leased, so run once)."""

    def __init__(
        self, platform: Platform, *, poll_interval_secs: float = 2.0, concurrency: int = 2, clock: Clock | None = None
    ) -> None:
        super().__init__(
            name="callwright-kb-ingest", what="ingestion", wakeup=platform.kb_wakeup,
            poll_interval_secs=poll_interval_secs, log=log,
        )
        self.platform = platform
        self.concurrency = concurrency
        self.clock = clock or SystemClock()

    async def run_due(self) -> int:
        """Claim the due documents (up to ``concurrency``) and ingest them; how many were run."""
        claimed = await self.claim()
        await asyncio.gather(*(self._ingest_logged(document_id) for document_id in claimed))
        return len(claimed)

    async def _ingest_logged(self, document_id: str) -> None:
        try:
            await self.ingest(document_id)
        except Exception:  # a store or storage hiccup: the lease runs out and the job runs again
            log.exception("ingestion of document %s failed unexpectedly; it is retried after its lease", document_id)

    async def claim(self) -> list[str]:
        return await claim_due(
            self.platform.sessions, KbDocument.id, KbDocument.ingest_due_at,
            now=self.clock.now(), lease=LEASE, limit=self.concurrency,
            also={KbDocument.ingest_attempts: KbDocument.ingest_attempts + 1},
        )

    async def ingest(self, document_id: str) -> None:
        """One claimed document, start to end."""
        async with self.platform.sessions() as session:
            doc = await session.get(KbDocument, document_id)
            if doc is None or doc.status != kb.DocumentStatus.PROCESSING:
                return
            partner_id, doc_type, attempts = doc.partner_id, doc.doc_type, doc.ingest_attempts
            key, url = doc.storage_key, doc.source_url
        if attempts > MAX_ATTEMPTS:
            await self._fail(document_id, f"ingestion was cut off {MAX_ATTEMPTS} times; upload the document again")
            return
        try:
            if doc_type == kb.WEB_LINK_TYPE:
                text = await self._fetch(url or "")
            else:
                data = b"".join([chunk async for chunk in document_storage(self.platform).read(key or document_id)])
                text = await asyncio.to_thread(text_of, data, doc_type)
            chunks = kb.chunk_text(text)
            vectors = await asyncio.to_thread(_embed_all, chunks)
        except (UnreadableDocument, FetchFailed) as exc:
            await self._fail(document_id, str(exc))
            return
        except FileNotFoundError:
            await self._fail(document_id, "the uploaded file is missing from storage")
            return
        async with self.platform.sessions() as session:
            doc = await session.get(KbDocument, document_id)
            if doc is None or doc.status != kb.DocumentStatus.PROCESSING:
                return  # deleted meanwhile
            # A cut run may have left passages behind: this run's replace them.
            await session.execute(delete(KbChunk).where(KbChunk.document_id == document_id))
            session.add_all(
                KbChunk(partner_id=partner_id, document_id=document_id, ordinal=i, text=chunk, embedding=to_blob(vector))
                for i, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
            )
            doc.status = kb.DocumentStatus.READY
            doc.status_reason = None
            doc.chunk_count = len(chunks)
            doc.summary = kb.summary_of(text)
            doc.ingest_due_at = None
            doc.ready_at = self.clock.now()
            await session.commit()
        self.platform.vector_store.forget(partner_id, document_id)
        log.info("document %s ready: %d passages", document_id, len(chunks))

    async def _fail(self, document_id: str, reason: str) -> None:
        async with self.platform.sessions() as session:
            doc = await session.get(KbDocument, document_id)
            if doc is None:
                return
            doc.status = kb.DocumentStatus.FAILED
            doc.status_reason = reason
            doc.ingest_due_at = None
            await session.commit()
        log.info("document %s failed: %s", document_id, reason)

    async def _fetch(self, url: str) -> str:
        policy = policy_for(self.platform.settings)
        try:
            target = parse_webhook_url(url, policy)
            addresses = await checked_addresses(target, policy)
            answer = await asyncio.wait_for(
                get_pinned(
                    self.platform.http, target, addresses, timeout=10.0, read_limit=kb.WEB_PAGE_MAX_BYTES
                ),
                FETCH_DEADLINE_SECS,
            )
        except UrlRefused as exc:
            raise FetchFailed(f"the web link was refused: url {exc}") from None
        except TimeoutError:
            raise FetchFailed(f"the web page did not arrive within {FETCH_DEADLINE_SECS:.0f} s") from None
        except Exception as exc:  # httpx's errors: connection refused, TLS, protocol
            raise FetchFailed(f"the web page could not be fetched ({type(exc).__name__})") from None
        if not 200 <= answer.status_code < 300:
            raise FetchFailed(f"the web page answered HTTP {answer.status_code}")
        content_type = (answer.content_type or "text/html").lower()
        charset = None
        if "charset=" in content_type:
            charset = content_type.split("charset=", 1)[1].split(";")[0].strip() or None
        if content_type.startswith("text/plain"):
            text = answer.body_start.decode(charset or "utf-8", errors="replace")
        elif content_type.startswith(("text/html", "application/xhtml")):
            text = html_text(answer.body_start, charset)
        else:
            raise FetchFailed(f"the web page is {content_type.split(';')[0]}, not HTML or plain text")
        if not text.strip():
            raise FetchFailed("no text was found on the web page")
        return text


class FetchFailed(Exception):
    """A web link's page could not be had (the message says why, for a partner)."""


def _embed_all(chunks: list[str]) -> list[np.ndarray]:
    vectors: list[np.ndarray] = []
    for start in range(0, len(chunks), EMBED_BATCH):
        vectors += list(Embedder.embed(chunks[start : start + EMBED_BATCH]))
    return vectors
