"""Named carrier connections: ``/telephony/connections`` (several per carrier, one default)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import Responses, error_responses, ok
from callwright.api.path_ids import ConnectionId
from callwright.api.routes.phone_numbers import access_of
from callwright.platform import Platform
from callwright.services import connections as connection_service
from callwright.services import exotel_voicebot
from callwright.services.telephony import ConnectionLinks, partner_connection

router = APIRouter(tags=["telephony connections"])

_CONNECTION = {
    "id": "9b7f1c44-c87f-4f0c-9124-3c802a9c1a20",
    "connection_id": "9b7f1c44-c87f-4f0c-9124-3c802a9c1a20",
    "provider": "plivo",
    "provider_key": "PLIVO",
    "name": "Plivo India - Sales",
    "status": "ACTIVE",
    "is_default": True,
    "verified": True,
    "phone_numbers": [
        {
            "id": "f1a2c3d4-1111-2222-3333-444455556666",
            "phone_number": "+918011223344",
            "provider": "PLIVO",
            "friendly_name": None,
            "status": "ACTIVE",
            "is_default": True,
            "agent": None,
            "connection_id": "9b7f1c44-c87f-4f0c-9124-3c802a9c1a20",
            "source": "connection",
            "routed_to_callwright": False,
        }
    ],
}
_ONE: Responses = {
    200: {
        "content": {"application/json": {"example": {"success": True, "data": {"connection": _CONNECTION}}}}
    }
}
_CREATED: Responses = {201: _ONE[200]}
_MANY: Responses = {
    200: {"content": {"application/json": {"example": {"success": True, "data": [_CONNECTION]}}}}
}
_DELETED: Responses = {
    200: {
        "content": {
            "application/json": {
                "example": {
                    "success": True,
                    "data": {"id": _CONNECTION["id"], "deleted": True, "not_restored": []},
                }
            }
        }
    }
}
_CREATE_EXAMPLE = {
    "provider": "plivo",
    "name": "Plivo India - Sales",
    "auth_id": "MAXXXXXXXXXXXXXXXXXX",
    "auth_token": "your-auth-token",
    "from_number": "+918011223344",
}


def _links(platform: Platform) -> ConnectionLinks:
    return partial(exotel_voicebot.connection_links, platform)


@router.post(
    "/telephony/connections",
    status_code=201,
    summary="Create a named carrier connection",
    description="`{provider, name (1–100), …the carrier's credential fields}` (the fields of "
    "`PUT /config/telephony/{provider}`; `account_sid` is accepted as Plivo's/Vobiz's `auth_id`). "
    "The credentials are verified with the carrier and stored encrypted. A carrier's first "
    "connection is its default; `is_default: true` makes a later one the default.",
    response_model=None,
    responses=_CREATED | error_responses(400, 401, 409, 502),
)
async def create_connection(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    body: Annotated[
        dict[str, Any], Body(openapi_examples={"plivo": {"summary": "Plivo", "value": _CREATE_EXAMPLE}})
    ],
) -> dict[str, Any]:
    data = await connection_service.create_connection(
        session=session,
        partner=partner,
        body=body,
        secretbox=platform.secretbox,
        http=platform.http,
        endpoints=platform.endpoints,
        links=_links(platform),
    )
    return ok(data)


@router.get(
    "/telephony/connections",
    summary="List carrier connections",
    description="Every connection of this account, optionally only one `provider`'s.",
    response_model=None,
    responses=_MANY | error_responses(400, 401),
)
async def list_connections(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    provider: Annotated[str | None, Query(description="twilio, plivo, vobiz, exotel or mcube")] = None,
) -> dict[str, Any]:
    return ok(
        await connection_service.list_connections(
            session=session, partner_id=partner.id, provider=provider, links=_links(platform)
        )
    )


@router.get(
    "/telephony/connections/{connection_id}",
    summary="Get a carrier connection",
    response_model=None,
    responses=_ONE | error_responses(400, 401, 404),
)
async def get_connection(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, connection_id: ConnectionId
) -> dict[str, Any]:
    connection = await partner_connection(session=session, partner_id=partner.id, connection_id=connection_id)
    view = await connection_service.connection_view(
        session=session, connection=connection, links=_links(platform)
    )
    return ok({"connection": view})


@router.patch(
    "/telephony/connections/{connection_id}",
    summary="Update a carrier connection",
    description="Any of `name`, `status` (ACTIVE|INACTIVE), `is_default: true` (the carrier's "
    "previous default stops being it), and the carrier's credential fields (verified again; send "
    "them all). `provider` cannot change.",
    response_model=None,
    responses=_ONE | error_responses(400, 401, 404, 409, 502),
)
async def update_connection(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    connection_id: ConnectionId,
    body: Annotated[
        dict[str, Any],
        Body(openapi_examples={"default": {"summary": "Make default", "value": {"is_default": True}}}),
    ],
) -> dict[str, Any]:
    data = await connection_service.update_connection(
        session=session,
        partner=partner,
        connection_id=connection_id,
        body=body,
        secretbox=platform.secretbox,
        http=platform.http,
        endpoints=platform.endpoints,
        links=_links(platform),
    )
    return ok(data)


@router.delete(
    "/telephony/connections/{connection_id}",
    summary="Delete a carrier connection",
    description="Deletes the connection and its phone numbers, first pointing the numbers assigned "
    "to agents back where they were on the carrier (`not_restored` lists any the carrier refused). "
    "A carrier's default connection can "
    "be deleted only when it is the carrier's last one (409 `default_connection` otherwise).",
    response_model=None,
    responses=_DELETED | error_responses(400, 401, 404, 409),
)
async def delete_connection(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, connection_id: ConnectionId
) -> dict[str, Any]:
    return ok(
        await connection_service.delete_connection(
            session=session, partner_id=partner.id, connection_id=connection_id, access=access_of(platform)
        )
    )
