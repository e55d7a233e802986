"""Knowledge-base documents, folders and their links to agents.

A file goes up in three steps (Vocobase's flow): ``create_upload`` makes the document
(``uploading``) and a signed PUT URL to this platform valid 900 s; ``receive_upload`` takes the
bytes; ``confirm_upload`` queues the ingestion (``processing``). A web link is checked by the SSRF
guard and queued at once. The ingestion worker (``services.kb_ingest``) makes it ``ready`` or
``failed`` with a reason.

An agent knows the documents linked to it directly and those of the folders linked to it
(``agent_document_ids``), worked out when a call starts: adding a document to a linked folder is
the sync. Every function takes the partner and filters on it.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import delete, func, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain import knowledge as kb
from callwright.domain.document_uploads import upload_path, upload_query
from callwright.domain.errors import BadRequest, CallwrightError, Conflict, NotFound, ValidationFailed
from callwright.domain.webhook_urls import UrlRefused
from callwright.recordings.base import RecordingStorage
from callwright.recordings.local import LocalStorage
from callwright.recordings.s3 import S3Storage
from callwright.services.webhook_targets import policy_for, validate_url
from callwright.settings import Settings
from callwright.store.models import (
    Agent,
    AgentDocument,
    KbDocument,
    KbFolder,
    KbFolderAgent,
    KbFolderDocument,
    Partner,
    utcnow,
)

if TYPE_CHECKING:
    from callwright.platform import Platform


class UnsupportedMediaType(CallwrightError):
    status_code = 415
    code = "unsupported_media_type"


class PayloadTooLarge(CallwrightError):
    status_code = 413
    code = "payload_too_large"


def document_storage(platform: Platform) -> RecordingStorage:
    """Where uploaded files are kept: the recordings' S3 bucket under ``documents/`` when one is
    configured (uploads then go straight to S3 through a presigned PUT), else ``var/documents``."""
    return cast("RecordingStorage", platform.document_storage)


def storage_for(settings: Settings) -> RecordingStorage:
    if settings.recordings_storage != "local" and settings.recordings_s3_bucket:
        s3 = S3Storage.from_settings(settings)
        return S3Storage(s3._client, s3.bucket, f"{s3.prefix}documents/")
    return LocalStorage(settings.var_dir / "documents")


def _iso(at: datetime | None) -> str | None:
    from callwright.voice.conversation import iso_utc

    return iso_utc(at) if at is not None else None


def document_view(doc: KbDocument) -> dict[str, Any]:
    return {
        "id": doc.id,
        "name": doc.name,
        "type": doc.doc_type,
        "mime_type": doc.mime_type,
        "status": doc.status,
        "status_reason": doc.status_reason,
        "file_size": doc.file_size,
        "url": doc.source_url,
        "chunk_count": doc.chunk_count,
        "created_at": _iso(doc.created_at),
        "updated_at": _iso(doc.updated_at),
    }


# --- documents ---------------------------------------------------------------------------------


def _check_mime(mime_type: str) -> str:
    if mime_type in kb.IMAGE_MIME_TYPES:
        raise UnsupportedMediaType(
            f"images ({mime_type}) need OCR, which this server does not have; upload the text as "
            "PDF, DOCX, TXT or MD instead",
            code="unsupported_media_type",
        )
    doc_type = kb.MIME_TYPES.get(mime_type)
    if doc_type is None:
        raise UnsupportedMediaType(
            f"mime_type must be one of {', '.join(m for m in kb.MIME_TYPES if m not in kb.IMAGE_MIME_TYPES)}",
            code="unsupported_media_type",
        )
    return doc_type


@dataclass(frozen=True)
class UploadTicket:
    document_id: str
    upload_url: str
    expires_in: int


async def create_upload(
    *, session: AsyncSession, platform: Platform, partner: Partner, name: str, file_size: int, mime_type: str
) -> UploadTicket:
    doc_type = _check_mime(mime_type)
    doc = KbDocument(
        partner_id=partner.id, name=name, doc_type=doc_type, mime_type=mime_type, file_size=file_size,
        status=kb.DocumentStatus.UPLOADING, chunk_count=0, ingest_attempts=0,
    )
    session.add(doc)
    await session.flush()
    doc.storage_key = f"{partner.id}/{doc.id}"
    await session.commit()
    storage = document_storage(platform)
    if isinstance(storage, S3Storage):
        url = await asyncio.to_thread(
            storage._client.generate_presigned_url,
            "put_object",
            Params={"Bucket": storage.bucket, "Key": storage._key(doc.storage_key), "ContentType": mime_type},
            ExpiresIn=kb.UPLOAD_URL_TTL_SECS,
        )
        return UploadTicket(doc.id, url, kb.UPLOAD_URL_TTL_SECS)
    return UploadTicket(doc.id, signed_upload_url(platform, doc.id), kb.UPLOAD_URL_TTL_SECS)


def signed_upload_url(platform: Platform, document_id: str) -> str:
    expires = int(time.time()) + kb.UPLOAD_URL_TTL_SECS
    base = platform.settings.public_url.rstrip("/")
    return f"{base}{upload_path(document_id)}?{upload_query(platform.document_upload_keys[0], document_id, expires)}"


async def receive_upload(
    *, platform: Platform, document_id: str, content_type: str | None, body: AsyncIterator[bytes]
) -> None:
    """The signed PUT's bytes (the URL was checked by the route): at most the declared size."""
    async with platform.sessions() as session:
        doc = await session.get(KbDocument, document_id)
        if doc is None:
            raise NotFound("no such document")
        if doc.status != kb.DocumentStatus.UPLOADING:
            raise Conflict("the document was already confirmed; ask for a new upload URL with a new document")
        declared, key, mime = int(doc.file_size or 0), doc.storage_key or doc.id, doc.mime_type
    if (content_type or "").split(";")[0].strip().lower() != mime:
        raise UnsupportedMediaType(f"Content-Type must be {mime}, the mime_type the upload was asked for")
    directory = platform.settings.var_dir / "documents" / ".incoming"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, delete=False) as part:
        path = Path(part.name)
        seen = 0
        try:
            async for chunk in body:
                seen += len(chunk)
                if seen > declared:
                    raise PayloadTooLarge(f"the upload is larger than the declared file_size ({declared} bytes)")
                part.write(chunk)
        except BaseException:
            part.close()
            path.unlink(missing_ok=True)
            raise
    if seen == 0:
        path.unlink(missing_ok=True)
        raise BadRequest("the upload is empty", code="empty_upload")
    await document_storage(platform).put(key, path)


