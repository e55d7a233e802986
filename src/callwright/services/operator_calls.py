"""The operator's view of calls across partners: the list, and the partner that owns a call or a
webhook delivery, so each per-call read runs through the same partner-scoped service a partner's
own request does."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.errors import NotFound
from callwright.services.calls import CallFilter, narrowed, parse_status_filter
from callwright.store.models import Call, Partner, WebhookDelivery


async def list_all_calls(
    *,
    session: AsyncSession,
    limit: int,
    offset: int,
    status: str | None,
    partner_name: str | None,
    narrow: CallFilter,
) -> tuple[list[tuple[Call, str]], int]:
    """One page of every partner's calls, newest first, each with its partner's name."""
    wanted = parse_status_filter(status)
    query = select(Call, Partner.name).join(Partner, Partner.id == Call.partner_id)
    if partner_name is not None:
        query = query.where(Partner.name == partner_name)
    if wanted is not None:
        query = query.where(Call.status == wanted.value)
    query = narrowed(query, narrow)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.order_by(Call.created_at.desc(), Call.id.desc()).limit(limit).offset(offset))
    return [(call, name) for call, name in rows], total


async def call_owner(*, session: AsyncSession, call_id: str) -> Partner:
    partner = await session.scalar(select(Partner).join(Call, Call.partner_id == Partner.id).where(Call.id == call_id))
    if partner is None:
        raise NotFound(f"no call with id {call_id!r}", code="call_not_found")
    return partner


async def delivery_owner(*, session: AsyncSession, delivery_id: str) -> Partner:
    partner = await session.scalar(
        select(Partner).join(WebhookDelivery, WebhookDelivery.partner_id == Partner.id).where(WebhookDelivery.id == delivery_id)
    )
    if partner is None:
        raise NotFound(f"no webhook delivery with id {delivery_id!r}", code="webhook_delivery_not_found")
    return partner
