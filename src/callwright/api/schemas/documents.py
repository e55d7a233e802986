"""Bodies of the knowledge-base routes (``/documents``, ``/document-folders``, ``/agent/{id}/documents``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from callwright.domain import knowledge as kb


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID, like 3c90c3cc-0d44-4b50-8888-8dd25736052a") from None


Id = Annotated[str, StringConstraints(max_length=64), AfterValidator(_uuid)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=kb.NAME_MAX)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UploadBody(Body):
    name: Name = Field(description="Document display name, 1–100 characters.")
    file_size: int = Field(ge=1, le=kb.MAX_FILE_BYTES, description="File size in bytes (max 50 MB).")
    mime_type: Annotated[str, StringConstraints(max_length=120)] = Field(
        description="application/pdf, the DOCX type, text/plain or text/markdown. Images "
        "(image/png, image/jpeg, image/gif, image/webp) are refused with 415: no OCR on this server."
    )


class WebLinkBody(Body):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = Field(
        description="The page to index; fetched once through the platform's outbound URL guard."
    )
    name: Name | None = Field(None, description="Display name; the URL when left out.")


class DocumentIdsBody(Body):
    document_ids: list[Id] = Field(min_length=1, max_length=kb.LINK_IDS_MAX, description="1–20 document ids.")


class AgentIdsBody(Body):
    agent_ids: list[Id] = Field(min_length=1, max_length=kb.LINK_IDS_MAX, description="1–20 agent ids.")


class FolderBody(Body):
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None


class FolderUpdateBody(Body):
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
