"""A partner's phone numbers (DIDs): synced from the carriers' number APIs, added by the operator
where a carrier has none, bound to an agent (``PUT /phone-numbers/{id}``).

Binding points the number's inbound calls at us where the carrier's API allows it (Twilio's
VoiceUrl, a Plivo/Vobiz application's answer_url) and unbinding restores what was there; Exotel's
routing lives in its dashboard flows, so the response says what the partner must set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.carriers import get_carrier
from callwright.carriers.base import CarrierEndpoints
from callwright.carriers.exotel import same_number
from callwright.carriers.numbers import NUMBER_APIS, Binding, CarrierNumber
from callwright.domain.errors import CallwrightError, NotFound, ValidationFailed
from callwright.domain.ids import parse_id
from callwright.domain.providers import Provider
from callwright.services import agents as agent_service
from callwright.services.carrier_accounts import account_of
from callwright.services.telephony import partner_connection
from callwright.store.models import Agent, Partner, PhoneNumber, TelephonyConnection
from callwright.store.secretbox import SecretBox

log = logging.getLogger(__name__)

ACTIVE, INACTIVE = "ACTIVE", "INACTIVE"
FROM_CARRIER, FROM_OPERATOR = "carrier", "operator"
# Carriers whose outbound caller id prefers the agent's bound active number (Vocobase: "Plivo,
# Vobiz, Tata Smartflo, SIP, and VoiceLink prefer an agent-bound active number").
_AGENT_NUMBER_FIRST = (Provider.PLIVO, Provider.VOBIZ)


@dataclass(frozen=True, slots=True)
class CarrierAccess:
    """What talking to a carrier's number API takes."""

    http: httpx.AsyncClient
    endpoints: CarrierEndpoints
    secretbox: SecretBox
    public_url: str


def inbound_url(public_url: str, connection: TelephonyConnection) -> str:
    """Where a bound number's inbound calls are sent: one URL per connection (the carrier's
    request names the dialled number). Served by the inbound-call routes."""
    return f"{public_url.rstrip('/')}/inbound/{connection.provider}/{connection.id}"


async def list_numbers(
    *, session: AsyncSession, partner_id: str, connection_id: str | None = None, provider: str | None = None
) -> list[dict[str, Any]]:
    query = (
        select(PhoneNumber, TelephonyConnection)
        .join(TelephonyConnection, TelephonyConnection.id == PhoneNumber.connection_id)
        .where(PhoneNumber.partner_id == partner_id)
    )
    if connection_id is not None:
        query = query.where(PhoneNumber.connection_id == connection_id)
    if provider is not None:
        query = query.where(TelephonyConnection.provider == provider.lower())
    rows = await session.execute(query.order_by(TelephonyConnection.provider, PhoneNumber.phone_number))
    return [await number_view(session=session, number=number, connection=conn) for number, conn in rows.all()]


async def sync_numbers(
    *, session: AsyncSession, partner: Partner, access: CarrierAccess, connection_id: str | None = None
) -> dict[str, Any]:
    """Import each connection's numbers from its carrier (or the one named). New numbers are added;
    a number the carrier no longer lists is kept (and reported), never deleted silently."""
    if connection_id is not None:
        connections = [
            await partner_connection(session=session, partner_id=partner.id, connection_id=connection_id)
        ]
    else:
        connections = list(
            await session.scalars(
                select(TelephonyConnection).where(TelephonyConnection.partner_id == partner.id)
            )
        )
    synced: list[dict[str, Any]] = []
    for connection in connections:
        api = NUMBER_APIS.get(Provider(connection.provider))
        if api is None:
            synced.append(
                {
                    "connection_id": connection.id,
                    "provider": connection.provider,
                    "synced": False,
                    "message": f"{Provider(connection.provider).display_name} has no number API; "
                    "ask your operator to add its numbers",
                }
            )
            continue
        account = account_of(connection, secretbox=access.secretbox)
        listed = await api.list_numbers(account, http=access.http, endpoints=access.endpoints)
        rows = list(
            await session.scalars(select(PhoneNumber).where(PhoneNumber.connection_id == connection.id))
        )
        added = 0
        for item in listed:
            row = next((r for r in rows if same_number(r.phone_number, item.phone_number)), None)
            if row is None:
                row = PhoneNumber(
                    partner_id=partner.id,
                    connection_id=connection.id,
                    phone_number=item.phone_number,
                    friendly_name=item.friendly_name,
                    status=ACTIVE,
                    source=FROM_CARRIER,
                )
                session.add(row)
                rows.append(row)
                added += 1
            else:
                row.source = FROM_CARRIER
            row.carrier_ref = item.carrier_ref
            if row.bound_route is None:
                row.carrier_route = item.route
        missing = [
            r.phone_number
            for r in rows
            if not any(same_number(r.phone_number, i.phone_number) for i in listed)
        ]
        synced.append(
            {
                "connection_id": connection.id,
                "provider": connection.provider,
                "synced": True,
                "listed": len(listed),
                "added": added,
                "not_listed_by_carrier": missing,
            }
        )
    await session.commit()
    return {
        "connections": synced,
        "phone_numbers": await list_numbers(
            session=session, partner_id=partner.id, connection_id=connection_id
        ),
    }


