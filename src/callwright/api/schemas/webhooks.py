"""Boundary models for webhook endpoints. The label and URL rules live in the domain and services."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callwright.api.schemas.text import LINE_CHARS, NAME_CHARS, SafeName
from callwright.domain.webhook_urls import MAX_URL_LENGTH

# An event type's name, like session.completed (which names exist: ``domain.webhooks``).
EventName = Annotated[str, Field(max_length=64), LINE_CHARS]
_EVENTS = (
    "the event types this endpoint receives: session.completed (Vocobase's one event), and opt-in "
    "call.ringing, call.answered, call.ended"
)


class WebhookCreateBody(BaseModel):
    """``POST /config/webhooks``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: SafeName = Field(max_length=64, description="1-31 of a-z, 0-9 and '-', unique per partner")
    url: SafeName = Field(max_length=MAX_URL_LENGTH, description="https URL of the receiver")
    enabled: bool = Field(default=True, description="whether the endpoint receives new events")
    events: list[EventName] | None = Field(
        default=None, max_length=16, description=_EVENTS + "; default: session.completed only"
    )


class WebhookUpdateBody(BaseModel):
    """``PATCH /config/webhooks/{id}``: send at least one field; the others keep their value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: Annotated[str, Field(max_length=MAX_URL_LENGTH), NAME_CHARS] | None = None
    label: Annotated[str, Field(max_length=64), NAME_CHARS] | None = None
    enabled: bool | None = None
    events: list[EventName] | None = Field(default=None, max_length=16, description=_EVENTS)

    @model_validator(mode="after")
    def _something(self) -> WebhookUpdateBody:
        if not self.model_fields_set or all(getattr(self, f) is None for f in self.model_fields_set):
            raise ValueError("send at least one of url, label, enabled, events")
        return self


class LegacyWebhookBody(BaseModel):
    """``PUT /config/webhook``: Vocobase's ``webhook_url``; ``url`` is accepted too."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    webhook_url: Annotated[str, Field(max_length=MAX_URL_LENGTH), NAME_CHARS] | None = None
    url: Annotated[str, Field(max_length=MAX_URL_LENGTH), NAME_CHARS] | None = None

    @model_validator(mode="after")
    def _one_url(self) -> LegacyWebhookBody:
        if (self.webhook_url is None) == (self.url is None):
            raise ValueError("send webhook_url (or url), exactly one of them")
        return self

    @property
    def target(self) -> str:
        return self.webhook_url or self.url or ""
