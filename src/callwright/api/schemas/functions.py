"""Boundary models for custom functions (``/functions``). Cross-field rules live in the domain."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from callwright.api.schemas.text import FREE_TEXT_CHARS, LINE_CHARS, NAME_CHARS, SafeJsonObject
from callwright.domain import functions as rules
from callwright.domain.webhook_urls import MAX_URL_LENGTH

FieldType = Literal["string", "number", "boolean", "string[]", "number[]", "custom"]
Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=rules.NAME_PATTERN)]
Description = Annotated[str, StringConstraints(min_length=1, max_length=rules.DESCRIPTION_MAX), FREE_TEXT_CHARS]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_URL_LENGTH), NAME_CHARS]
Line = Annotated[str, StringConstraints(min_length=1, max_length=rules.MESSAGE_MAX), FREE_TEXT_CHARS]
Timeout = Annotated[int, Field(strict=True, ge=rules.TIMEOUT_MIN_SECS, le=rules.TIMEOUT_MAX_SECS)]


class HeaderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, StringConstraints(min_length=1, max_length=128), LINE_CHARS]
    value: Annotated[str, StringConstraints(max_length=rules.HEADER_VALUE_MAX), LINE_CHARS]


class SchemaFieldBody(BaseModel):
    """One field of ``input_schema`` or ``output_schema``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=rules.FIELD_NAME_PATTERN)]
    type: FieldType
    description: Annotated[str, StringConstraints(max_length=rules.FIELD_DESCRIPTION_MAX), FREE_TEXT_CHARS] | None = None
    required: bool = False


Headers = Annotated[list[HeaderBody], Field(max_length=rules.HEADERS_MAX)]
Schema = Annotated[list[SchemaFieldBody], Field(max_length=rules.SCHEMA_FIELDS_MAX)]
StartedMessages = Annotated[list[Line], Field(max_length=rules.STARTED_MESSAGES_MAX)]


class FunctionCreateBody(BaseModel):
    """``POST /functions``."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description=f"The tool name the model sees: {rules.NAME_RULE}; unique per account.")
    description: Description = Field(description="When the model should call it; the model reads this.")
    url: Url = Field(description="Called with POST and a JSON body of the arguments.")
    headers: Headers = Field(default_factory=list, description="Sent with every request; values are encrypted and never returned.")
    input_schema: Schema = Field(default_factory=list)
    output_schema: Schema = Field(default_factory=list)
    timeout: Timeout = Field(rules.TIMEOUT_DEFAULT_SECS, description="Seconds to wait for the answer.")
    started_messages: StartedMessages = Field(default_factory=list, description="One is said, at random, when the call starts.")
    error_message: Line | None = Field(None, description="Said when the request fails or times out.")


class FunctionUpdateBody(BaseModel):
    """``PUT /functions/{id}`` (PATCH too): the fields sent change; ``headers`` replaces them all."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    url: Url | None = None
    headers: Headers | None = None
    input_schema: Schema | None = None
    output_schema: Schema | None = None
    timeout: Timeout | None = None
    started_messages: StartedMessages | None = None
    error_message: Line | None = None

    @model_validator(mode="after")
    def _something(self) -> FunctionUpdateBody:
        if not self.model_fields_set:
            raise ValueError("send at least one function field to change, like url or description")
        for name in self.model_fields_set - {"error_message"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} must not be null; leave it out to keep its value")
        return self


class FunctionTestBody(BaseModel):
    """``POST /functions/{id}/test``: the arguments the model would send, and pre-call variables."""

    model_config = ConfigDict(extra="forbid")

    arguments: SafeJsonObject = Field(default_factory=dict)
    variables: SafeJsonObject = Field(default_factory=dict)


def fields_of(body: FunctionCreateBody | FunctionUpdateBody) -> dict[str, Any]:
    """The body's fields as the service takes them (``FunctionFields`` keyword arguments)."""
    sent = body.model_fields_set if isinstance(body, FunctionUpdateBody) else set(type(body).model_fields)
    values: dict[str, Any] = {}
    for name in sent:
        value = getattr(body, name)
        if name == "headers" and value is not None:
            value = [(h.key, h.value) for h in value]
        elif name in ("input_schema", "output_schema") and value is not None:
            value = [f.model_dump() for f in value]
        values[name] = value
    if "error_message" in sent:
        values["error_message_sent"] = True
    return values
