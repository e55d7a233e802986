"""The knowledge base: documents (``/documents``), document folders (``/document-folders``) and
an agent's linked documents (``/agent/{id}/documents``), plus the signed upload URL the platform
serves itself (``PUT /uploads/documents/{id}``). See docs/knowledge-base.md."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import Responses, error_responses, ok, ok_list
from callwright.api.path_ids import AgentId, DocumentId, FolderId
from callwright.api.schemas.documents import (
    AgentIdsBody,
    DocumentIdsBody,
    FolderBody,
    FolderUpdateBody,
    UploadBody,
    WebLinkBody,
)
from callwright.domain.document_uploads import check_upload_url
from callwright.domain.errors import Forbidden
from callwright.domain.recording_urls import UrlCheck
from callwright.services import documents as docs

router = APIRouter(tags=["knowledge base"])
upload_router = APIRouter(tags=["knowledge base"])

_DOC_ID = "d1234567-abcd-1234-abcd-123456789012"
_AGENT_ID = "a1234567-abcd-1234-abcd-123456789012"
_FOLDER_ID = "f1234567-abcd-1234-abcd-123456789012"
_DOCUMENT = {
    "id": _DOC_ID, "name": "Product FAQ.pdf", "type": "pdf", "mime_type": "application/pdf", "status": "ready",
    "status_reason": None, "file_size": 1048576, "url": None, "chunk_count": 42,
    "created_at": "2026-12-06T10:30:00.000000Z", "updated_at": "2026-12-06T10:30:09.000000Z",
}
_TICKET = {
    "document_id": _DOC_ID,
    "upload_url": f"https://callwright.example.com/uploads/documents/{_DOC_ID}?expires=1764583200&sig=…",
    "expires_in": 900,
}
_LINKED = {"linked": [{"document_id": _DOC_ID, "sync_status": "synced"}], "skipped": []}
_AGENT_DOCS = {
    "documents": [
        {
            "id": _DOC_ID, "name": "Product FAQ.pdf", "type": "pdf", "status": "ready", "file_size": 1048576,
            "sync_status": "synced", "synced_at": "2026-12-06T10:31:00.000000Z", "linked_at": "2026-12-06T10:31:00.000000Z",
        }
    ],
    "total": 1,
}
_FOLDER = {
    "id": _FOLDER_ID, "name": "Products", "description": None, "document_ids": [_DOC_ID], "document_count": 1,
    "agent_ids": [_AGENT_ID], "created_at": "2026-12-06T10:30:00.000000Z", "updated_at": "2026-12-06T10:32:00.000000Z",
}


def _example(data: Any, status: int = 200, **extra: Any) -> Responses:
    return {status: {"content": {"application/json": {"example": {"success": True, "data": data} | extra}}}}


@router.post(
    "/documents/upload",
    summary="Get a signed upload URL",
    description="Creates the document in `uploading` status and returns a URL to PUT the file to "
    "(with the same Content-Type as `mime_type`), valid 900 s. Then `POST /documents/{id}/confirm`. "
    "Images are refused with 415 `UNSUPPORTED_MEDIA_TYPE` (this server has no OCR).",
    responses=_example(_TICKET) | error_responses(400, 401, 415),
)
async def create_upload(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, body: UploadBody
) -> dict[str, Any]:
    ticket = await docs.create_upload(
        session=session, platform=platform, partner=partner, name=body.name, file_size=body.file_size,
        mime_type=body.mime_type,
    )
    return ok({"document_id": ticket.document_id, "upload_url": ticket.upload_url, "expires_in": ticket.expires_in})


@router.post(
    "/documents/{document_id}/confirm",
    summary="Confirm an upload",
    description="After the PUT: the document moves to `processing`; it becomes `ready` (or "
    "`failed` with `status_reason`) once its text is extracted and indexed.",
    responses=_example(_DOCUMENT | {"status": "processing", "chunk_count": 0}) | error_responses(400, 401, 404),
)
async def confirm_upload(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, document_id: DocumentId
) -> dict[str, Any]:
    doc = await docs.confirm_upload(session=session, platform=platform, partner=partner, document_id=document_id)
    return ok(docs.document_view(doc))


@router.post(
    "/documents/web-link",
    status_code=201,
    summary="Add a web link",
    description="The page is fetched once (HTML or plain text, up to 5 MB, no redirects) through the "
    "platform's outbound URL guard and indexed like a file.",
    responses=_example(_DOCUMENT | {"type": "url", "status": "processing", "url": "https://example.com/faq", "mime_type": "text/html", "file_size": None, "chunk_count": 0}, 201) | error_responses(400, 401),
)
async def add_web_link(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, body: WebLinkBody
) -> dict[str, Any]:
    doc = await docs.add_web_link(session=session, platform=platform, partner=partner, url=body.url, name=body.name)
    return ok(docs.document_view(doc))


@router.get("/documents", summary="List documents", responses=_example([_DOCUMENT], pagination={"limit": 20, "offset": 0, "total": 1}) | error_responses(401))
async def list_documents(
    partner: CurrentPartner,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    status: Annotated[str | None, Query(pattern="^(?i)(uploading|processing|ready|failed)$")] = None,
) -> dict[str, Any]:
    rows, total = await docs.list_documents(session=session, partner=partner, status=status, limit=limit, offset=offset)
    return ok_list([docs.document_view(d) for d in rows], limit=limit, offset=offset, total=total)


@router.get("/documents/{document_id}", summary="Get a document", responses=_example(_DOCUMENT) | error_responses(401, 404))
async def get_document(partner: CurrentPartner, session: SessionDep, document_id: DocumentId) -> dict[str, Any]:
    return ok(docs.document_view(await docs.get_document(session=session, partner=partner, document_id=document_id)))


@router.delete(
    "/documents/{document_id}",
    summary="Delete a document",
    description="Its passages go, and every agent and folder it was linked to forgets it.",
    responses=_example({"id": _DOC_ID, "deleted": True}) | error_responses(401, 404),
)
async def delete_document(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, document_id: DocumentId
) -> dict[str, Any]:
    await docs.delete_document(session=session, platform=platform, partner=partner, document_id=document_id)
    return ok({"id": document_id, "deleted": True})


@router.post(
    "/agent/{agent_id}/documents",
    summary="Link documents to an agent",
    description="1–20 ready documents; already linked ones are skipped; at most 100 per agent.",
    responses=_example(_LINKED) | error_responses(400, 401, 404),
)
async def link_documents(
    partner: CurrentPartner, session: SessionDep, agent_id: AgentId, body: DocumentIdsBody
) -> dict[str, Any]:
    return ok(await docs.link_documents(session=session, partner=partner, agent_id=agent_id, document_ids=body.document_ids))


@router.get("/agent/{agent_id}/documents", summary="List linked documents", responses=_example(_AGENT_DOCS) | error_responses(401, 404))
async def list_agent_documents(partner: CurrentPartner, session: SessionDep, agent_id: AgentId) -> dict[str, Any]:
    return ok(await docs.agent_documents(session=session, partner=partner, agent_id=agent_id))


@router.delete(
    "/agent/{agent_id}/documents",
    summary="Unlink documents from an agent",
    responses=_example({"unlinked": [_DOC_ID], "skipped": []}) | error_responses(400, 401, 404),
)
async def unlink_documents(
    partner: CurrentPartner, session: SessionDep, agent_id: AgentId, body: DocumentIdsBody
) -> dict[str, Any]:
    return ok(
        await docs.unlink_documents(session=session, partner=partner, agent_id=agent_id, document_ids=body.document_ids)
    )


@router.post("/document-folders", status_code=201, summary="Create a folder", responses=_example(_FOLDER | {"document_ids": [], "document_count": 0, "agent_ids": []}, 201) | error_responses(400, 401, 409))
async def create_folder(partner: CurrentPartner, session: SessionDep, body: FolderBody) -> dict[str, Any]:
    folder = await docs.create_folder(session=session, partner=partner, name=body.name, description=body.description)
    return ok(await docs.folder_view(session, folder))


@router.get("/document-folders", summary="List folders", responses=_example([_FOLDER]) | error_responses(401))
async def list_folders(partner: CurrentPartner, session: SessionDep) -> dict[str, Any]:
    return ok([await docs.folder_view(session, f) for f in await docs.list_folders(session=session, partner=partner)])


@router.get("/document-folders/{folder_id}", summary="Get a folder", responses=_example(_FOLDER) | error_responses(401, 404))
async def get_folder(partner: CurrentPartner, session: SessionDep, folder_id: FolderId) -> dict[str, Any]:
    return ok(await docs.folder_view(session, await docs.get_folder(session=session, partner=partner, folder_id=folder_id)))


@router.put("/document-folders/{folder_id}", summary="Update a folder", responses=_example(_FOLDER) | error_responses(400, 401, 404, 409))
async def update_folder(
    partner: CurrentPartner, session: SessionDep, folder_id: FolderId, body: FolderUpdateBody
) -> dict[str, Any]:
    folder = await docs.update_folder(
        session=session, partner=partner, folder_id=folder_id, changes=body.model_dump(exclude_unset=True)
    )
    return ok(await docs.folder_view(session, folder))


@router.delete("/document-folders/{folder_id}", summary="Delete a folder", responses=_example({"id": _FOLDER_ID, "deleted": True}) | error_responses(401, 404))
async def delete_folder(partner: CurrentPartner, session: SessionDep, folder_id: FolderId) -> dict[str, Any]:
    await docs.delete_folder(session=session, partner=partner, folder_id=folder_id)
    return ok({"id": folder_id, "deleted": True})


@router.post(
    "/document-folders/{folder_id}/documents",
    summary="Add documents to a folder",
    description="Agents linked to the folder know them from their next call on.",
    responses=_example(_FOLDER) | error_responses(400, 401, 404),
)
async def add_folder_documents(
    partner: CurrentPartner, session: SessionDep, folder_id: FolderId, body: DocumentIdsBody
) -> dict[str, Any]:
    folder = await docs.folder_documents(
        session=session, partner=partner, folder_id=folder_id, document_ids=body.document_ids, add=True
    )
    return ok(await docs.folder_view(session, folder))


@router.delete("/document-folders/{folder_id}/documents", summary="Remove documents from a folder",
               responses=_example(_FOLDER | {"document_ids": [], "document_count": 0}) | error_responses(400, 401, 404))
async def remove_folder_documents(
    partner: CurrentPartner, session: SessionDep, folder_id: FolderId, body: DocumentIdsBody
) -> dict[str, Any]:
    folder = await docs.folder_documents(
        session=session, partner=partner, folder_id=folder_id, document_ids=body.document_ids, add=False
    )
    return ok(await docs.folder_view(session, folder))


@router.post("/document-folders/{folder_id}/agents", summary="Link a folder to agents",
             responses=_example(_FOLDER) | error_responses(400, 401, 404))
async def link_folder_agents(
    partner: CurrentPartner, session: SessionDep, folder_id: FolderId, body: AgentIdsBody
) -> dict[str, Any]:
    folder = await docs.folder_agents(session=session, partner=partner, folder_id=folder_id, agent_ids=body.agent_ids, add=True)
    return ok(await docs.folder_view(session, folder))


@router.delete("/document-folders/{folder_id}/agents", summary="Unlink a folder from agents",
               responses=_example(_FOLDER | {"agent_ids": []}) | error_responses(400, 401, 404))
async def unlink_folder_agents(
    partner: CurrentPartner, session: SessionDep, folder_id: FolderId, body: AgentIdsBody
) -> dict[str, Any]:
    folder = await docs.folder_agents(
        session=session, partner=partner, folder_id=folder_id, agent_ids=body.agent_ids, add=False
    )
    return ok(await docs.folder_view(session, folder))


@upload_router.put(
    "/uploads/documents/{document_id}",
    summary="Upload a document's file (signed URL)",
    description="The `upload_url` of `POST /api/v2/documents/upload`: no API key, a valid unexpired "
    "`expires` + `sig`, the Content-Type given as `mime_type`, at most `file_size` bytes.",
    responses=_example({"document_id": _DOC_ID, "uploaded": True}) | error_responses(400, 403, 404, 409, 413, 415),
)
async def put_document_file(
    request: Request,
    platform: PlatformDep,
    document_id: DocumentId,
    expires: Annotated[str | None, Query(max_length=16)] = None,
    sig: Annotated[str | None, Query(max_length=128)] = None,
    content_type: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    check = check_upload_url(platform.document_upload_keys, document_id, expires, sig, now=time.time())
    if check is UrlCheck.BAD_SIGNATURE:
        raise Forbidden("this upload URL is not valid: its signature does not match", code="upload_url_invalid")
    if check is UrlCheck.EXPIRED:
        raise Forbidden("this upload URL has expired; ask POST /api/v2/documents/upload for a new one",
                        code="upload_url_expired")
    await docs.receive_upload(platform=platform, document_id=document_id, content_type=content_type, body=request.stream())
    return ok({"document_id": document_id, "uploaded": True})