async def confirm_upload(*, session: AsyncSession, platform: Platform, partner: Partner, document_id: str) -> KbDocument:
    doc = await get_document(session=session, partner=partner, document_id=document_id)
    if doc.status != kb.DocumentStatus.UPLOADING:
        return doc  # confirming again changes nothing
    storage = document_storage(platform)
    size = await storage.size(doc.storage_key or doc.id)
    if size is None:
        raise BadRequest(
            "no file was uploaded for this document: PUT it to the upload_url first", code="upload_not_found"
        )
    if size > int(doc.file_size or 0):
        # A presigned S3 PUT cannot hold the client to the declared size: checked here instead.
        await storage.delete(doc.storage_key or doc.id)
        raise BadRequest(
            f"the uploaded file ({size} bytes) is larger than the declared file_size ({doc.file_size} bytes); "
            "upload it again", code="upload_too_large",
        )
    doc.file_size = size
    _queue(doc)
    await session.commit()
    platform.kb_wakeup.set()
    return doc


def _queue(doc: KbDocument) -> None:
    doc.status = kb.DocumentStatus.PROCESSING
    doc.status_reason = None
    doc.ingest_due_at = utcnow()
    doc.ingest_attempts = 0


async def add_web_link(
    *, session: AsyncSession, platform: Platform, partner: Partner, url: str, name: str | None
) -> KbDocument:
    try:
        target = await validate_url(url, policy_for(platform.settings))
    except UrlRefused as exc:
        raise ValidationFailed("url", f"url {exc}") from None
    doc = KbDocument(
        partner_id=partner.id, name=(name or target.url)[: kb.NAME_MAX], doc_type=kb.WEB_LINK_TYPE,
        mime_type="text/html", source_url=target.url, status=kb.DocumentStatus.PROCESSING, chunk_count=0,
        ingest_attempts=0,
    )
    _queue(doc)
    session.add(doc)
    await session.commit()
    platform.kb_wakeup.set()
    return doc


