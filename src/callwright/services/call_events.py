"""A call's event trail as the partner may see it: every state change, what caused it (API,
dialer, carrier callback, media) and the carrier's payload with secrets already removed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.services.calls import get_call
from callwright.services.webhook_outbox import iso_utc
from callwright.store.models import CallEventRow, Partner


async def list_call_events(*, session: AsyncSession, partner: Partner, call_id: str) -> list[dict[str, Any]]:
    """Oldest first; 404 for a call the partner does not own."""
    call = await get_call(session=session, partner=partner, call_id=call_id)
    rows = await session.scalars(
        select(CallEventRow)
        .where(CallEventRow.call_id == call.id, CallEventRow.partner_id == partner.id)
        .order_by(CallEventRow.created_at, CallEventRow.id)
        .limit(500)
    )
    return [
        {
            "kind": row.kind,
            "source": row.source,
            "status_before": row.status_before,
            "status_after": row.status_after,
            "payload": dict(row.payload or {}),
            "created_at": iso_utc(row.created_at),
        }
        for row in rows
    ]
