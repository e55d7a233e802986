"""Opening a partner's carrier account for a call: identifiers plus decrypted secrets."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.carriers.base import Account
from callwright.domain.errors import NotFound
from callwright.services.telephony import open_secrets
from callwright.store.models import Call, TelephonyConnection
from callwright.store.secretbox import SecretBox


async def account_for_call(*, session: AsyncSession, call: Call, secretbox: SecretBox) -> Account:
    connection = await session.get(TelephonyConnection, call.connection_id) if call.connection_id else None
    if connection is None:
        raise NotFound("the call's carrier connection no longer exists", code="connection_not_found")
    return account_of(connection, secretbox=secretbox)


def account_of(connection: TelephonyConnection, *, secretbox: SecretBox) -> Account:
    return Account(
        identifiers=dict(connection.identifiers),
        secrets=open_secrets(connection, secretbox=secretbox),
    )


def pacing_key(connection: TelephonyConnection) -> str:
    """One token bucket per carrier account (two connections to one account share it)."""
    ids = connection.identifiers
    account = ids.get("auth_id") or ids.get("account_sid") or ids.get("exe_number") or connection.id
    return f"{connection.provider}:{account}"