async def get_document(*, session: AsyncSession, partner: Partner, document_id: str) -> KbDocument:
    doc = await session.scalar(
        select(KbDocument).where(KbDocument.id == document_id, KbDocument.partner_id == partner.id)
    )
    if doc is None:
        raise NotFound("no document with this id in this account")
    return doc


async def list_documents(
    *, session: AsyncSession, partner: Partner, status: str | None, limit: int, offset: int
) -> tuple[list[KbDocument], int]:
    where = [KbDocument.partner_id == partner.id]
    if status:
        where.append(KbDocument.status == status.lower())
    total = await session.scalar(select(func.count()).select_from(KbDocument).where(*where)) or 0
    rows = await session.scalars(
        select(KbDocument).where(*where).order_by(KbDocument.created_at.desc(), KbDocument.id).limit(limit).offset(offset)
    )
    return list(rows), total


async def delete_document(*, session: AsyncSession, platform: Platform, partner: Partner, document_id: str) -> None:
    doc = await get_document(session=session, partner=partner, document_id=document_id)
    key = doc.storage_key if doc.doc_type != kb.WEB_LINK_TYPE else None
    await session.delete(doc)  # its passages and links go with it (ON DELETE CASCADE)
    await session.commit()
    platform.vector_store.forget(partner.id, document_id)
    if key:
        await document_storage(platform).delete(key)


# --- agents' documents -------------------------------------------------------------------------


async def _agent(session: AsyncSession, partner: Partner, agent_id: str) -> Agent:
    agent = await session.scalar(select(Agent).where(Agent.id == agent_id, Agent.partner_id == partner.id))
    if agent is None:
        raise NotFound("no agent with this id in this account")
    return agent


async def _documents(session: AsyncSession, partner: Partner, ids: Sequence[str]) -> dict[str, KbDocument]:
    found = {
        d.id: d
        for d in await session.scalars(
            select(KbDocument).where(KbDocument.partner_id == partner.id, KbDocument.id.in_(list(ids)))
        )
    }
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise NotFound(f"no document with id {unknown[0]} in this account", details=[{"document_id": i} for i in unknown])
    return found


def _linked_ids_query(partner_id: str, agent_id: str) -> Any:
    direct = select(AgentDocument.document_id).join(Agent, Agent.id == AgentDocument.agent_id).where(
        AgentDocument.agent_id == agent_id, Agent.partner_id == partner_id
    )
    via_folders = (
        select(KbFolderDocument.document_id)
        .join(KbFolderAgent, KbFolderAgent.folder_id == KbFolderDocument.folder_id)
        .join(KbFolder, KbFolder.id == KbFolderDocument.folder_id)
        .where(KbFolderAgent.agent_id == agent_id, KbFolder.partner_id == partner_id)
    )
    return union(direct, via_folders)


async def agent_document_ids(session: AsyncSession, *, partner_id: str, agent_id: str, ready_only: bool = True) -> list[str]:
    """The documents an agent knows: linked directly or through a folder, this partner's only."""
    linked = _linked_ids_query(partner_id, agent_id).subquery()
    query = select(KbDocument.id).where(KbDocument.partner_id == partner_id, KbDocument.id.in_(select(linked)))
    if ready_only:
        query = query.where(KbDocument.status == kb.DocumentStatus.READY)
    return list(await session.scalars(query.order_by(KbDocument.id)))


