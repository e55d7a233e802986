"""Operator API: numbers of a carrier that has no number API (MCube), added by hand."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body

from callwright.api.deps import AdminDep, SessionDep
from callwright.api.envelope import ok
from callwright.api.path_ids import ConnectionId, PartnerName
from callwright.api.routes.admin import _example
from callwright.domain.errors import ValidationFailed
from callwright.services import partners, phone_numbers

router = APIRouter(tags=["admin"], dependencies=[AdminDep])

# E.164, or the national digits MCube uses ("National format allowed", Vocobase's connections page).
_NUMBER = re.compile(r"^\+?\d{4,15}$")
_ADDED = {
    "id": "f1a2c3d4-1111-2222-3333-444455556666",
    "phone_number": "+919876500001",
    "provider": "MCUBE",
    "friendly_name": "Sales line",
    "status": "ACTIVE",
    "is_default": False,
    "agent": None,
    "connection_id": "9b7f1c44-c87f-4f0c-9124-3c802a9c1a20",
    "source": "operator",
    "routed_to_callwright": False,
}


@router.post(
    "/partners/{name}/connections/{connection_id}/phone-numbers",
    status_code=201,
    summary="Add a phone number to a partner's connection",
    description="For carriers whose API lists no numbers (MCube) or a DID the carrier's API does "
    "not list. The partner then sees it in `GET /phone-numbers` and can assign an agent to it.",
    responses=_example(_ADDED, 201, 400, 404),
)
async def add_phone_number(
    session: SessionDep,
    name: PartnerName,
    connection_id: ConnectionId,
    body: Annotated[
        dict[str, Any],
        Body(openapi_examples={"mcube": {"summary": "MCube", "value": {"phone_number": "+919876500001"}}}),
    ],
) -> dict[str, Any]:
    number = body.get("phone_number")
    if not isinstance(number, str) or not _NUMBER.match(number):
        raise ValidationFailed("phone_number", "phone_number must be E.164 or 4 to 15 national digits")
    friendly_name = body.get("friendly_name")
    if friendly_name is not None and (not isinstance(friendly_name, str) or len(friendly_name) > 200):
        raise ValidationFailed("friendly_name", "friendly_name must be a string of at most 200 characters")
    partner = await partners.get_partner_by_name(session=session, name=name)
    return ok(
        await phone_numbers.add_operator_number(
            session=session,
            partner_id=partner.id,
            connection_id=connection_id,
            phone_number=number,
            friendly_name=friendly_name,
        )
    )
