"""Operator views and switches beyond partner records: partner detail, keys, connection switches."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.errors import NotFound, ValidationFailed
from callwright.domain.providers import Provider
from callwright.services import partners, telephony
from callwright.store.models import ApiKey, Partner, TelephonyConnection

# Calls per second a carrier account may be paced to; carriers publish 1–100, leave headroom.
MAX_CPS = 1000.0


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP  # "leave this field as it is" (None means "clear it")


async def list_partners_page(
    *, session: AsyncSession, limit: int, offset: int
) -> tuple[list[Partner], int]:
    total = await session.scalar(select(func.count()).select_from(Partner)) or 0
    rows = await session.scalars(
        select(Partner).order_by(Partner.created_at, Partner.name).limit(limit).offset(offset)
    )
    return list(rows), total


async def partner_detail(
    *, session: AsyncSession, partner_name: str, links: telephony.ConnectionLinks | None = None
) -> dict[str, Any]:
    """The summary plus what an operator checks first: agent count, keys, carrier connections."""
    partner = await partners.get_partner_by_name(session=session, name=partner_name)
    active_keys = await session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.partner_id == partner.id, ApiKey.revoked_at.is_(None))
    )
    return partners.partner_summary(partner) | {
        "current_agent_count": await partners.agent_count(session=session, partner_id=partner.id),
        "active_api_keys": active_keys or 0,
        "connections": [
            connection_view(c, links=links)
            for c in await list_connections(session=session, partner=partner)
        ],
    }


async def list_connections(*, session: AsyncSession, partner: Partner) -> list[TelephonyConnection]:
    rows = await session.scalars(
        select(TelephonyConnection)
        .where(TelephonyConnection.partner_id == partner.id)
        .order_by(TelephonyConnection.provider, TelephonyConnection.name)
    )
    return list(rows)


def connection_view(
    connection: TelephonyConnection, *, links: telephony.ConnectionLinks | None = None
) -> dict[str, Any]:
    """What an operator may see of a carrier account: no identifiers, no secrets (``links``: the
    carrier-side URLs, such as Exotel's Voicebot URL, which the operator may relay)."""
    extra = links(Provider(connection.provider), connection) if links is not None else {}
    return extra | {
        "connection_id": connection.id,
        "provider": connection.provider,
        "name": connection.name,
        "is_default": connection.is_default,
        "status": connection.status,
        "verified": connection.verified,
        "verified_at": iso(connection.verified_at),
        "carrier_voicemail_detection": connection.carrier_voicemail_detection,
        "cps": connection.cps,
    }


async def set_connection_switches(
    *,
    session: AsyncSession,
    partner_name: str,
    provider: Provider,
    carrier_voicemail_detection: bool | _Keep = KEEP,
    cps: float | _Keep | None = KEEP,
) -> TelephonyConnection:
    """Set the operator-only switches on a partner's connection; ``cps=None`` clears the pacing cap."""
    partner = await partners.get_partner_by_name(session=session, name=partner_name)
    connection = await telephony.get_connection(
        session=session, partner_id=partner.id, provider=provider
    )
    if connection is None:
        raise NotFound(
            f"{provider.display_name} is not configured for partner {partner.name}",
            code="provider_not_configured",
        )
    if carrier_voicemail_detection is not KEEP:
        connection.carrier_voicemail_detection = carrier_voicemail_detection
    if cps is not KEEP:
        connection.cps = check_cps(cps)
    await session.commit()
    return connection


def check_cps(cps: float | None) -> float | None:
    if cps is not None and not 0 < cps <= MAX_CPS:
        raise ValidationFailed("cps", f"cps must be greater than 0 and at most {MAX_CPS:g}, or null")
    return cps


def api_key_view(key: ApiKey, *, partner_name: str) -> dict[str, Any]:
    """A key as operators list it: the display prefix only, never the key or its hash."""
    return {
        "key_id": key.id,
        "partner": partner_name,
        "display_prefix": key.display_prefix,
        "mode": "test" if key.test_mode else "live",
        "status": "revoked" if key.revoked_at else "active",
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }


async def revoke_api_key(*, session: AsyncSession, key_id: str) -> tuple[dict[str, Any], bool]:
    """Revoke a key → (its view, whether it was already revoked before this call)."""
    existing = await session.get(ApiKey, key_id)
    already = existing is not None and existing.revoked_at is not None
    key = await partners.revoke_api_key(session=session, key_id=key_id)
    partner = await session.get(Partner, key.partner_id)
    return api_key_view(key, partner_name=partner.name if partner else ""), already


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
