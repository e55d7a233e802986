"""A partner's phone numbers: ``GET /phone-numbers``, ``POST /phone-numbers/sync``,
``PUT /phone-numbers/{id}`` (assign an agent, name, status)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import Responses, error_responses, ok
from callwright.api.path_ids import PhoneNumberId
from callwright.domain.errors import ValidationFailed
from callwright.platform import Platform
from callwright.services import exotel_voicebot
from callwright.services import phone_numbers as number_service

router = APIRouter(tags=["phone numbers"])

_AGENT_ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
_NUMBER = {
    "id": "f1a2c3d4-1111-2222-3333-444455556666",
    "phone_number": "+918065480085",
    "provider": "VOBIZ",
    "friendly_name": None,
    "status": "ACTIVE",
    "is_default": False,
    "agent": {"id": _AGENT_ID, "name": "Inbound Test Agent"},
    "connection_id": "9b7f1c44-c87f-4f0c-9124-3c802a9c1a20",
    "source": "carrier",
    "routed_to_callwright": True,
}
_ONE: Responses = {200: {"content": {"application/json": {"example": {"success": True, "data": _NUMBER}}}}}
_MANY: Responses = {200: {"content": {"application/json": {"example": {"success": True, "data": [_NUMBER]}}}}}
_SYNCED: Responses = {
    200: {
        "content": {
            "application/json": {
                "example": {
                    "success": True,
                    "data": {
                        "connections": [
                            {
                                "connection_id": _NUMBER["connection_id"],
                                "provider": "vobiz",
                                "synced": True,
                                "listed": 1,
                                "added": 1,
                                "not_listed_by_carrier": [],
                            }
                        ],
                        "phone_numbers": [_NUMBER],
                    },
                }
            }
        }
    }
}


def access_of(platform: Platform) -> number_service.CarrierAccess:
    return number_service.CarrierAccess(
        http=platform.http,
        endpoints=platform.endpoints,
        secretbox=platform.secretbox,
        public_url=platform.settings.public_url,
    )


def with_voicebot_url(platform: Platform, view: dict[str, Any]) -> dict[str, Any]:
    """An Exotel number's setup names the exact URL to put in its flow's Voicebot applet."""
    setup = view.get("carrier_setup")
    if setup is not None and view["provider"] == "EXOTEL":
        view["carrier_setup"] = setup | {
            "voicebot_url": exotel_voicebot.voicebot_url(platform, view["connection_id"])
        }
    return view


@router.get(
    "/phone-numbers",
    summary="List phone numbers",
    description="The account's numbers (DIDs) across its connections, as last synced from the "
    "carriers (`POST /phone-numbers/sync`) or added by the operator, with the agent each is assigned to.",
    response_model=None,
    responses=_MANY | error_responses(400, 401),
)
async def list_numbers(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    connection_id: Annotated[str | None, Query()] = None,
    provider: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    numbers = await number_service.list_numbers(
        session=session, partner_id=partner.id, connection_id=connection_id, provider=provider
    )
    return ok([with_voicebot_url(platform, number) for number in numbers])


@router.post(
    "/phone-numbers/sync",
    summary="Import numbers from the carriers",
    description="Lists each connection's numbers through its carrier's number API (Twilio "
    "IncomingPhoneNumbers, Plivo and Vobiz numbers, Exotel ExoPhones) and adds the new ones; "
    "`connection_id` limits it to one connection. Numbers the carrier no longer lists are kept "
    "and reported. MCube has no number API: the operator adds its numbers.",
    response_model=None,
    responses=_SYNCED | error_responses(400, 401, 404, 502),
)
async def sync_numbers(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    body: Annotated[
        dict[str, Any] | None, Body(openapi_examples={"all": {"summary": "All connections", "value": {}}})
    ] = None,
) -> dict[str, Any]:
    connection_id = (body or {}).get("connection_id")
    if connection_id is not None and not isinstance(connection_id, str):
        raise ValidationFailed("connection_id", "connection_id must be a connection's id")
    return ok(
        await number_service.sync_numbers(
            session=session, partner=partner, access=access_of(platform), connection_id=connection_id
        )
    )


@router.put(
    "/phone-numbers/{number_id}",
    summary="Assign an agent to a DID",
    description="`{agent_id | null, friendly_name (≤200) | null, status: ACTIVE | INACTIVE}`. "
    "Assigning an agent points the number's inbound calls at Callwright where the carrier's API "
    'allows it (Twilio VoiceUrl; a Plivo/Vobiz application\'s answer_url) and `null` (or "") '
    "restores what was there. Exotel numbers are routed in Exotel's flows: the response's "
    "`carrier_setup` says what to set.",
    response_model=None,
    responses=_ONE | error_responses(400, 401, 404, 502),
)
async def update_number(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    number_id: PhoneNumberId,
    body: Annotated[
        dict[str, Any],
        Body(openapi_examples={"assign": {"summary": "Assign", "value": {"agent_id": _AGENT_ID}}}),
    ],
) -> dict[str, Any]:
    number = await number_service.update_number(
        session=session, partner=partner, number_id=number_id, body=body, access=access_of(platform)
    )
    return ok(with_voicebot_url(platform, number))
