"""Configure a partner's carrier account: validate, verify with the carrier, seal, store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.carriers import get_carrier
from callwright.carriers.base import CarrierCredentials, CarrierEndpoints
from callwright.carriers.exotel import same_number
from callwright.domain.errors import CallwrightError, NotFound
from callwright.domain.ids import parse_id
from callwright.domain.masking import CONFIGURED_PLACEHOLDER
from callwright.domain.providers import ALL_PROVIDERS, Provider
from callwright.store.models import Partner, PhoneNumber, TelephonyConnection, utcnow
from callwright.store.secretbox import SecretBox

# (provider, its connection or None) -> fields to show with it (services.exotel_voicebot).
ConnectionLinks = Callable[[Provider, TelephonyConnection | None], dict[str, Any]]


class InvalidCredentials(CallwrightError):
    """The body failed the provider's field rules (400 VALIDATION_ERROR with per-field details)."""

    status_code = 400
    code = "validation_error"

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("invalid credentials")


def seal_context(partner_id: str, provider: Provider) -> str:
    """Associated data binding sealed secrets to their owner and carrier."""
    return f"telephony:{partner_id}:{provider.value}"


def parse_credentials(provider: Provider, body: Any) -> CarrierCredentials:
    try:
        return get_carrier(provider).credentials_model.model_validate(body)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [dict(e) for e in exc.errors(include_url=False, include_input=False)]
        raise InvalidCredentials(errors) from None


async def configure(
    *,
    session: AsyncSession,
    partner: Partner,
    provider: Provider,
    body: Any,
    secretbox: SecretBox,
    http: httpx.AsyncClient,
    endpoints: CarrierEndpoints,
    links: ConnectionLinks | None = None,
) -> dict[str, Any]:
    """Verify and store (or replace) the partner's default connection for ``provider``.

    Nothing is written unless the carrier accepted the credentials (or the carrier has no check).
    ``links`` adds what the partner must set on the carrier's side (Exotel's Voicebot URL).
    """
    carrier = get_carrier(provider)
    credentials = parse_credentials(provider, body)
    await carrier.verify(credentials, http=http, endpoints=endpoints)
    from callwright.services import mcube_bridge  # it reads connections (this module's)

    await mcube_bridge.check_executive_numbers(session, partner_id=partner.id, provider=provider, credentials=credentials)

    connection = await get_connection(session=session, partner_id=partner.id, provider=provider)
    if connection is None:
        connection = TelephonyConnection(
            partner_id=partner.id, provider=provider.value, name=carrier.display_name, is_default=True
        )
        session.add(connection)
    seal_into(connection, credentials=credentials, secretbox=secretbox)
    await record_default_number(session=session, connection=connection)
    await session.commit()
    return public_response(provider, connection, credentials=credentials, links=links)


def seal_into(
    connection: TelephonyConnection, *, credentials: CarrierCredentials, secretbox: SecretBox
) -> None:
    """Store verified ``credentials`` on ``connection``: identifiers plain, secrets sealed."""
    provider = Provider(connection.provider)
    carrier = get_carrier(provider)
    connection.identifiers = credentials.identifiers()
    connection.sealed_secrets = secretbox.seal(
        credentials.secrets(), context=seal_context(connection.partner_id, provider)
    )
    connection.verified = carrier.verifies_credentials
    connection.verified_at = utcnow() if carrier.verifies_credentials else None


def public_response(
    provider: Provider,
    connection: TelephonyConnection,
    *,
    credentials: CarrierCredentials,
    links: ConnectionLinks | None = None,
) -> dict[str, Any]:
    """What the legacy PUT answers: the masked credentials and whether they were verified."""
    carrier = get_carrier(provider)
    data: dict[str, Any] = credentials.public_view()
    if links is not None:
        data |= links(provider, connection)
    if carrier.verifies_credentials:
        data["message"] = f"{carrier.display_name} credentials updated successfully."
    else:
        data["verified"] = False
        data["message"] = (
            f"{carrier.display_name} credentials saved but not verified: "
            f"{carrier.display_name} offers no credential check, so the first call will tell."
        )
    return data


async def get_connection(
    *, session: AsyncSession, partner_id: str, provider: Provider
) -> TelephonyConnection | None:
    return await session.run_sync(default_connection, partner_id, provider)


def default_connection(session: Session, partner_id: str, provider: Provider) -> TelephonyConnection | None:
    """``get_connection`` on a synchronous session (see ``store.db.SqliteFile``)."""
    return session.scalar(_DEFAULT_CONNECTION, {"partner_id": partner_id, "provider": provider.value})


