"""Agents: create, list, get, update, delete, and the voice catalog."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import Envelope, ListEnvelope, error_responses, ok, ok_list
from callwright.api.path_ids import AgentId
from callwright.api.schemas.agents import AgentCreate, AgentPublic, AgentUpdate, VoicePublic
from callwright.services import agents as agent_service
from callwright.services.documents import document_counts
from callwright.services.extraction import endpoint_of
from callwright.voice.catalog import installed_voices

router = APIRouter(tags=["agents"])
# The Vocobase docs' answer to DELETE /agent/{id}, word for word.
AGENT_DELETED = "Agent deleted successfully"

_CASING_NOTE = (
    "\n\n**Casing (Vocobase compatibility):** `end_call_enabled`, `end_call_message`, "
    "`transfer_enabled`, `transfer_number` and `transfer_message` are also accepted as "
    "`endCallEnabled`, `endCallMessage`, `transferEnabled`, `transferNumber` and "
    "`transferMessage` (send one spelling per field, not both). Responses carry the snake_case "
    "fields and, for existing Vocobase clients, the same values again in camelCase."
)

_AGENT_ID = AgentId

_AGENT = {
    "id": "6f1c2b8e-3d4a-4f5b-9c6d-7e8f9a0b1c2d",
    "agent_name": "Sales follow-up",
    "agent_type": "outbound",
    "status": "active",
    "prompt": "You are Maya from Acme. Confirm {{customer_name}}'s delivery slot politely.",
    "voice_id": "piper-joe-us",
    "language": "en",
    "intro_message": "Hi {{customer_name}}, this is Maya from Acme.",
    "voicemail_detection_enabled": True,
    "voicemail_message": "Sorry we missed you; we will call again tomorrow.",
    "enable_recording": True,
    "end_call_enabled": True,
    "end_call_message": "Thanks for your time. Goodbye!",
    "end_call_instructions": "End the call once the slot is confirmed or the customer declines.",
    "project_id": None,
    "kb_threshold": "medium",
    "kb_include_summaries": False,
    "kb_result_format": None,
    "kb_enable_llm_processing": False,
    "kb_llm_system_prompt": None,
    "transfer_enabled": False,
    "transfer_number": None,
    "transfer_message": None,
    "transfer_instructions": None,
    "max_call_duration_secs": 600,
    "background_audio_id": None,
    "background_audio_volume": 0.5,
    "variables": ["customer_name"],
    "extraction_config": None,
    "llm": {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.4},
    "stt": None,
    "script": None,
    "document_count": 0,
    "created_at": "2026-11-24T06:10:00.000000Z",
    "updated_at": "2026-11-24T06:10:00.000000Z",
    "endCallEnabled": True,
    "endCallMessage": "Thanks for your time. Goodbye!",
    "transferEnabled": False,
    "transferNumber": None,
    "transferMessage": None,
}

_CREATE_EXAMPLES = {
    "full": {
        "summary": "An outbound agent with end-call rules and a variable",
        "value": {
            "agent_name": "Sales follow-up",
            "prompt": _AGENT["prompt"],
            "voice_id": "piper-joe-us",
            "agent_type": "outbound",
            "intro_message": _AGENT["intro_message"],
            "voicemail_detection_enabled": True,
            "voicemail_message": _AGENT["voicemail_message"],
            "enable_recording": True,
            "end_call_enabled": True,
            "end_call_message": _AGENT["end_call_message"],
            "end_call_instructions": _AGENT["end_call_instructions"],
            "max_call_duration_secs": 600,
            "variables": ["customer_name"],
            "llm": {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.4},
        },
    },
    "minimal": {
        "summary": "Only a name: default voice, outbound, 600 s cap",
        "value": {"agent_name": "Receptionist"},
    },
    "camel_case": {
        "summary": "Vocobase camelCase end-call fields",
        "value": {
            "agent_name": "Support line",
            "agent_type": "inbound",
            "endCallEnabled": True,
            "endCallMessage": "Thanks for calling. Goodbye!",
            "transferEnabled": False,
        },
    },
}

_UPDATE_EXAMPLES = {
    "prompt": {
        "summary": "Change the prompt and the duration cap",
        "value": {"prompt": "You are Maya from Acme.", "max_call_duration_secs": 900},
    },
    "clear": {
        "summary": "Remove the greeting and the duration cap",
        "value": {"intro_message": None, "max_call_duration_secs": None},
    },
    "end_call_on": {
        "summary": "Let the agent hang up (camelCase also accepted)",
        "value": {"endCallEnabled": True, "endCallMessage": "Goodbye!"},
    },
}

_VOICE = {
    "voice_id": "piper-joe-us",
    "name": "Joe",
    "language": "en",
    "locale": "en-US",
    "gender": "male",
    "engine": "piper",
    "sample_rate": 22050,
    "description": "Joe (en-US, medium quality), offline Piper voice",
}


def _example(status: int, model: Any, data: Any, **extra: Any) -> dict[int | str, dict[str, Any]]:
    body = {"success": True, "data": data, **extra}
    return {status: {"model": model, "content": {"application/json": {"example": body}}}}


@router.get(
    "/agent/voices",
    summary="List the voices agents can use",
    description="The TTS voices installed on this server. Use a `voice_id` from here when creating "
    "or updating an agent; an agent's `language` follows its voice unless set explicitly.",
    response_model=None,
    responses=_example(
        200, ListEnvelope[VoicePublic], [_VOICE], pagination={"limit": 1, "offset": 0, "total": 1}
    )
    | error_responses(401),
)
async def list_voices(partner: CurrentPartner) -> dict[str, Any]:
    voices = [v.public() for v in installed_voices()]
    return ok_list(voices, limit=len(voices), offset=0, total=len(voices))


async def _public(session: Any, agent: Any) -> dict[str, Any]:
    counts = await document_counts(session, partner_id=agent.partner_id, agent_ids=[agent.id])
    return AgentPublic.from_agent(agent, document_count=counts[agent.id]).wire()


@router.post(
    "/agent",
    status_code=201,
    summary="Create an agent",
    description="Only `agent_name` is required (1–50 characters, unique within the account). "
    "`voice_id` defaults to the server's default voice and `language` to the voice's language. "
    "`prompt` and `intro_message` may use `{{variable}}` placeholders. Creating beyond the "
    "account's agent limit is refused with 403 `agent_limit_reached`."
    + _CASING_NOTE,
    response_model=None,
    responses=_example(201, Envelope[AgentPublic], _AGENT) | error_responses(400, 401, 403, 409),
)
async def create_agent(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    body: Annotated[AgentCreate, Body(openapi_examples=_CREATE_EXAMPLES)],
) -> dict[str, Any]:
    agent = await agent_service.create_agent(
        session=session, partner=partner, fields=body.fields(),
        llm_configured=endpoint_of(platform.settings) is not None,
    )
    return ok(AgentPublic.from_agent(agent).wire())


@router.get(
    "/agents",
    summary="List agents",
    description="The account's agents, newest first, with `pagination {limit, offset, total}`."
    + _CASING_NOTE,
    response_model=None,
    responses=_example(
        200, ListEnvelope[AgentPublic], [_AGENT], pagination={"limit": 10, "offset": 0, "total": 1}
    )
    | error_responses(401),
)
async def list_agents(
    partner: CurrentPartner,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size, 1–100.")] = 10,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000, description="Agents to skip.")] = 0,
    project_id: Annotated[
        str | None, Query(max_length=64, description="Only this project's agents (404 if unknown).")
    ] = None,
) -> dict[str, Any]:
    agents, total = await agent_service.list_agents(
        session=session, partner=partner, limit=limit, offset=offset, project_id=project_id
    )
    counts = await document_counts(session, partner_id=partner.id, agent_ids=[a.id for a in agents])
    data = [AgentPublic.from_agent(a, document_count=counts[a.id]).wire() for a in agents]
    return ok_list(data, limit=limit, offset=offset, total=total)


@router.get(
    "/agent/{agent_id}",
    summary="Get an agent",
    description="An id that is unknown or belongs to another account answers 404." + _CASING_NOTE,
    response_model=None,
    responses=_example(200, Envelope[AgentPublic], _AGENT) | error_responses(401, 404),
)
async def get_agent(partner: CurrentPartner, session: SessionDep, agent_id: _AGENT_ID) -> dict[str, Any]:
    agent = await agent_service.get_agent(session=session, partner=partner, agent_id=agent_id)
    return ok(await _public(session, agent))


@router.put(
    "/agent/{agent_id}",
    summary="Update an agent",
    description="A partial update: send at least one field; fields left out keep their value. "
    "`null` (or `\"\"` for text) clears an optional field; `null` for `voice_id` selects the "
    "default voice and for `language` returns to the voice's language. `llm` and `stt` are "
    "replaced as a whole." + _CASING_NOTE,
    response_model=None,
    responses=_example(200, Envelope[AgentPublic], _AGENT)
    | error_responses(400, 401, 404, 409),
)
async def update_agent(
    partner: CurrentPartner,
    session: SessionDep,
    agent_id: _AGENT_ID,
    platform: PlatformDep,
    body: Annotated[AgentUpdate, Body(openapi_examples=_UPDATE_EXAMPLES)],
) -> dict[str, Any]:
    agent = await agent_service.update_agent(
        session=session, partner=partner, agent_id=agent_id, changes=body.changes(),
        llm_configured=endpoint_of(platform.settings) is not None,
    )
    return ok(await _public(session, agent))


@router.delete(
    "/agent/{agent_id}",
    summary="Delete an agent",
    description="Deletes the agent for good; its name becomes free again. Its calls keep their "
    "record. Answers 200 with the Vocobase docs' `message`.",
    response_model=None,
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"success": True, "data": {"message": AGENT_DELETED}}
                }
            }
        }
    }
    | error_responses(401, 404),
)
async def delete_agent(
    partner: CurrentPartner, session: SessionDep, agent_id: _AGENT_ID
) -> dict[str, Any]:
    await agent_service.delete_agent(session=session, partner=partner, agent_id=agent_id)
    return ok({"message": AGENT_DELETED})
