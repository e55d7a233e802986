"""The partner's own view of its account: ``GET /config``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.credits import rupees
from callwright.services import credits, partners, telephony, webhooks
from callwright.services.call_admission import active_count
from callwright.store.models import Partner
from callwright.voice.catalog import installed_languages, installed_voices


async def partner_config(
    *, session: AsyncSession, partner: Partner, links: telephony.ConnectionLinks | None = None
) -> dict[str, Any]:
    hooks = await webhooks.config_view(session=session, partner=partner)
    return {
        "name": partner.name,
        "display_name": partner.display_name,
        "status": partner.status,
        "agent_limit": partner.agent_limit,
        "current_agent_count": await partners.agent_count(session=session, partner_id=partner.id),
        "allowed_telephony_providers": list(partner.allowed_providers),
        "allowed_languages": installed_languages(),
        "allowed_voices": [v.voice_id for v in installed_voices()],
        # Counted as admission counts them (the same query), so it agrees with GET /calls/concurrency.
        "concurrency": {"limit": partner.concurrency_limit, "active": await active_count(session, partner.id)},
        "webhook": hooks["webhook"],  # Vocobase's legacy single webhook: the `default` endpoint
        "webhooks": hooks["webhooks"],
        "telephony": await telephony.telephony_view(session=session, partner_id=partner.id, links=links),
        # The ₹ balance; the docs keep the field name ``credits``.
        "credits": rupees(await credits.balance(session=session, partner_id=partner.id)),
    }