# Built once (every calls/start runs it): SQLAlchemy reuses its compiled form.
_DEFAULT_CONNECTION = select(TelephonyConnection).where(
    TelephonyConnection.partner_id == bindparam("partner_id"),
    TelephonyConnection.provider == bindparam("provider"),
    TelephonyConnection.is_default.is_(True),
)


async def record_default_number(*, session: AsyncSession, connection: TelephonyConnection) -> None:
    """Keep the connection's own caller id (from_number, caller_id, exe_number) among its numbers."""
    caller_id = str(
        connection.identifiers.get(get_carrier(Provider(connection.provider)).caller_id_field) or ""
    )
    if not caller_id:
        return
    await session.flush()
    existing = await session.scalars(select(PhoneNumber).where(PhoneNumber.connection_id == connection.id))
    if any(same_number(row.phone_number, caller_id) for row in existing):
        return
    session.add(
        PhoneNumber(
            partner_id=connection.partner_id,
            connection_id=connection.id,
            phone_number=caller_id,
            source="connection",
            status="ACTIVE",
        )
    )


async def partner_connection(
    *, session: AsyncSession, partner_id: str, connection_id: str
) -> TelephonyConnection:
    """The partner's connection ``connection_id``; another partner's is a 404 like a missing one."""
    canonical = parse_id(connection_id)
    connection = await session.get(TelephonyConnection, canonical) if canonical else None
    if connection is None or connection.partner_id != partner_id:
        raise NotFound(f"no telephony connection with id {connection_id[:64]!r}", code="connection_not_found")
    return connection


async def require_connection(
    *, session: AsyncSession, partner_id: str, provider: Provider
) -> TelephonyConnection:
    connection = await get_connection(session=session, partner_id=partner_id, provider=provider)
    if connection is None:
        raise NotFound(
            f"{provider.display_name} is not configured for this partner",
            code="provider_not_configured",
        )
    return connection


def open_secrets(connection: TelephonyConnection, *, secretbox: SecretBox) -> dict[str, Any]:
    return secretbox.open(
        connection.sealed_secrets,
        context=seal_context(connection.partner_id, Provider(connection.provider)),
    )


# What GET /config shows per provider when configured: identifiers as the placeholder, the rest plain.
_CONFIG_FIELDS: dict[Provider, dict[str, bool]] = {
    # field -> shown as placeholder?
    Provider.TWILIO: {"account_sid": True, "from_number": False},
    Provider.MCUBE: {"exe_number": False},
    Provider.EXOTEL: {"account_sid": True, "subdomain": False, "caller_id": False, "applet_id": False},
    Provider.PLIVO: {"auth_id": True, "from_number": False},
    Provider.VOBIZ: {"auth_id": True, "from_number": False},
}


async def telephony_view(
    *, session: AsyncSession, partner_id: str, links: ConnectionLinks | None = None
) -> dict[str, dict[str, Any]]:
    """All five providers, configured or not; no secret ever appears (``links``: as in
    ``configure``)."""
    rows = await session.scalars(
        select(TelephonyConnection).where(
            TelephonyConnection.partner_id == partner_id,
            TelephonyConnection.is_default.is_(True),
        )
    )
    by_provider = {Provider(row.provider): row for row in rows}
    view: dict[str, dict[str, Any]] = {}
    for provider in ALL_PROVIDERS:
        row = by_provider.get(provider)
        entry: dict[str, Any] = {"configured": row is not None}
        for field, as_placeholder in _CONFIG_FIELDS[provider].items():
            value = row.identifiers.get(field) if row is not None else None
            entry[field] = CONFIGURED_PLACEHOLDER if (as_placeholder and value) else value
        if links is not None:
            entry |= links(provider, row)
        view[provider.value] = entry
    return view


async def rotate_secrets(*, session: AsyncSession, secretbox: SecretBox) -> tuple[int, int]:
    """Re-seal every stored secret under the current master key → (re-sealed, already current)."""
    resealed = current = 0
    rows = await session.scalars(select(TelephonyConnection).with_for_update())
    for row in rows:
        if secretbox.key_id_of(row.sealed_secrets) == secretbox.current_key_id:
            current += 1
            continue
        context = seal_context(row.partner_id, Provider(row.provider))
        row.sealed_secrets = secretbox.seal(
            secretbox.open(row.sealed_secrets, context=context), context=context
        )
        resealed += 1
    await session.commit()
    return resealed, current


def configured_providers(session: Session, partner_id: str) -> list[Provider]:
    """The providers the partner has a connection for (a synchronous session: see
    ``store.db.SqliteFile``)."""
    rows = session.scalars(
        select(TelephonyConnection.provider).where(
            TelephonyConnection.partner_id == partner_id,
            TelephonyConnection.is_default.is_(True),
        )
    )
    found = set(rows)
    return [p for p in Provider if p.value in found]
