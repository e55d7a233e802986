"""Ids in URL paths, checked before any query: a value that cannot name a resource (not a UUID,
not a partner slug) is answered exactly like a missing one, and its bytes never reach the store
(PostgreSQL refuses a NUL with an error of its own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from callwright.domain.errors import NotFound
from callwright.domain.ids import parse_call_id, parse_id
from callwright.domain.partners import PARTNER_NAME


def _shown(value: str) -> str:
    return repr(value[:64])


def _known(canonical: str | None, message: str, reason: str) -> str:
    if canonical is None:
        raise NotFound(message, code=reason)
    return canonical


async def _agent_id(agent_id: Annotated[str, Path(description="The agent's id (a UUID).")]) -> str:
    return _known(parse_id(agent_id), f"no agent with id {_shown(agent_id)}", "agent_not_found")


async def _call_id(call_id: Annotated[str, Path(description="The call's id (a UUID).")]) -> str:
    return _known(parse_call_id(call_id), f"no call with id {_shown(call_id)}", "call_not_found")


async def _endpoint_id(
    endpoint_id: Annotated[str, Path(description="The webhook endpoint's id (a UUID).")],
) -> str:
    return _known(
        parse_id(endpoint_id), f"no webhook endpoint with id {_shown(endpoint_id)}", "webhook_not_found"
    )


async def _delivery_id(
    delivery_id: Annotated[str, Path(description="The delivery's id, from the delivery log.")],
) -> str:
    return _known(
        parse_id(delivery_id),
        f"no webhook delivery with id {_shown(delivery_id)}",
        "webhook_delivery_not_found",
    )


async def _function_id(
    function_id: Annotated[str, Path(description="The function's id (a UUID).")],
) -> str:
    return _known(parse_id(function_id), f"no function with id {_shown(function_id)}", "function_not_found")


async def _project_id(project_id: Annotated[str, Path(description="The project's id (a UUID).")]) -> str:
    return _known(parse_id(project_id), f"no project with id {_shown(project_id)}", "project_not_found")


async def _session_id(
    session_id: Annotated[
        str, Path(description="The session_id from POST /calls/start or POST /sessions/webrtc (a UUID).")
    ],
) -> str:
    return _known(parse_id(session_id), f"no session with id {_shown(session_id)}", "session_not_found")


async def _key_id(key_id: Annotated[str, Path(description="The API key's id (a UUID).")]) -> str:
    return _known(parse_id(key_id), f"no API key with id {_shown(key_id)}", "api_key_not_found")


async def _partner_name(
    name: Annotated[str, Path(description="The partner's slug, like acme-corp.")],
) -> str:
    slug = name if PARTNER_NAME.fullmatch(name) else None
    return _known(slug, f"no partner named {_shown(name)}", "partner_not_found")


async def _connection_id(
    connection_id: Annotated[str, Path(description="The connection's id (a UUID).")],
) -> str:
    return _known(
        parse_id(connection_id),
        f"no telephony connection with id {_shown(connection_id)}",
        "connection_not_found",
    )


async def _phone_number_id(
    number_id: Annotated[str, Path(description="The phone number's id (a UUID), from GET /phone-numbers.")],
) -> str:
    return _known(
        parse_id(number_id), f"no phone number with id {_shown(number_id)}", "phone_number_not_found"
    )


AgentId = Annotated[str, Depends(_agent_id)]
ConnectionId = Annotated[str, Depends(_connection_id)]
PhoneNumberId = Annotated[str, Depends(_phone_number_id)]
CallId = Annotated[str, Depends(_call_id)]
EndpointId = Annotated[str, Depends(_endpoint_id)]
DeliveryId = Annotated[str, Depends(_delivery_id)]
ProjectId = Annotated[str, Depends(_project_id)]
FunctionId = Annotated[str, Depends(_function_id)]


async def _background_audio_id(
    asset_id: Annotated[str, Path(description="The background-audio asset's id (a UUID).")],
) -> str:
    return _known(parse_id(asset_id), f"no background audio with id {_shown(asset_id)}", "background_audio_not_found")


async def _dictionary_id(
    dictionary_id: Annotated[str, Path(description="The dictionary's id (a UUID).")],
) -> str:
    return _known(parse_id(dictionary_id), f"no dictionary with id {_shown(dictionary_id)}", "dictionary_not_found")


BackgroundAudioId = Annotated[str, Depends(_background_audio_id)]
DictionaryId = Annotated[str, Depends(_dictionary_id)]
SessionId = Annotated[str, Depends(_session_id)]
KeyId = Annotated[str, Depends(_key_id)]
PartnerName = Annotated[str, Depends(_partner_name)]


async def _document_id(document_id: Annotated[str, Path(description="The document's id (a UUID).")]) -> str:
    return _known(parse_id(document_id), f"no document with id {_shown(document_id)}", "document_not_found")


async def _folder_id(folder_id: Annotated[str, Path(description="The folder's id (a UUID).")]) -> str:
    return _known(parse_id(folder_id), f"no folder with id {_shown(folder_id)}", "folder_not_found")


DocumentId = Annotated[str, Depends(_document_id)]
FolderId = Annotated[str, Depends(_folder_id)]
