"""Success envelopes: ``{"success": true, "data": …}`` and the paginated list form."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T


class Pagination(BaseModel):
    limit: int
    offset: int
    total: int


class ListEnvelope(BaseModel, Generic[T]):
    success: bool = True
    data: list[T]
    pagination: Pagination


class ErrorBody(BaseModel):
    code: str = Field(description="The Vocobase docs' UPPER_SNAKE code, e.g. NOT_FOUND")
    message: str
    reason: str = Field(description="Callwright's finer snake_case cause, e.g. agent_not_found")
    details: Any = None


class ErrorEnvelope(BaseModel):
    success: bool = False
    error: ErrorBody


def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def ok_list(data: list[Any], *, limit: int, offset: int, total: int) -> dict[str, Any]:
    return {
        "success": True,
        "data": data,
        "pagination": {"limit": limit, "offset": offset, "total": total},
    }


def error_responses(*statuses: int) -> dict[Any, Any]:
    """OpenAPI ``responses=`` entries for the error envelope."""
    return {status: {"model": ErrorEnvelope} for status in statuses}
