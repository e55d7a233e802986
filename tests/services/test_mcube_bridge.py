"""The executive-number pool of an MCube connection (services.mcube_bridge): one live call per
number, claimed atomically; a number frees itself when its call ends; a leg is matched only to
its own partner's MCube call."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from callwright.domain.errors import Conflict
from callwright.services import mcube_bridge
from callwright.store.models import Call, PhoneNumber, TelephonyConnection
from tests.connection_rows import add_call, add_connection

VOBIZ_IDS = {"auth_id": "MA_X1234567", "from_number": "+918011223344"}


async def _setup(platform, partner_id: str, numbers: list[str]) -> tuple[str, str]:
    vobiz = await add_connection(platform, partner_id, "vobiz", VOBIZ_IDS, {"auth_token": "t"})
    mcube = await add_connection(
        platform, partner_id, "mcube", {"exe_number": "9876500001", "executive_numbers": numbers}, {"jwt_token": "j"}
    )
    async with platform.sessions() as session:
        for number in numbers:
            session.add(PhoneNumber(partner_id=partner_id, connection_id=vobiz, phone_number=number))
        await session.commit()
    return vobiz, mcube


async def _claim(platform, call_id: str, connection_id: str) -> str | None:
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        connection = await session.get(TelephonyConnection, connection_id)
        try:
            number = await mcube_bridge.claim(session, call, connection)
        except mcube_bridge.PoolExhausted:
            await session.rollback()
            return None
        await session.commit()
        return number


async def _mcube_call(platform, partner_id: str, connection_id: str) -> str:
    return await add_call(platform, partner_id, provider="mcube", connection_id=connection_id, dial_state="claimed")


async def test_each_number_is_held_by_one_live_call_and_frees_itself_when_it_ends(platform, partner):
    _, mcube = await _setup(platform, partner.id, ["+918000000001"])
    calls = [await _mcube_call(platform, partner.id, mcube) for _ in range(4)]
    # Four dialers race for one number: exactly one wins it.
    won = await asyncio.gather(*(_claim(platform, c, mcube) for c in calls))
    assert sorted(won, key=str) == sorted(["+918000000001", None, None, None], key=str)
    holder = calls[won.index("+918000000001")]
    assert await _claim(platform, holder, mcube) == "+918000000001"  # its own, again
    async with platform.sessions() as session:
        connection = await session.get(TelephonyConnection, mcube)
        with pytest.raises(Conflict) as refused:
            await session.run_sync(lambda s: mcube_bridge.check_room(s, partner_id=partner.id, connection=connection))
        assert refused.value.code == "executive_pool_exhausted" and "executive_numbers" in refused.value.message
        (await session.get(Call, holder)).status = "completed"
        for other in calls:
            if other != holder:
                (await session.get(Call, other)).status = "failed"
        await session.commit()
    later = await _mcube_call(platform, partner.id, mcube)
    assert await _claim(platform, later, mcube) == "+918000000001"


async def test_a_leg_is_matched_only_to_its_own_partners_mcube_call(platform, partner, other_partner):
    number = "+918000000002"
    alice_vobiz, alice_mcube = await _setup(platform, partner.id, [number])
    bob_vobiz, bob_mcube = await _setup(platform, other_partner.id, [number])  # the same digits, Bob's row
    bob_call = await _mcube_call(platform, other_partner.id, bob_mcube)
    assert await _claim(platform, bob_call, bob_mcube) == number
    async with platform.sessions() as session:
        alice_connection = await session.get(TelephonyConnection, alice_vobiz)
        # A leg to Alice's number on Alice's connection finds no call: Bob's claim is on Bob's row.
        assert await mcube_bridge.bridged_call(session, connection=alice_connection, called=number, leg_call_id="leg-1") is None
        bob_connection = await session.get(TelephonyConnection, bob_vobiz)
        bridge = await mcube_bridge.bridged_call(session, connection=bob_connection, called=number, leg_call_id="leg-2")
        assert bridge is not None and bridge.call_id == bob_call
        # A second leg for the same call is not taken; the same leg asking again is.
        assert await mcube_bridge.bridged_call(session, connection=bob_connection, called=number, leg_call_id="leg-3") is None
        again = await mcube_bridge.bridged_call(session, connection=bob_connection, called=number, leg_call_id="leg-2")
        assert again is not None and again.call_id == bob_call
        await session.commit()
    async with platform.sessions() as session:
        rows = list(await session.scalars(select(PhoneNumber).where(PhoneNumber.partner_id == partner.id)))
        assert all(row.reserved_call_id is None for row in rows)
    assert alice_mcube != bob_mcube
