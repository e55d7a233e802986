"""Boundary models for the suppression list."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callwright.api.schemas.agents import iso_utc
from callwright.domain import dnd
from callwright.domain.suppression import REASON_MAX, SOURCE_API, SOURCE_MAX
from callwright.store.models import Suppression


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: str = Field(max_length=32, examples=["+919876543210"], description="E.164")
    reason: str | None = Field(default=None, max_length=REASON_MAX, examples=["asked not to be called"])
    source: str = Field(
        default=SOURCE_API,
        min_length=1,
        max_length=SOURCE_MAX,
        description="Where the entry comes from: `api` by default; your own word (`crm`, `ncpr-scrub`) if you like",
    )


def suppression_public(entry: Suppression) -> dict[str, Any]:
    return {
        "id": entry.id,
        "phone": entry.phone,
        "reason": entry.reason,
        "source": entry.source,
        "call_id": entry.call_id,
        "created_at": iso_utc(entry.created_at),
    }


class DndCheckBody(BaseModel):
    """``PUT /suppressions/dnd-check``: the URL asked before every dial whether a number may be called."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=1, max_length=2048, examples=["https://scrub.example.com/dnd"])
    timeout_ms: int = Field(
        default=dnd.TIMEOUT_MS_DEFAULT,
        ge=dnd.TIMEOUT_MS_MIN,
        le=dnd.TIMEOUT_MS_MAX,
        description="How long one question may take, in milliseconds",
    )
    on_error: dnd.OnError = Field(
        default=dnd.OnError.DENY,
        description="What a timeout or an unreadable answer means: `deny` (no call) or `allow`",
    )
