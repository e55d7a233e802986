"""Named carrier connections (``/telephony/connections``): several per carrier, one default.

Credentials are verified with the carrier and sealed exactly as the legacy
``PUT /config/telephony/{provider}`` does (``services.telephony``), which keeps updating the default.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.carriers import get_carrier
from callwright.carriers.base import CarrierEndpoints
from callwright.domain.errors import BadRequest, Conflict, NotFound, ValidationFailed
from callwright.domain.ids import parse_id
from callwright.domain.providers import Provider, parse_provider
from callwright.services import mcube_bridge, phone_numbers
from callwright.services.telephony import (
    ConnectionLinks,
    parse_credentials,
    partner_connection,
    record_default_number,
    seal_into,
)
from callwright.store.models import Partner, PhoneNumber, TelephonyConnection
from callwright.store.secretbox import SecretBox

ACTIVE, INACTIVE = "ACTIVE", "INACTIVE"
_STATUSES = (ACTIVE, INACTIVE)
# Fields of the create/update body that are the connection's own, not the carrier's credentials.
_OWN_FIELDS = ("provider", "name", "is_default", "status")


async def create_connection(
    *,
    session: AsyncSession,
    partner: Partner,
    body: dict[str, Any],
    secretbox: SecretBox,
    http: httpx.AsyncClient,
    endpoints: CarrierEndpoints,
    links: ConnectionLinks | None = None,
) -> dict[str, Any]:
    """Verify, seal and store a new named connection. The carrier's first connection is its
    default; ``is_default: true`` makes a later one the default (the previous one stops being it)."""
    provider = _provider_of(body.get("provider"))
    name = _name_of(body.get("name"))
    wants_default = _flag(body, "is_default")
    carrier = get_carrier(provider)
    credentials = parse_credentials(provider, _credential_fields(provider, body))
    await carrier.verify(credentials, http=http, endpoints=endpoints)
    await mcube_bridge.check_executive_numbers(session, partner_id=partner.id, provider=provider, credentials=credentials)

    existing = await session.scalar(
        select(func.count())
        .select_from(TelephonyConnection)
        .where(TelephonyConnection.partner_id == partner.id, TelephonyConnection.provider == provider.value)
    )
    connection = TelephonyConnection(
        partner_id=partner.id, provider=provider.value, name=name, is_default=not existing, status=ACTIVE
    )
    seal_into(connection, credentials=credentials, secretbox=secretbox)
    session.add(connection)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise _name_taken(provider, name) from None
    if wants_default and existing:
        await _make_default(session, connection)
    await record_default_number(session=session, connection=connection)
    await session.commit()
    return {"connection": await connection_view(session=session, connection=connection, links=links)}


async def list_connections(
    *,
    session: AsyncSession,
    partner_id: str,
    provider: str | None = None,
    links: ConnectionLinks | None = None,
) -> list[dict[str, Any]]:
    query = select(TelephonyConnection).where(TelephonyConnection.partner_id == partner_id)
    if provider is not None:
        query = query.where(TelephonyConnection.provider == _provider_of(provider).value)
    rows = await session.scalars(query.order_by(TelephonyConnection.provider, TelephonyConnection.created_at))
    return [await connection_view(session=session, connection=row, links=links) for row in rows]


async def update_connection(
    *,
    session: AsyncSession,
    partner: Partner,
    connection_id: str,
    body: dict[str, Any],
    secretbox: SecretBox,
    http: httpx.AsyncClient,
    endpoints: CarrierEndpoints,
    links: ConnectionLinks | None = None,
) -> dict[str, Any]:
    """Rename, switch status or default, or replace the credentials (verified first, as on create).

    ``provider`` cannot change: a connection is one carrier account."""
    connection = await partner_connection(session=session, partner_id=partner.id, connection_id=connection_id)
    provider = Provider(connection.provider)
    if "provider" in body and _provider_of(body["provider"]) is not provider:
        raise ValidationFailed("provider", "provider cannot change; create a new connection instead")
    credential_fields = _credential_fields(provider, body)
    if credential_fields:
        credentials = parse_credentials(provider, credential_fields)
        await get_carrier(provider).verify(credentials, http=http, endpoints=endpoints)
        await mcube_bridge.check_executive_numbers(
            session, partner_id=partner.id, provider=provider, credentials=credentials
        )
        seal_into(connection, credentials=credentials, secretbox=secretbox)
    if "name" in body:
        connection.name = _name_of(body["name"])
    if "status" in body:
        status = body["status"]
        if status not in _STATUSES:
            raise ValidationFailed("status", "status must be ACTIVE or INACTIVE")
        connection.status = status
    if _flag(body, "is_default"):
        await _make_default(session, connection)
    elif body.get("is_default") is False and connection.is_default:
        raise ValidationFailed(
            "is_default", "a carrier always has one default connection; make another one the default instead"
        )
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise _name_taken(provider, connection.name) from None
    if credential_fields:
        await record_default_number(session=session, connection=connection)
    await session.commit()
    return {"connection": await connection_view(session=session, connection=connection, links=links)}


async def delete_connection(
    *, session: AsyncSession, partner_id: str, connection_id: str, access: phone_numbers.CarrierAccess
) -> dict[str, Any]:
    """Delete a connection and its numbers. The default goes last: while the carrier has other
    connections, make one of them the default first. Calls keep their record (connection unset).

    Numbers we pointed at us are pointed back first; one the carrier refuses to restore is named in
    ``not_restored`` and the deletion goes on (the credentials may have been revoked)."""
    connection = await partner_connection(session=session, partner_id=partner_id, connection_id=connection_id)
    if connection.is_default:
        others = await session.scalar(
            select(func.count())
            .select_from(TelephonyConnection)
            .where(
                TelephonyConnection.partner_id == partner_id,
                TelephonyConnection.provider == connection.provider,
                TelephonyConnection.id != connection.id,
            )
        )
        if others:
            raise Conflict(
                "this is the carrier's default connection; make another connection the default before deleting it",
                code="default_connection",
            )
    not_restored = await phone_numbers.restore_all(session=session, connection=connection, access=access)
    await session.delete(connection)
    await session.commit()
    return {"id": connection_id, "deleted": True, "not_restored": not_restored}


async def connection_view(
    *, session: AsyncSession, connection: TelephonyConnection, links: ConnectionLinks | None = None
) -> dict[str, Any]:
    """The documented shape; no credential appears (the legacy GET /config shows them masked)."""
    provider = Provider(connection.provider)
    numbers = await session.scalars(
        select(PhoneNumber)
        .where(PhoneNumber.connection_id == connection.id)
        .order_by(PhoneNumber.phone_number)
    )
    view: dict[str, Any] = {
        "id": connection.id,
        "connection_id": connection.id,
        "provider": provider.value,
        "provider_key": provider.value.upper(),
        "name": connection.name,
        "status": connection.status,
        "is_default": connection.is_default,
        "verified": connection.verified,
        "phone_numbers": [
            await phone_numbers.number_view(session=session, number=n, connection=connection) for n in numbers
        ],
    }
    if links is not None:
        view |= links(provider, connection)
    return view


def connection_for_call(
    session: Session, partner_id: str, provider: Provider, connection_id: str | None
) -> TelephonyConnection | None:
    """The connection a call on ``provider`` uses (a synchronous session: see ``store.db.SqliteFile``).

    Named: that connection, which must be the partner's, on ``provider``, and ACTIVE. Not named:
    the carrier's only active connection; with several the call is ambiguous (400
    ``connection_id_required``). None when the carrier has no connection at all.
    """
    if connection_id is not None:
        canonical = parse_id(connection_id)
        named = session.get(TelephonyConnection, canonical) if canonical else None
        if named is None or named.partner_id != partner_id or named.provider != provider.value:
            raise NotFound(
                f"no {provider.display_name} connection with id {connection_id!r}",
                code="connection_not_found",
            )
        if named.status != ACTIVE:
            raise BadRequest(
                f"connection {connection_id!r} is INACTIVE; activate it or name another connection_id",
                code="connection_inactive",
            )
        return named
    rows = list(
        session.scalars(
            select(TelephonyConnection).where(
                TelephonyConnection.partner_id == partner_id, TelephonyConnection.provider == provider.value
            )
        )
    )
    active = [row for row in rows if row.status == ACTIVE]
    if len(active) > 1:
        raise BadRequest(
            f"connection_id is required: this partner has {len(active)} active {provider.display_name} "
            "connections (list them with GET /api/v2/telephony/connections)",
            code="connection_id_required",
        )
    if active:
        return active[0]
    if rows:
        raise BadRequest(
            f"every {provider.display_name} connection is INACTIVE; activate one with "
            "PATCH /api/v2/telephony/connections/{id}",
            code="connection_inactive",
        )
    return None


def provider_of_connection(session: Session, partner_id: str, connection_id: str) -> Provider | None:
    """The carrier of the partner's connection ``connection_id`` (None: not the partner's)."""
    canonical = parse_id(connection_id)
    connection = session.get(TelephonyConnection, canonical) if canonical else None
    if connection is None or connection.partner_id != partner_id:
        return None
    return Provider(connection.provider)


async def _make_default(session: AsyncSession, connection: TelephonyConnection) -> None:
    others = await session.scalars(
        select(TelephonyConnection).where(
            TelephonyConnection.partner_id == connection.partner_id,
            TelephonyConnection.provider == connection.provider,
            TelephonyConnection.id != connection.id,
            TelephonyConnection.is_default.is_(True),
        )
    )
    for other in others:
        other.is_default = False
    connection.is_default = True


def _provider_of(value: Any) -> Provider:
    provider = parse_provider(value) if isinstance(value, str) else None
    if provider is None:
        raise ValidationFailed("provider", "provider must be one of " + ", ".join(p.value for p in Provider))
    return provider


def _name_of(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 100:
        raise ValidationFailed("name", "name must be a string of 1 to 100 characters")
    return value.strip()


def _flag(body: dict[str, Any], field: str) -> bool:
    value = body.get(field)
    if value is not None and not isinstance(value, bool):
        raise ValidationFailed(field, f"{field} must be true or false")
    return value is True


def _credential_fields(provider: Provider, body: dict[str, Any]) -> dict[str, Any]:
    fields = {key: value for key, value in body.items() if key not in _OWN_FIELDS}
    # Vocobase: "account_sid: Twilio/Exotel account SID, or Plivo/Vobiz auth ID" (auth_id is its alias).
    if provider in (Provider.PLIVO, Provider.VOBIZ) and "account_sid" in fields:
        fields.setdefault("auth_id", fields.pop("account_sid"))
        fields.pop("account_sid", None)
    return fields


def _name_taken(provider: Provider, name: str) -> Conflict:
    return Conflict(
        f"a {provider.display_name} connection named {name!r} already exists", code="connection_name_taken"
    )
