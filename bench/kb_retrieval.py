"""Knowledge-base retrieval at 10,000 passages: what it adds to a caller's turn.

One partner's 10,000 passages (100 documents of 100, synthetic sentences) and another partner's
2,000 beside them, on SQLite and (when reachable) PostgreSQL. Per turn the platform embeds the
caller's words (WordLlama), searches the agent's documents (``ScanStore``: exact cosine over the
cached matrices, filtered on the partner), reads the winning passages' text and renders the
system message. Measured: the model's load time, the first search (matrices read from the
store), then 300 turns: p50/p95 of the whole step and of its parts.

    .venv/bin/python -m bench.kb_retrieval [--passages 10000] [--turns 300]

Budget (shared/ARCHITECTURE.md): ≤ 25 ms p95 added to a turn at 10,000 passages on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from bench.common import pct
from bench.postgres import scratch_database

from callwright.domain import knowledge as kb
from callwright.knowledge.embedding import MODEL_NAME, Embedder, to_blob
from callwright.platform import Platform
from callwright.services import partners
from callwright.services.kb_retrieval import retrieve
from callwright.settings import Settings
from callwright.store.db import create_engine
from callwright.store.migrate import upgrade
from callwright.store.models import KbChunk, KbDocument

PER_DOCUMENT = 100
TOPICS = [
    "branch opening hours", "refund policy", "loan interest rates", "credit card fees", "savings account",
    "fixed deposit", "mobile app login", "UPI payments", "cheque book request", "ATM withdrawal limits",
    "home loan documents", "car insurance claims", "warranty on appliances", "delivery times", "order tracking",
]
WORDS = "customers may apply online visit any branch with proof of identity and address the charge is waived for senior citizens within working days".split()


def _passage(rng: random.Random, i: int) -> str:
    topic = TOPICS[i % len(TOPICS)]
    filler = " ".join(rng.choice(WORDS) for _ in range(60))
    return f"About {topic} (item {i}): {filler}."


QUESTIONS = [
    "What are the branch opening hours on Saturday?", "How do I get a refund?", "What is the interest rate on a home loan?",
    "Is there a fee for the credit card?", "How can I open a savings account?", "My mobile app login is not working",
    "What is the ATM withdrawal limit?", "How long does delivery take?", "Where is my order?", "Do you have a warranty?",
]


async def _fill(platform: Platform, passages: int, rng: random.Random) -> tuple[str, list[str]]:
    async with platform.sessions() as session:
        partner, _ = await partners.create_partner(session=session, name="bench-kb", concurrency_limit=5, agent_limit=5)
        other, _ = await partners.create_partner(session=session, name="bench-kb-other", concurrency_limit=5, agent_limit=5)
        await session.commit()
        partner_id, other_id = partner.id, other.id
    texts = [_passage(rng, i) for i in range(passages + passages // 5)]
    vectors = Embedder.embed(texts)
    document_ids: list[str] = []
    async with platform.sessions() as session:
        for start in range(0, len(texts), PER_DOCUMENT):
            owner = partner_id if start < passages else other_id
            doc = KbDocument(
                partner_id=owner, name=f"doc-{start}", doc_type="txt", status="ready", chunk_count=PER_DOCUMENT,
                ingest_attempts=1, summary="Synthetic.",
            )
            session.add(doc)
            await session.flush()
            if owner == partner_id:
                document_ids.append(doc.id)
            session.add_all(
                KbChunk(partner_id=owner, document_id=doc.id, ordinal=j, text=texts[start + j], embedding=to_blob(vectors[start + j]))
                for j in range(min(PER_DOCUMENT, len(texts) - start))
            )
        await session.commit()
    return partner_id, document_ids


async def _measure(url: str, var_dir: Path, passages: int, turns: int) -> dict[str, object]:
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    settings = Settings(var_dir=var_dir, database_url=url, secret_key="bench-master-key-" + "k" * 32)
    platform = Platform.from_settings(settings)
    try:
        rng = random.Random(7)
        partner_id, document_ids = await _fill(platform, passages, rng)
        started = time.perf_counter()
        await retrieve(platform=platform, partner_id=partner_id, document_ids=document_ids, query=QUESTIONS[0], threshold="low")
        first_ms = (time.perf_counter() - started) * 1000
        total, embed, search, sizes = [], [], [], []
        for i in range(turns):
            question = QUESTIONS[i % len(QUESTIONS)]
            t0 = time.perf_counter()
            vector = Embedder.embed_one(question)
            t1 = time.perf_counter()
            async with platform.sessions() as session:
                await platform.vector_store.search(
                    session, partner_id=partner_id, document_ids=document_ids, query=vector, limit=kb.TOP_K, min_score=0.12
                )
            t2 = time.perf_counter()
            passages_found = await retrieve(
                platform=platform, partner_id=partner_id, document_ids=document_ids, query=question, threshold="low"
            )
            rendered = kb.render_passages(passages_found) or ""
            t3 = time.perf_counter()
            embed.append((t1 - t0) * 1000)
            search.append((t2 - t1) * 1000)
            total.append((t3 - t2) * 1000)  # the whole per-turn step, as the call runs it
            sizes.append(len(rendered))
        return {
            "passages": passages,
            "first_search_ms": round(first_ms, 1),
            "turn_p50_ms": round(pct(total, 50) or 0, 2),
            "turn_p95_ms": round(pct(total, 95) or 0, 2),
            "embed_p95_ms": round(pct(embed, 95) or 0, 2),
            "search_p95_ms": round(pct(search, 95) or 0, 2),
            "context_chars_avg": round(sum(sizes) / len(sizes)),
        }
    finally:
        await platform.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args()
    Embedder.embed_one("warm up")  # the load, timed by the embedder
    results: dict[str, object] = {"model": MODEL_NAME, "model_load_s": round(Embedder.load_seconds or 0, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = await _measure(f"sqlite:///{tmp}/kb.db", Path(tmp) / "var", args.passages, args.turns)
        async with scratch_database() as pg_url:
            if pg_url is not None:
                results["postgres"] = await _measure(pg_url, Path(tmp) / "var-pg", args.passages, args.turns)
    print(f"model: {results['model']}, loaded in {results['model_load_s']} s")
    print(f"{'store':10s} {'passages':>9s} {'first ms':>9s} {'p50 ms':>8s} {'p95 ms':>8s} {'embed p95':>10s} {'search p95':>11s}")
    for store in ("sqlite", "postgres"):
        row = results.get(store)
        if isinstance(row, dict):
            print(
                f"{store:10s} {row['passages']:>9} {row['first_search_ms']:>9} {row['turn_p50_ms']:>8} "
                f"{row['turn_p95_ms']:>8} {row['embed_p95_ms']:>10} {row['search_p95_ms']:>11}"
            )
    print("budget: p95 <= 25 ms added to a turn")
    print(json.dumps({"bench": "kb_retrieval"} | results))


if __name__ == "__main__":
    asyncio.run(main())
