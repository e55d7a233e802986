"""Every dial state and end reason round-trips through its store column, on SQLite and PostgreSQL."""

from __future__ import annotations

from callwright.domain.dialing import DialState
from callwright.domain.end_reasons import EndReason
from callwright.store.models import Call
from tests.connection_rows import add_call


async def test_every_dial_state_round_trips_through_the_calls_table(platform, partner):
    ids = {state: await add_call(platform, partner.id, dial_state=state) for state in DialState}
    async with platform.sessions() as session:
        for state, call_id in ids.items():
            stored = (await session.get(Call, call_id)).dial_state
            assert stored == state.value and DialState(stored) is state


async def test_every_end_reason_round_trips_through_the_calls_table(platform, partner):
    ids = {reason: await add_call(platform, partner.id, end_reason=reason.words) for reason in EndReason}
    async with platform.sessions() as session:
        for reason, call_id in ids.items():
            assert EndReason.from_words((await session.get(Call, call_id)).end_reason) is reason