async def document_counts(session: AsyncSession, *, partner_id: str, agent_ids: Sequence[str]) -> dict[str, int]:
    counts = {}
    for agent_id in agent_ids:
        counts[agent_id] = len(await agent_document_ids(session, partner_id=partner_id, agent_id=agent_id, ready_only=False))
    return counts


async def link_documents(
    *, session: AsyncSession, partner: Partner, agent_id: str, document_ids: Sequence[str]
) -> dict[str, Any]:
    agent = await _agent(session, partner, agent_id)
    docs = await _documents(session, partner, document_ids)
    not_ready = [i for i in document_ids if docs[i].status != kb.DocumentStatus.READY]
    if not_ready:
        raise BadRequest(
            f"documents must be ready before they are linked; {not_ready[0]} is {docs[not_ready[0]].status}",
            code="document_not_ready", details=[{"document_id": i, "status": docs[i].status} for i in not_ready],
        )
    already = set(await session.scalars(select(AgentDocument.document_id).where(AgentDocument.agent_id == agent.id)))
    new = [i for i in dict.fromkeys(document_ids) if i not in already]
    if len(already) + len(new) > kb.DOCUMENTS_PER_AGENT_MAX:
        raise BadRequest(
            f"an agent may have at most {kb.DOCUMENTS_PER_AGENT_MAX} linked documents; it has {len(already)}",
            code="document_limit_exceeded",
        )
    for document_id in new:
        session.add(AgentDocument(agent_id=agent.id, document_id=document_id))
    await session.commit()
    return {
        "linked": [{"document_id": i, "sync_status": kb.sync_status_of(docs[i].status).value} for i in new],
        "skipped": [i for i in dict.fromkeys(document_ids) if i in already],
    }


async def unlink_documents(
    *, session: AsyncSession, partner: Partner, agent_id: str, document_ids: Sequence[str]
) -> dict[str, Any]:
    agent = await _agent(session, partner, agent_id)
    linked = set(await session.scalars(select(AgentDocument.document_id).where(AgentDocument.agent_id == agent.id)))
    gone = [i for i in dict.fromkeys(document_ids) if i in linked]
    if gone:
        await session.execute(
            delete(AgentDocument).where(AgentDocument.agent_id == agent.id, AgentDocument.document_id.in_(gone))
        )
        await session.commit()
    return {"unlinked": gone, "skipped": [i for i in dict.fromkeys(document_ids) if i not in linked]}


async def agent_documents(*, session: AsyncSession, partner: Partner, agent_id: str) -> dict[str, Any]:
    agent = await _agent(session, partner, agent_id)
    linked_at: dict[str, datetime] = {}
    for document_id, at in await session.execute(
        select(AgentDocument.document_id, AgentDocument.linked_at).where(AgentDocument.agent_id == agent.id)
    ):
        linked_at[document_id] = at
    for document_id, at in await session.execute(
        select(KbFolderDocument.document_id, func.max(KbFolderAgent.linked_at))
        .join(KbFolderAgent, KbFolderAgent.folder_id == KbFolderDocument.folder_id)
        .where(KbFolderAgent.agent_id == agent.id)
        .group_by(KbFolderDocument.document_id)
    ):
        linked_at.setdefault(document_id, at)
    docs = list(
        await session.scalars(
            select(KbDocument)
            .where(KbDocument.partner_id == partner.id, KbDocument.id.in_(list(linked_at)))
            .order_by(KbDocument.created_at, KbDocument.id)
        )
    )
    return {
        "documents": [
            {
                "id": d.id, "name": d.name, "type": d.doc_type, "status": d.status, "file_size": d.file_size,
                "sync_status": kb.sync_status_of(d.status).value,
                "synced_at": _iso(max(d.ready_at, linked_at[d.id])) if d.ready_at else None,
                "linked_at": _iso(linked_at[d.id]),
            }
            for d in docs
        ],
        "total": len(docs),
    }


# --- folders -----------------------------------------------------------------------------------


