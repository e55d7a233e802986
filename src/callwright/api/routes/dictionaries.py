"""Speech-recognition dictionaries (``/dictionaries``) and an agent's attached set
(``/agent/{id}/dictionaries``), as Vocobase documents them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from callwright.api.deps import CurrentPartner, SessionDep
from callwright.api.envelope import Responses, error_responses, ok, ok_list
from callwright.api.path_ids import AgentId, DictionaryId
from callwright.api.schemas.text import FREE_TEXT_CHARS, LINE_CHARS
from callwright.domain import dictionaries as rules
from callwright.services import dictionaries as service

router = APIRouter(tags=["dictionaries"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=rules.NAME_MAX), LINE_CHARS]
Description = Annotated[str, StringConstraints(max_length=rules.DESCRIPTION_MAX), FREE_TEXT_CHARS]
Term = Annotated[str, StringConstraints(max_length=rules.TERM_MAX), LINE_CHARS]
Terms = Annotated[list[Term], Field(max_length=rules.AGENT_CHAR_LIMIT)]

_DICTIONARY = {
    "id": "d1234567-abcd-1234-abcd-123456789012", "name": "Product catalog",
    "description": "Product names and SKUs.", "terms": ["Callwright", "SKU-4471", "Meera Iyer"],
    "term_count": 3, "char_count": 28, "attached_agent_count": 0,
    "created_at": "2026-12-06T10:30:00.000000Z", "updated_at": "2026-12-06T10:30:00.000000Z",
}
_SUMMARY = {k: v for k, v in _DICTIONARY.items() if k not in ("description", "terms")}
_NOTE = (
    " Terms are normalised (trimmed, inner spaces collapsed, empty and repeated terms dropped). A "
    "term written `written => spoken` also sets how the agent's voice says `written` (Callwright's "
    "addition; the STT is biased toward `written`)."
)


def _example(data: Any, status: int = 200) -> Responses:
    return {status: {"content": {"application/json": {"example": {"success": True, "data": data}}}}}


class DictionaryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="1–100 characters, unique per account.")
    description: Description | None = Field(None, description="At most 500; blank is stored as null.")
    terms: Terms = Field(default_factory=list)


class DictionaryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    terms: Terms | None = None


class AttachBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dictionary_ids: Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=1000)] = Field(
        description="The full set; [] detaches all."
    )


@router.post(
    "/dictionaries", status_code=201, summary="Create a dictionary",
    description="Agent-agnostic: attach it with `PUT /agent/{id}/dictionaries`." + _NOTE,
    responses=_example(_DICTIONARY, 201) | error_responses(400, 401, 409),
)
async def create_dictionary(partner: CurrentPartner, session: SessionDep, body: DictionaryCreate) -> dict[str, Any]:
    row = await service.create(session=session, partner=partner, name=body.name, description=body.description, terms=body.terms)
    return ok(await service.view(session, row))


@router.get("/dictionaries", summary="List dictionaries", responses=_example([_DICTIONARY]) | error_responses(401))
async def list_dictionaries(
    partner: CurrentPartner,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    rows, total = await service.list_page(session=session, partner=partner, limit=limit, offset=offset)
    return ok_list(rows, limit=limit, offset=offset, total=total)


@router.get("/dictionaries/{dictionary_id}", summary="Get a dictionary", responses=_example(_DICTIONARY) | error_responses(401, 404))
async def get_dictionary(partner: CurrentPartner, session: SessionDep, dictionary_id: DictionaryId) -> dict[str, Any]:
    return ok(await service.view(session, await service.get(session=session, partner=partner, dictionary_id=dictionary_id)))


@router.patch(
    "/dictionaries/{dictionary_id}", summary="Update a dictionary",
    description="Fields left out keep their value; `terms` replaces every term. New terms that would "
    "take an attached agent over 10,000 characters are refused with `DICTIONARY_CHAR_LIMIT_EXCEEDED`." + _NOTE,
    responses=_example(_DICTIONARY) | error_responses(400, 401, 404, 409),
)
@router.put("/dictionaries/{dictionary_id}", include_in_schema=False)
async def update_dictionary(
    partner: CurrentPartner, session: SessionDep, dictionary_id: DictionaryId, body: DictionaryUpdate
) -> dict[str, Any]:
    row = await service.update(
        session=session, partner=partner, dictionary_id=dictionary_id, name=body.name,
        description=body.description, description_sent="description" in body.model_fields_set, terms=body.terms,
    )
    return ok(await service.view(session, row))


@router.delete(
    "/dictionaries/{dictionary_id}", summary="Delete a dictionary", description="It is detached from every agent.",
    responses=_example({"id": _DICTIONARY["id"], "deleted": True}) | error_responses(401, 404),
)
async def delete_dictionary(partner: CurrentPartner, session: SessionDep, dictionary_id: DictionaryId) -> dict[str, Any]:
    return ok({"id": await service.remove(session=session, partner=partner, dictionary_id=dictionary_id), "deleted": True})


@router.put(
    "/agent/{agent_id}/dictionaries", summary="Replace the agent's attached dictionaries",
    description="Idempotent set-replace; repeated ids are dropped. Every id must be one of this "
    "account's dictionaries (else 400 VALIDATION_ERROR); the set's combined `char_count` must be at "
    "most 10,000 (else 400 `DICTIONARY_CHAR_LIMIT_EXCEEDED`). `[]` detaches all. One transaction.",
    responses=_example({"dictionaries": [_SUMMARY]}) | error_responses(400, 401, 404),
)
async def replace_attached(partner: CurrentPartner, session: SessionDep, agent_id: AgentId, body: AttachBody) -> dict[str, Any]:
    return ok({"dictionaries": await service.replace_attached(
        session=session, partner=partner, agent_id=agent_id, dictionary_ids=body.dictionary_ids
    )})


@router.get(
    "/agent/{agent_id}/dictionaries", summary="List attached dictionaries",
    description="The summary shape: no `description` or `terms`.",
    responses=_example({"dictionaries": [_SUMMARY]}) | error_responses(401, 404),
)
async def list_attached(partner: CurrentPartner, session: SessionDep, agent_id: AgentId) -> dict[str, Any]:
    return ok({"dictionaries": await service.attached(session=session, partner=partner, agent_id=agent_id)})
