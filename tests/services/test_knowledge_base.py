"""The knowledge base below the call, on both databases: a PDF, a DOCX and a locally served web
page go through the documented upload flow (signed URL, PUT, confirm) or the web-link route, the
ingestion worker makes them ready, they are linked to an agent (directly and through a folder),
retrieval finds the right passage and the threshold levels change what passes; partner B's search
never returns A's passages (tested at the vector store itself); a job claimed by a worker that
died is resumed; images, oversize files, bad signatures and other tenants' ids are refused."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from callwright.domain.clock import ManualClock
from callwright.knowledge.embedding import Embedder
from callwright.platform import Platform
from callwright.services.documents import agent_document_ids
from callwright.services.kb_ingest import LEASE, IngestWorker
from callwright.services.kb_retrieval import retrieve
from callwright.store.models import KbChunk, KbDocument, utcnow
from tests.conftest import PartnerHandle, error_of
from tests.kb_support import (
    DOCX_FACT,
    DOCX_MIME,
    FILLER,
    PDF_FACT,
    PDF_MIME,
    WEB_FACT,
    make_docx,
    make_pdf,
    serving_page,
    upload,
)


async def _agent(client: httpx.AsyncClient, partner: PartnerHandle, **fields: object) -> str:
    made = await client.post("/api/v2/agent", json={"agent_name": "KB agent"} | fields, headers=partner.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["data"]["id"])


async def _ingest(platform: Platform) -> None:
    worker = IngestWorker(platform)
    while await worker.run_due():
        pass


async def _three_documents(client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle) -> dict[str, str]:
    pdf = await upload(client, partner.headers, "Branches.pdf", make_pdf(PDF_FACT, *FILLER), PDF_MIME)
    docx = await upload(client, partner.headers, "Refunds.docx", make_docx(DOCX_FACT, *FILLER), DOCX_MIME)
    with serving_page() as url:
        added = await client.post(
            "/api/v2/documents/web-link", json={"url": url, "name": "Zephyr page"}, headers=partner.headers
        )
        assert added.status_code == 201, added.text
        assert added.json()["data"]["status"] == "processing"
        await _ingest(platform)
    return {"pdf": pdf, "docx": docx, "web": added.json()["data"]["id"]}


async def test_documents_are_uploaded_indexed_linked_and_retrieved(
    client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle
):
    docs = await _three_documents(client, platform, partner)
    for kind, document_id in docs.items():
        got = (await client.get(f"/api/v2/documents/{document_id}", headers=partner.headers)).json()["data"]
        assert (got["status"], got["status_reason"]) == ("ready", None), (kind, got)
        assert got["chunk_count"] >= 1
    listed = (await client.get("/api/v2/documents?status=READY", headers=partner.headers)).json()
    assert listed["pagination"]["total"] == 3

    agent_id = await _agent(client, partner)
    linked = await client.post(
        f"/api/v2/agent/{agent_id}/documents", json={"document_ids": [docs["pdf"], docs["docx"]]}, headers=partner.headers
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["data"] == {
        "linked": [{"document_id": docs["pdf"], "sync_status": "synced"}, {"document_id": docs["docx"], "sync_status": "synced"}],
        "skipped": [],
    }
    again = await client.post(
        f"/api/v2/agent/{agent_id}/documents", json={"document_ids": [docs["pdf"]]}, headers=partner.headers
    )
    assert again.json()["data"] == {"linked": [], "skipped": [docs["pdf"]]}

    # The web page joins through a folder linked to the agent.
    folder = (await client.post("/api/v2/document-folders", json={"name": "Products"}, headers=partner.headers)).json()["data"]
    await client.post(f"/api/v2/document-folders/{folder['id']}/agents", json={"agent_ids": [agent_id]}, headers=partner.headers)
    added = await client.post(
        f"/api/v2/document-folders/{folder['id']}/documents", json={"document_ids": [docs["web"]]}, headers=partner.headers
    )
    assert added.json()["data"]["document_ids"] == [docs["web"]] and added.json()["data"]["agent_ids"] == [agent_id]

    known = (await client.get(f"/api/v2/agent/{agent_id}/documents", headers=partner.headers)).json()["data"]
    assert known["total"] == 3 and {d["sync_status"] for d in known["documents"]} == {"synced"}
    assert (await client.get(f"/api/v2/agent/{agent_id}", headers=partner.headers)).json()["data"]["document_count"] == 3

    async with platform.sessions() as session:
        ids = await agent_document_ids(session, partner_id=partner.id, agent_id=agent_id)
    for question, document_id, fact in (
        ("What time does the Pune branch open?", docs["pdf"], PDF_FACT),
        ("When will I get my refund for a cancelled order?", docs["docx"], DOCX_FACT),
        ("How long is the blender motor warranty?", docs["web"], WEB_FACT),
    ):
        [best, *_] = await retrieve(platform=platform, partner_id=partner.id, document_ids=ids, query=question, threshold="medium")
        assert best.document_id == document_id and fact in best.text, (question, best)
    # Nothing about cricket bats in these documents: nothing passes.
    assert await retrieve(platform=platform, partner_id=partner.id, document_ids=ids, query="Do you sell cricket bats?", threshold="medium") == []

    # Unlinking the folder takes the page away; deleting a document takes it from the agent.
    await client.request(
        "DELETE", f"/api/v2/document-folders/{folder['id']}/agents", json={"agent_ids": [agent_id]}, headers=partner.headers
    )
    deleted = await client.delete(f"/api/v2/documents/{docs['pdf']}", headers=partner.headers)
    assert deleted.status_code == 200
    known = (await client.get(f"/api/v2/agent/{agent_id}/documents", headers=partner.headers)).json()["data"]
    assert [d["id"] for d in known["documents"]] == [docs["docx"]]
    async with platform.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(KbChunk).where(KbChunk.document_id == docs["pdf"])) == 0


async def test_the_threshold_levels_change_what_is_retrieved(
    client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle
):
    docs = await _three_documents(client, platform, partner)
    ids = list(docs.values())

    async def found(question: str, threshold: str) -> set[str]:
        passages = await retrieve(platform=platform, partner_id=partner.id, document_ids=ids, query=question, threshold=threshold)
        return {p.document_id for p in passages}

    # The branch question also brushes the refunds document (same bank): only "low" lets it in.
    pune = "What time does the Pune branch open?"
    assert await found(pune, "low") == {docs["pdf"], docs["docx"]}
    assert await found(pune, "medium") == {docs["pdf"]}
    assert await found(pune, "high") == {docs["pdf"]}
    # A looser match passes "medium" but not "high".
    refund = "When will I get my refund for a cancelled order?"
    assert await found(refund, "medium") == {docs["docx"]}
    assert await found(refund, "high") == set()


async def test_partner_b_never_gets_partner_a_passages_from_the_vector_store(
    client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle, other_partner: PartnerHandle
):
    docs = await _three_documents(client, platform, partner)
    query = Embedder.embed_one("What time does the Pune branch open?")
    async with platform.sessions() as session:
        mine = await platform.vector_store.search(
            session, partner_id=partner.id, document_ids=list(docs.values()), query=query, limit=4, min_score=-1.0
        )
        # B names A's documents outright, with no threshold: still nothing, cached or not.
        theirs = await platform.vector_store.search(
            session, partner_id=other_partner.id, document_ids=list(docs.values()), query=query, limit=4, min_score=-1.0
        )
    assert {h.document_id for h in mine} == set(docs.values())
    assert theirs == []
    assert await retrieve(
        platform=platform, partner_id=other_partner.id, document_ids=list(docs.values()), query="Pune branch", threshold="low"
    ) == []

    # And above it, every route answers 404 for A's ids.
    b_agent = await _agent(client, other_partner)
    for response in (
        await client.get(f"/api/v2/documents/{docs['pdf']}", headers=other_partner.headers),
        await client.delete(f"/api/v2/documents/{docs['pdf']}", headers=other_partner.headers),
        await client.post(f"/api/v2/documents/{docs['pdf']}/confirm", headers=other_partner.headers),
        await client.post(f"/api/v2/agent/{b_agent}/documents", json={"document_ids": [docs["pdf"]]}, headers=other_partner.headers),
    ):
        assert response.status_code == 404, response.text
    a_agent = await _agent(client, partner)
    assert (await client.get(f"/api/v2/agent/{a_agent}/documents", headers=other_partner.headers)).status_code == 404
    assert (await client.get("/api/v2/documents", headers=other_partner.headers)).json()["pagination"]["total"] == 0
    folder = (await client.post("/api/v2/document-folders", json={"name": "A's"}, headers=partner.headers)).json()["data"]
    assert (await client.get(f"/api/v2/document-folders/{folder['id']}", headers=other_partner.headers)).status_code == 404
    b_folder = (await client.post("/api/v2/document-folders", json={"name": "B's"}, headers=other_partner.headers)).json()["data"]
    sneak = await client.post(
        f"/api/v2/document-folders/{b_folder['id']}/documents", json={"document_ids": [docs["pdf"]]}, headers=other_partner.headers
    )
    assert sneak.status_code == 404


async def test_a_job_claimed_by_a_worker_that_died_is_resumed(
    client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle
):
    document_id = await upload(client, partner.headers, "Branches.pdf", make_pdf(PDF_FACT, *FILLER), PDF_MIME)
    start = utcnow()
    dead = IngestWorker(platform, clock=ManualClock(start))
    assert await dead.claim() == [document_id]  # ... and the worker dies before ingesting it
    # It had written part of the document's passages before it died.
    async with platform.sessions() as session:
        session.add(KbChunk(partner_id=partner.id, document_id=document_id, ordinal=0, text="half", embedding=b"\0" * 1024))
        await session.commit()

    # Another worker, before the lease runs out, leaves the job alone ...
    assert await IngestWorker(platform, clock=ManualClock(start + LEASE - timedelta(seconds=1))).run_due() == 0
    # ... and after it, claims it and finishes it, replacing the half-written passages.
    assert await IngestWorker(platform, clock=ManualClock(start + LEASE + timedelta(seconds=1))).run_due() == 1
    async with platform.sessions() as session:
        doc = await session.get(KbDocument, document_id)
        assert doc is not None
        assert (doc.status, doc.ingest_due_at, doc.ingest_attempts) == ("ready", None, 2)
        texts = list(await session.scalars(select(KbChunk.text).where(KbChunk.document_id == document_id)))
    assert len(texts) == doc.chunk_count and "half" not in texts and PDF_FACT in texts[0]


async def test_a_job_cut_too_often_fails_with_a_reason(client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle):
    document_id = await upload(client, partner.headers, "Branches.pdf", make_pdf(PDF_FACT), PDF_MIME)
    async with platform.sessions() as session:
        await session.execute(update(KbDocument).where(KbDocument.id == document_id).values(ingest_attempts=3))
        await session.commit()
    await _ingest(platform)
    got = (await client.get(f"/api/v2/documents/{document_id}", headers=partner.headers)).json()["data"]
    assert got["status"] == "failed" and "cut off 3 times" in got["status_reason"]


async def test_unreadable_files_fail_with_a_reason(client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle):
    broken = await upload(client, partner.headers, "Broken.pdf", b"%PDF-1.4 not really", PDF_MIME)
    empty = await upload(client, partner.headers, "Blank.pdf", make_pdf(), PDF_MIME)
    await _ingest(platform)
    for document_id, reason in ((broken, "could not be read as PDF"), (empty, "no text was found")):
        got = (await client.get(f"/api/v2/documents/{document_id}", headers=partner.headers)).json()["data"]
        assert got["status"] == "failed" and reason in got["status_reason"], got
    agent_id = await _agent(client, partner)
    refused = await client.post(f"/api/v2/agent/{agent_id}/documents", json={"document_ids": [broken]}, headers=partner.headers)
    assert refused.status_code == 400 and error_of(refused)["reason"] == "document_not_ready"


async def test_the_upload_flow_refuses_what_it_must(client: httpx.AsyncClient, platform: Platform, partner: PartnerHandle):
    image = await client.post(
        "/api/v2/documents/upload", json={"name": "Menu.png", "file_size": 1000, "mime_type": "image/png"}, headers=partner.headers
    )
    assert image.status_code == 415 and error_of(image)["code"] == "UNSUPPORTED_MEDIA_TYPE", image.text
    assert "OCR" in error_of(image)["message"]
    too_big = await client.post(
        "/api/v2/documents/upload",
        json={"name": "Huge.pdf", "file_size": 52_428_801, "mime_type": PDF_MIME},
        headers=partner.headers,
    )
    assert too_big.status_code == 400 and "file_size" in too_big.text

    ticket = (
        await client.post(
            "/api/v2/documents/upload", json={"name": "Notes.txt", "file_size": 5, "mime_type": "text/plain"}, headers=partner.headers
        )
    ).json()["data"]
    path = httpx.URL(ticket["upload_url"]).raw_path.decode()
    forged = path.replace("sig=", "sig=x")
    assert (await client.put(forged, content=b"hello", headers={"Content-Type": "text/plain"})).status_code == 403
    wrong_type = await client.put(path, content=b"hello", headers={"Content-Type": "application/pdf"})
    assert wrong_type.status_code == 415
    longer = await client.put(path, content=b"hello world", headers={"Content-Type": "text/plain"})
    assert longer.status_code == 413
    early = await client.post(f"/api/v2/documents/{ticket['document_id']}/confirm", headers=partner.headers)
    assert early.status_code == 400 and error_of(early)["reason"] == "upload_not_found"
    assert (await client.put(path, content=b"hello", headers={"Content-Type": "text/plain"})).status_code == 200
    assert (await client.post(f"/api/v2/documents/{ticket['document_id']}/confirm", headers=partner.headers)).status_code == 200
    # Once confirmed, the URL cannot replace the file.
    assert (await client.put(path, content=b"again", headers={"Content-Type": "text/plain"})).status_code == 409


@pytest.mark.parametrize(
    ("url", "words"),
    [("ftp://example.com/x", "http"), ("not a url", "url")],
)
async def test_web_links_go_through_the_url_guard(
    client: httpx.AsyncClient, partner: PartnerHandle, url: str, words: str
):
    refused = await client.post("/api/v2/documents/web-link", json={"url": url}, headers=partner.headers)
    assert refused.status_code == 400 and words in error_of(refused)["message"], refused.text


async def test_the_kb_fields_are_stored_and_shown(client: httpx.AsyncClient, partner: PartnerHandle):
    fields = {"kb_threshold": "high", "kb_include_summaries": True, "kb_result_format": "{{document_name}}: {{content}}"}
    made = await client.post("/api/v2/agent", json={"agent_name": "Tuned"} | fields, headers=partner.headers)
    assert made.status_code == 201, made.text
    data = made.json()["data"]
    assert {k: data[k] for k in fields} == fields and data["document_count"] == 0
    cleared = await client.put(
        f"/api/v2/agent/{data['id']}", json={"kb_threshold": None, "kb_result_format": None}, headers=partner.headers
    )
    assert (cleared.json()["data"]["kb_threshold"], cleared.json()["data"]["kb_result_format"]) == ("medium", None)
    bad = await client.put(f"/api/v2/agent/{data['id']}", json={"kb_threshold": "very"}, headers=partner.headers)
    assert bad.status_code == 400 and "kb_threshold" in error_of(bad)["message"]


async def test_with_s3_configured_the_upload_url_is_a_presigned_s3_put(settings, platform: Platform, partner: PartnerHandle):
    from callwright.api.app import create_app
    from tests.s3_server import running_s3_server

    with running_s3_server() as s3:
        bucket = s3.new_bucket()
        on_s3 = Platform.from_settings(settings.model_copy(update=s3.settings(bucket, recordings_s3_prefix="cw/")))
        app = httpx.ASGITransport(app=create_app(platform=on_s3), raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=app, base_url="http://callwright.test") as client:
                data = make_pdf(PDF_FACT)
                ticket = (
                    await client.post(
                        "/api/v2/documents/upload",
                        json={"name": "Branches.pdf", "file_size": len(data), "mime_type": PDF_MIME},
                        headers=partner.headers,
                    )
                ).json()["data"]
                assert ticket["upload_url"].startswith(s3.endpoint_url) and "Signature" in ticket["upload_url"]
                async with httpx.AsyncClient() as outside:
                    put = await outside.put(ticket["upload_url"], content=data, headers={"Content-Type": PDF_MIME})
                assert put.status_code == 200, put.text
                confirmed = await client.post(f"/api/v2/documents/{ticket['document_id']}/confirm", headers=partner.headers)
                assert confirmed.status_code == 200, confirmed.text
                await _ingest(on_s3)
                got = (await client.get(f"/api/v2/documents/{ticket['document_id']}", headers=partner.headers)).json()["data"]
                assert got["status"] == "ready", got
                keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
                assert keys == [f"cw/documents/{partner.id}/{ticket['document_id']}"]
                # A file larger than declared (a presigned PUT cannot stop it) is refused at confirm.
                small = (
                    await client.post(
                        "/api/v2/documents/upload",
                        json={"name": "Tiny.txt", "file_size": 3, "mime_type": "text/plain"},
                        headers=partner.headers,
                    )
                ).json()["data"]
                async with httpx.AsyncClient() as outside:
                    await outside.put(small["upload_url"], content=b"much longer", headers={"Content-Type": "text/plain"})
                refused = await client.post(f"/api/v2/documents/{small['document_id']}/confirm", headers=partner.headers)
                assert refused.status_code == 400 and error_of(refused)["reason"] == "upload_too_large"
        finally:
            await on_s3.close()