async def partner_number(*, session: AsyncSession, partner_id: str, number_id: str) -> PhoneNumber:
    canonical = parse_id(number_id)
    number = await session.get(PhoneNumber, canonical) if canonical else None
    if number is None or number.partner_id != partner_id:
        raise NotFound(f"no phone number with id {number_id[:64]!r}", code="phone_number_not_found")
    return number


async def update_number(
    *, session: AsyncSession, partner: Partner, number_id: str, body: dict[str, Any], access: CarrierAccess
) -> dict[str, Any]:
    """``{agent_id | null, friendly_name, status}``. Binding an agent points the number at us on
    the carrier (where its API can); clearing it restores what was there before."""
    number = await partner_number(session=session, partner_id=partner.id, number_id=number_id)
    connection = await partner_connection(
        session=session, partner_id=partner.id, connection_id=number.connection_id
    )
    if "friendly_name" in body:
        name = body["friendly_name"]
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            raise ValidationFailed(
                "friendly_name", "friendly_name must be a string of at most 200 characters or null"
            )
        number.friendly_name = name or None
    if "status" in body:
        if body["status"] not in (ACTIVE, INACTIVE):
            raise ValidationFailed("status", "status must be ACTIVE or INACTIVE")
        number.status = body["status"]
    if "agent_id" in body:
        agent_id = body["agent_id"]
        if agent_id is not None and not isinstance(agent_id, str):
            raise ValidationFailed("agent_id", 'agent_id must be an agent\'s id, or null (or "") to unassign')
        if agent_id:
            agent = await agent_service.get_agent(session=session, partner=partner, agent_id=agent_id)
            number.agent_id = agent.id
            await _point_at_us(number, connection, access)
        else:
            number.agent_id = None
            await _restore(number, connection, access)
    await session.commit()
    return await number_view(session=session, number=number, connection=connection)


async def add_operator_number(
    *,
    session: AsyncSession,
    partner_id: str,
    connection_id: str,
    phone_number: str,
    friendly_name: str | None,
) -> dict[str, Any]:
    """The operator adds a number of a carrier with no number API (MCube, or any DID the API
    does not list)."""
    connection = await partner_connection(session=session, partner_id=partner_id, connection_id=connection_id)
    existing = await session.scalars(select(PhoneNumber).where(PhoneNumber.connection_id == connection.id))
    row = next((r for r in existing if same_number(r.phone_number, phone_number)), None)
    if row is None:
        row = PhoneNumber(
            partner_id=partner_id,
            connection_id=connection.id,
            phone_number=phone_number,
            friendly_name=friendly_name,
            status=ACTIVE,
            source=FROM_OPERATOR,
        )
        session.add(row)
    await session.commit()
    return await number_view(session=session, number=row, connection=connection)


async def number_view(
    *, session: AsyncSession, number: PhoneNumber, connection: TelephonyConnection
) -> dict[str, Any]:
    """The documented shape plus ``connection_id``, ``source`` and, for a bound number whose
    carrier we cannot point at us, ``carrier_setup`` (what the partner must set)."""
    provider = Provider(connection.provider)
    agent = await session.get(Agent, number.agent_id) if number.agent_id else None
    caller_id = str(connection.identifiers.get(get_carrier(provider).caller_id_field) or "")
    view: dict[str, Any] = {
        "id": number.id,
        "phone_number": number.phone_number,
        "provider": provider.value.upper(),
        "friendly_name": number.friendly_name,
        "status": number.status,
        "is_default": bool(caller_id) and same_number(number.phone_number, caller_id),
        "agent": {"id": agent.id, "name": agent.agent_name} if agent is not None else None,
        "connection_id": connection.id,
        "source": number.source,
        "routed_to_callwright": number.bound_route is not None,
    }
    if agent is not None and number.bound_route is None:
        view["carrier_setup"] = carrier_setup(provider, number)
    return view


