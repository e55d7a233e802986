"""The reconciler against Vobiz and Plivo as the simulator plays them, where a call's state is
read from three places: ``?status=live`` (in progress), ``?status=queued`` (not yet answered,
ringing included) and the finished call's record (Vobiz's CDR, Plivo's Call object), which has
no ``call_status``: its end is told by ``end_time`` and the hang-up cause code.

Calls are placed through our adapters; their answer URL serves a document that keeps the call up,
their hang-up callbacks go to a closed port (lost); the call rows are written as the platform had
left them, last touched an hour ago.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from callwright.carriers import endpoints_from_settings, get_carrier
from callwright.carriers.base import Account
from callwright.domain.providers import Provider
from callwright.domain.reconcile import RING_MAX_SECS
from callwright.services.reconciler import Reconciler
from callwright.sim import CarrierSimulator, Scenario, SimCall
from callwright.store.models import Call, CallEventRow, utcnow
from tests.carriers.call_path_support import dial_request
from tests.connection_rows import add_call, add_connection
from tests.sim.agent_platform import AgentPlatform

TOKEN = "reconcile-plivo-vobiz-0123456789"
ACCOUNTS = {
    Provider.VOBIZ: Account({"auth_id": "MA_RECONVBZ", "from_number": "+14155550100"}, {"auth_token": TOKEN}),
    Provider.PLIVO: Account(
        {"auth_id": "MARECONCILEPLIVO0001", "from_number": "+14155550100"}, {"auth_token": TOKEN}
    ),
}
NOBODY = "http://127.0.0.1:9/telephony"  # the discard port: the hang-up callback is lost
HOLD = '<Response><Wait length="600"/></Response>'  # keeps an answered call up
_numbers = iter(range(10_000, 99_999))


@pytest.fixture
def settings(settings, sim):
    urls = sim.api_urls()
    return settings.model_copy(
        update={"vobiz_api_url": urls["vobiz"], "plivo_api_url": urls["plivo"], "carrier_timeout_secs": 3.0}
    )


@pytest.fixture
def answer_server() -> Iterator[AgentPlatform]:
    server = AgentPlatform()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=list(ACCOUNTS), ids=[p.value for p in ACCOUNTS])
async def carrier(request, platform, partner, sim) -> tuple[Provider, str]:  # type: ignore[no-untyped-def]
    provider: Provider = request.param
    account = ACCOUNTS[provider]
    sim.add_account(provider.value, auth_id=account.identifiers["auth_id"], auth_token=TOKEN)
    connection = await add_connection(
        platform, partner.id, provider.value, dict(account.identifiers), dict(account.secrets)
    )
    return provider, connection


async def _placed(
    platform, sim: CarrierSimulator, provider: Provider, scenario: Scenario, answer_server: AgentPlatform
) -> SimCall:  # type: ignore[no-untyped-def]
    number = f"+1415557{next(_numbers) % 10_000:04d}"
    tag = f"t{number[1:]}"
    answer_server.documents[tag] = HOLD
    sim.set_scenario(number, scenario)
    dial = dial_request(
        provider.value,
        to=number,
        answer_url=answer_server.answer_url(provider.value, tag),
        status_url=f"{NOBODY}/{provider.value}/c1/status",
    )
    async with httpx.AsyncClient() as http:
        await get_carrier(provider).place_call(
            dial, ACCOUNTS[provider], http=http, endpoints=endpoints_from_settings(platform.settings)
        )
    return await sim.wait_for_call(to=number)


async def _row(platform, partner_id: str, connection: str, provider: Provider, **fields) -> str:  # type: ignore[no-untyped-def]
    call_id = await add_call(
        platform,
        partner_id,
        provider=provider.value,
        connection_id=connection,
        from_number="+14155550100",
        to_number="+14155550111",
        **fields,
    )
    await _backdate(platform, call_id)
    return call_id


async def _backdate(platform, call_id: str) -> None:  # type: ignore[no-untyped-def]
    async with platform.sessions() as session:
        await session.execute(
            update(Call).where(Call.id == call_id).values(updated_at=utcnow() - timedelta(hours=1))
        )
        await session.commit()


async def _get(platform, call_id: str) -> tuple[Call, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        rows = await session.scalars(
            select(CallEventRow).where(CallEventRow.call_id == call_id).order_by(CallEventRow.created_at)
        )
        return call, [(row.kind, row.source) for row in rows]


async def test_a_finished_call_whose_hangup_callback_was_lost_completes_with_the_carriers_cause(
    platform, partner, carrier, sim, answer_server
):
    provider, connection = carrier
    played = await _placed(platform, sim, provider, Scenario.answer(ring_secs=0.1), answer_server)
    await _until_answered(played)
    sim.caller_hangs_up(played.call_id)  # Normal Hangup, code 4000; its callback reaches nobody
    await sim.wait_for_call_end(played.call_id)
    answered = utcnow() - timedelta(hours=1, seconds=20)
    call_id = await _row(
        platform, partner.id, connection, provider,
        status="in_progress", provider_call_id=played.far_end.call_uuid,  # type: ignore[union-attr]
        answered_at=answered, started_at=answered,
    )
    assert await Reconciler(platform).run_once() == 1
    call, trail = await _get(platform, call_id)
    assert (call.status, call.disposition) == ("completed", "completed")
    assert call.hangup_cause == "Normal Hangup"  # the record's hangup_cause_name
    assert ("ended", "reconciler") in trail
    assert "no record" not in (call.end_reason or "")
    assert await Reconciler(platform).run_once() == 0  # settled once


async def test_a_call_ringing_for_minutes_is_never_closed_while_it_rings(
    platform, partner, carrier, sim, answer_server
):
    provider, connection = carrier
    played = await _placed(platform, sim, provider, Scenario.slow_answer(600), answer_server)
    await _until_ringing(played)
    # Ringing as far as the row knows, nothing heard for an hour: the carrier still rings it.
    call_id = await _row(
        platform, partner.id, connection, provider,
        status="ringing", provider_call_id=played.far_end.call_uuid,  # type: ignore[union-attr]
        started_at=utcnow() - timedelta(minutes=9),
    )
    assert await Reconciler(platform).run_once() == 0  # left ringing: not closed, not hung up
    call, trail = await _get(platform, call_id)
    assert call.status == "ringing" and not call.end_reason
    assert [kind for kind, source in trail if source == "reconciler"] == []
    assert not played.ended.is_set()
    # Past the longest ring any carrier allows (Twilio's 600 s), it is hung up; its end then
    # comes from the carrier's record, the CDR's 1000 "Canceled".
    async with platform.sessions() as session:
        await session.execute(
            update(Call).where(Call.id == call_id).values(started_at=utcnow() - timedelta(seconds=RING_MAX_SECS + 1))
        )
        await session.commit()
    await _backdate(platform, call_id)
    assert await Reconciler(platform).run_once() == 1
    call, trail = await _get(platform, call_id)
    assert call.status == "ringing" and "no record" not in (call.end_reason or "")
    assert ("carrier_has_no_record", "reconciler") not in trail
    assert ("reconciler_hangup", "reconciler") in trail
    await sim.wait_for_call_end(played.call_id)
    await _backdate(platform, call_id)  # the hang-up callback was lost too
    assert await Reconciler(platform).run_once() == 1
    call, _ = await _get(platform, call_id)
    assert (call.status, call.hangup_cause) == ("canceled", "Canceled")


async def _until_answered(played: SimCall) -> None:
    await _until(lambda: played.answered_at is not None)


async def _until_ringing(played: SimCall) -> None:
    await _until(lambda: played.status == "ringing")


async def _until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
