"""Carrier connections (and calls) written straight into the store, for tests that need one.

Configuring through ``PUT /config/telephony`` would call the carrier (or its simulator); these tests
are about what happens to the row afterwards.
"""

from __future__ import annotations

from typing import Any

from callwright.domain.providers import Provider
from callwright.services.projects import resolve_project_id
from callwright.services.telephony import seal_context
from callwright.store.models import Agent, Call, TelephonyConnection, new_id
from callwright.store.secretbox import SecretBox

VOBIZ_SECRETS = {"auth_token": "vobiz-token-1234"}


async def store_connection(
    sessions: Any,
    *,
    partner_id: str,
    provider: Provider = Provider.VOBIZ,
    master_key: str,
    secrets: dict[str, Any] | None = None,
) -> str:
    """A verified default connection whose secrets are sealed under ``master_key``; returns its id."""
    box = SecretBox([master_key])
    async with sessions() as session:
        row = TelephonyConnection(
            partner_id=partner_id,
            provider=provider.value,
            name=provider.display_name,
            is_default=True,
            identifiers={"auth_id": "MA_TEST0001", "from_number": "+918011223344"},
            sealed_secrets=box.seal(
                secrets or VOBIZ_SECRETS, context=seal_context(partner_id, provider)
            ),
            verified=True,
        )
        session.add(row)
        await session.commit()
        return row.id


async def open_connection(sessions: Any, connection_id: str, *master_keys: str) -> dict[str, Any]:
    """The connection's secrets, opened with exactly ``master_keys`` (raises if they cannot)."""
    async with sessions() as session:
        row = await session.get(TelephonyConnection, connection_id)
        assert row is not None
        return SecretBox(list(master_keys)).open(
            row.sealed_secrets, context=seal_context(row.partner_id, Provider(row.provider))
        )


async def add_connection(
    platform: Any,
    partner_id: str,
    provider: str,
    identifiers: dict[str, Any],
    secrets: dict[str, Any],
    **switches: Any,
) -> str:
    """A verified default connection sealed by the platform's own secret box; returns its id."""
    parsed = Provider(provider)
    async with platform.sessions() as session:
        row = TelephonyConnection(
            partner_id=partner_id,
            provider=parsed.value,
            name=parsed.display_name,
            is_default=True,
            identifiers=identifiers,
            sealed_secrets=platform.secretbox.seal(secrets, context=seal_context(partner_id, parsed)),
            verified=True,
            **switches,
        )
        session.add(row)
        await session.commit()
        return row.id


async def add_call(platform: Any, partner_id: str, **fields: Any) -> str:
    """A call row of its own agent, as the dialer left it (``dialed``, a Vobiz number pair unless
    ``fields`` say otherwise); returns its id."""
    async with platform.sessions() as session:
        project_id = await session.run_sync(resolve_project_id, partner_id, None)
        agent = Agent(partner_id=partner_id, project_id=project_id, agent_name=f"agent-{new_id()[:8]}", settings={})
        session.add(agent)
        await session.flush()
        call = Call(
            **{
                "partner_id": partner_id,
                "agent_id": agent.id,
                "provider": "vobiz",
                "from_number": "+918011223344",
                "to_number": "+919876543210",
                "dial_state": "dialed",
            }
            | fields
        )
        session.add(call)
        await session.commit()
        return call.id