async def folder_view(session: AsyncSession, folder: KbFolder) -> dict[str, Any]:
    document_ids = list(
        await session.scalars(
            select(KbFolderDocument.document_id).where(KbFolderDocument.folder_id == folder.id).order_by(KbFolderDocument.added_at)
        )
    )
    agent_ids = list(
        await session.scalars(
            select(KbFolderAgent.agent_id).where(KbFolderAgent.folder_id == folder.id).order_by(KbFolderAgent.linked_at)
        )
    )
    return {
        "id": folder.id, "name": folder.name, "description": folder.description,
        "document_ids": document_ids, "document_count": len(document_ids), "agent_ids": agent_ids,
        "created_at": _iso(folder.created_at), "updated_at": _iso(folder.updated_at),
    }


async def create_folder(*, session: AsyncSession, partner: Partner, name: str, description: str | None) -> KbFolder:
    folder = KbFolder(partner_id=partner.id, name=name, description=description)
    session.add(folder)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"a folder named {name!r} already exists in this account", code="duplicate_folder_name") from None
    return folder


async def get_folder(*, session: AsyncSession, partner: Partner, folder_id: str) -> KbFolder:
    folder = await session.scalar(select(KbFolder).where(KbFolder.id == folder_id, KbFolder.partner_id == partner.id))
    if folder is None:
        raise NotFound("no folder with this id in this account")
    return folder


async def list_folders(*, session: AsyncSession, partner: Partner) -> list[KbFolder]:
    return list(
        await session.scalars(select(KbFolder).where(KbFolder.partner_id == partner.id).order_by(KbFolder.created_at))
    )


async def update_folder(
    *, session: AsyncSession, partner: Partner, folder_id: str, changes: dict[str, Any]
) -> KbFolder:
    folder = await get_folder(session=session, partner=partner, folder_id=folder_id)
    for name, value in changes.items():
        setattr(folder, name, value)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict("a folder with this name already exists in this account", code="duplicate_folder_name") from None
    return folder


async def delete_folder(*, session: AsyncSession, partner: Partner, folder_id: str) -> None:
    folder = await get_folder(session=session, partner=partner, folder_id=folder_id)
    await session.delete(folder)  # its documents stay; agents linked to it no longer see them
    await session.commit()


async def folder_documents(
    *, session: AsyncSession, partner: Partner, folder_id: str, document_ids: Sequence[str], add: bool
) -> KbFolder:
    folder = await get_folder(session=session, partner=partner, folder_id=folder_id)
    await _documents(session, partner, document_ids)
    present = set(await session.scalars(select(KbFolderDocument.document_id).where(KbFolderDocument.folder_id == folder.id)))
    wanted = list(dict.fromkeys(document_ids))
    if add:
        for document_id in wanted:
            if document_id not in present:
                session.add(KbFolderDocument(folder_id=folder.id, document_id=document_id))
    else:
        await session.execute(
            delete(KbFolderDocument).where(KbFolderDocument.folder_id == folder.id, KbFolderDocument.document_id.in_(wanted))
        )
    folder.updated_at = utcnow()
    await session.commit()
    return folder


async def folder_agents(
    *, session: AsyncSession, partner: Partner, folder_id: str, agent_ids: Sequence[str], add: bool
) -> KbFolder:
    folder = await get_folder(session=session, partner=partner, folder_id=folder_id)
    wanted = list(dict.fromkeys(agent_ids))
    found = set(await session.scalars(select(Agent.id).where(Agent.partner_id == partner.id, Agent.id.in_(wanted))))
    unknown = [a for a in wanted if a not in found]
    if unknown:
        raise NotFound(f"no agent with id {unknown[0]} in this account")
    present = set(await session.scalars(select(KbFolderAgent.agent_id).where(KbFolderAgent.folder_id == folder.id)))
    if add:
        for agent_id in wanted:
            if agent_id not in present:
                session.add(KbFolderAgent(folder_id=folder.id, agent_id=agent_id))
    else:
        await session.execute(
            delete(KbFolderAgent).where(KbFolderAgent.folder_id == folder.id, KbFolderAgent.agent_id.in_(wanted))
        )
    folder.updated_at = utcnow()
    await session.commit()
    return folder


