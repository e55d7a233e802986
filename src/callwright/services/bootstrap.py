"""First start in development: a ready-to-use partner, so `callwright serve` works out of the box."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.errors import Conflict
from callwright.domain.providers import Provider
from callwright.services.partners import IssuedKey, create_partner
from callwright.settings import Settings
from callwright.store.models import Partner

DEV_PARTNER_NAME = "dev"
DEV_PARTNER_DISPLAY_NAME = "Development"


async def ensure_dev_partner(*, session: AsyncSession, settings: Settings) -> IssuedKey | None:
    """Create partner ``dev`` (all carriers allowed) when no partner exists yet, in development only.

    Returns the new partner's live key — its only appearance in plaintext — or None when nothing was
    created (production, or any partner already exists).
    """
    if settings.is_production:
        return None
    if await session.scalar(select(Partner.id).limit(1)) is not None:
        return None
    try:
        _, key = await create_partner(
            session=session,
            name=DEV_PARTNER_NAME,
            display_name=DEV_PARTNER_DISPLAY_NAME,
            providers=list(Provider),
            concurrency_limit=settings.default_concurrency_limit,
            agent_limit=settings.default_agent_limit,
        )
    except Conflict:  # a concurrent first start created it
        return None
    return key
