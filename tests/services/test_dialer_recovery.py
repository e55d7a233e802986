"""After a crash: a claimed-but-unsent dial is queued again; a dial that may have left is never
sent twice — it is left unconfirmed (the carrier's callbacks or the reconciler settle it), or
counted as dialled when the carrier already reported on it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from callwright.services.dialer import Dialer
from callwright.store.models import Call, CallEventRow, utcnow
from tests.connection_rows import add_call, add_connection


async def _call(platform, partner_id, connection_id, dial_state):
    return await add_call(
        platform,
        partner_id,
        connection_id=connection_id,
        dial_state=dial_state,
        dial_lease_until=utcnow() - timedelta(seconds=1),
    )


async def test_expired_leases_are_recovered_safely(platform, partner):
    connection = await add_connection(
        platform, partner.id, "vobiz", {"auth_id": "MA_X1234567", "from_number": "+918011223344"}, {"auth_token": "t"}
    )
    claimed = await _call(platform, partner.id, connection, "claimed")
    dialing = await _call(platform, partner.id, connection, "dialing")
    await Dialer(platform).recover_expired_leases()
    async with platform.sessions() as session:
        requeued = await session.get(Call, claimed)
        assert (requeued.dial_state, requeued.status) == ("queued", "pending")
        unknown = await session.get(Call, dialing)
        assert (unknown.dial_state, unknown.status) == ("unconfirmed", "pending")
        assert unknown.end_reason is None
        trail = await session.scalars(select(CallEventRow.kind).where(CallEventRow.call_id == dialing))
        assert list(trail) == ["dial_unconfirmed"]


async def test_an_expired_dial_the_carrier_already_reported_on_counts_as_dialled(platform, partner):
    connection = await add_connection(
        platform, partner.id, "vobiz", {"auth_id": "MA_X1234567", "from_number": "+918011223344"}, {"auth_token": "t"}
    )
    call_id = await _call(platform, partner.id, connection, "dialing")
    async with platform.sessions() as session:  # its ringing callback came before the crash
        call = await session.get(Call, call_id)
        call.status, call.provider_call_id = "ringing", "c0ffee"
        await session.commit()
    await Dialer(platform).recover_expired_leases()
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        assert (call.dial_state, call.status) == ("dialed", "ringing")