def carrier_setup(provider: Provider, number: PhoneNumber) -> dict[str, Any]:
    """What the partner must do on the carrier's side for inbound calls to reach the agent."""
    api = NUMBER_APIS.get(provider)
    if api is not None and api.can_route:
        return {
            "automatic": False,
            "instructions": f"this number was not listed by {provider.display_name}'s number API: run "
            "POST /api/v2/phone-numbers/sync, then assign the agent again to route it automatically.",
        }
    if provider is Provider.EXOTEL:
        return {
            "automatic": False,
            "instructions": "Exotel routes an ExoPhone through a flow set in its dashboard: in App Bazaar, open "
            "the flow attached to this ExoPhone and put a Voicebot applet first, with voicebot_url (this "
            "connection's, also shown by GET /api/v2/telephony/connections/{id}) as its URL. Calls to the "
            "ExoPhone then reach the agent.",
        }
    return {
        "automatic": False,
        "instructions": f"{provider.display_name} has no API we can route numbers with: point this number's "
        "inbound calls at Callwright in the carrier's dashboard.",
    }


def caller_id_for(session: Session, connection: TelephonyConnection, agent_id: str) -> str:
    """The outbound caller id, as Vocobase resolves it: Twilio the connection's default number;
    Exotel the saved caller_id; Plivo and Vobiz the agent's bound ACTIVE number on this connection
    first, then the connection's default (a synchronous session: see ``store.db.SqliteFile``)."""
    provider = Provider(connection.provider)
    default = str(connection.identifiers.get(get_carrier(provider).caller_id_field, ""))
    if provider not in _AGENT_NUMBER_FIRST:
        return default
    bound = session.scalar(
        select(PhoneNumber.phone_number)
        .where(
            PhoneNumber.connection_id == connection.id,
            PhoneNumber.agent_id == agent_id,
            PhoneNumber.status == ACTIVE,
        )
        .order_by(PhoneNumber.created_at, PhoneNumber.phone_number)
        .limit(1)
    )
    return bound or default


async def restore_all(
    *, session: AsyncSession, connection: TelephonyConnection, access: CarrierAccess
) -> list[str]:
    """Point every number of ``connection`` that we routed back where it was; returns those the
    carrier would not restore (logged, not raised: the caller goes on)."""
    failed: list[str] = []
    bound = await session.scalars(
        select(PhoneNumber).where(
            PhoneNumber.connection_id == connection.id, PhoneNumber.bound_route.is_not(None)
        )
    )
    for number in bound:
        try:
            await _restore(number, connection, access)
        except CallwrightError as exc:
            log.warning(
                "could not restore %s on %s: %s", number.phone_number, connection.provider, exc.message
            )
            failed.append(number.phone_number)
    return failed


async def _point_at_us(number: PhoneNumber, connection: TelephonyConnection, access: CarrierAccess) -> None:
    api = NUMBER_APIS.get(Provider(connection.provider))
    if api is None or not api.can_route or number.bound_route is not None or number.source != FROM_CARRIER:
        return
    binding = await api.point_at(
        _carrier_number(number),
        inbound_url(access.public_url, connection),
        account_of(connection, secretbox=access.secretbox),
        http=access.http,
        endpoints=access.endpoints,
    )
    number.carrier_route, number.bound_route = binding.previous, binding.bound_route


async def _restore(number: PhoneNumber, connection: TelephonyConnection, access: CarrierAccess) -> None:
    api = NUMBER_APIS.get(Provider(connection.provider))
    if api is None or number.bound_route is None:
        return
    await api.restore(
        _carrier_number(number),
        Binding(bound_route=number.bound_route, previous=number.carrier_route),
        account_of(connection, secretbox=access.secretbox),
        http=access.http,
        endpoints=access.endpoints,
    )
    number.bound_route = None


def _carrier_number(number: PhoneNumber) -> CarrierNumber:
    return CarrierNumber(
        phone_number=number.phone_number,
        carrier_ref=number.carrier_ref or number.phone_number,
        friendly_name=number.friendly_name,
        route=number.carrier_route,
    )
