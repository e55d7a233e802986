"""Boundary models for projects: create, update, and the project as partners see it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callwright.api.schemas.agents import iso_utc
from callwright.api.schemas.text import FREE_TEXT_CHARS, NAME_CHARS, SafeName
from callwright.domain import projects as rules
from callwright.store.models import Project


class ProjectCreate(BaseModel):
    """``POST /projects``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"name": "Client A", "description": "Agents for Client A"}},
    )

    name: SafeName = Field(min_length=1, max_length=rules.NAME_MAX)
    description: Annotated[str, Field(max_length=rules.DESCRIPTION_MAX), FREE_TEXT_CHARS] | None = None


class ProjectUpdate(BaseModel):
    """``PUT /projects/{id}``: name and/or description; fields left out keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"name": "Client A (updated)", "description": "Updated description"}},
    )

    name: Annotated[str, Field(min_length=1, max_length=rules.NAME_MAX), NAME_CHARS] | None = None
    description: Annotated[str, Field(max_length=rules.DESCRIPTION_MAX), FREE_TEXT_CHARS] | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _name_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null; leave the field out to keep the current name")
        return value

    @model_validator(mode="after")
    def _at_least_one_field(self) -> ProjectUpdate:
        if not self.model_fields_set:
            raise ValueError("must contain name or description")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


def project_public(project: Project, *, agent_count: int) -> dict[str, Any]:
    """A project as the docs show it."""
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "is_default": project.is_default,
        "agent_count": agent_count,
        "created_at": iso_utc(project.created_at),
        "updated_at": iso_utc(project.updated_at),
    }
