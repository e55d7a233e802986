"""The reconciler against the store (SQLite and PostgreSQL) and Twilio as the simulator plays it:
calls nothing has touched for longer than the bound are settled with the carrier's word.

Calls are placed on the simulator through our Twilio adapter (their callbacks go to a closed port,
as if the platform were down); the call rows are written as the platform had left them.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from callwright.carriers import endpoints_from_settings, get_carrier
from callwright.carriers.base import Account
from callwright.domain.providers import Provider
from callwright.domain.reconcile import MEDIA_LOST, NEVER_CONFIRMED, RING_MAX_SECS
from callwright.services.reconciler import Reconciler
from callwright.sim import CarrierSimulator, Scenario
from callwright.store.models import Call, CallEventRow, WebhookEvent, utcnow
from tests.carriers.call_path_support import dial_request
from tests.connection_rows import add_call, add_connection

SID = "AC" + "c" * 32
TOKEN = "reconcile-token-0123456789"
ACCOUNT = Account({"account_sid": SID, "from_number": "+14155550100"}, {"auth_token": TOKEN})
_numbers = iter(range(10_000, 99_999))


@pytest.fixture
def settings(settings, sim):
    urls = sim.api_urls()
    return settings.model_copy(update={"twilio_api_url": urls["twilio"], "carrier_timeout_secs": 3.0})


@pytest.fixture
async def connection(platform, partner, sim):  # type: ignore[no-untyped-def]
    sim.add_account("twilio", account_sid=SID, auth_token=TOKEN)
    return await add_connection(platform, partner.id, "twilio", dict(ACCOUNT.identifiers), dict(ACCOUNT.secrets))


async def _placed(platform, sim: CarrierSimulator, scenario: Scenario) -> str:  # type: ignore[no-untyped-def]
    """A call placed on the simulated Twilio; its callbacks reach nobody. Returns its sid."""
    number = f"+1415557{next(_numbers) % 10_000:04d}"
    sim.set_scenario(number, scenario)
    base = "http://127.0.0.1:9/telephony/twilio/c1"
    dial = dial_request("twilio", to=number, answer_url=f"{base}/answer", status_url=f"{base}/status")
    async with httpx.AsyncClient() as http:
        placed = await get_carrier(Provider.TWILIO).place_call(
            dial, ACCOUNT, http=http, endpoints=endpoints_from_settings(platform.settings)
        )
    return placed.provider_call_id


async def _row(platform, partner_id: str, connection_id: str, **fields) -> str:  # type: ignore[no-untyped-def]
    """A call as the platform left it, last touched an hour ago."""
    call_id = await add_call(
        platform,
        partner_id,
        provider="twilio",
        connection_id=connection_id,
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


async def _ended(sim: CarrierSimulator, sid: str) -> None:
    await sim.wait_for_call_end(sid, timeout=15)


async def test_a_call_whose_server_died_is_closed_as_media_lost_with_the_carriers_outcome(
    platform, partner, connection, sim
):
    sid = await _placed(platform, sim, Scenario.caller_hangs_up_after(0.5, ring_secs=0.1))
    await _ended(sim, sid)
    answered = utcnow() - timedelta(hours=1, seconds=20)
    call_id = await _row(
        platform, partner.id, connection, status="in_progress", provider_call_id=sid,
        answered_at=answered, started_at=answered, media_started_at=answered,
        media_socket_id="socket-of-the-dead-process",
    )
    assert await Reconciler(platform).run_once() == 1
    call, trail = await _get(platform, call_id)
    assert (call.status, call.disposition, call.end_reason) == ("completed", "completed", MEDIA_LOST)
    assert call.media_socket_id is None  # the dead process's claim on the stream is gone
    assert call.hangup_cause  # the carrier's own words are kept
    assert call.media_ended_at is not None  # so its session.completed webhook can go out
    assert ("ended", "reconciler") in trail
    assert await Reconciler(platform).run_once() == 0  # settled once


async def test_an_ended_call_whose_media_died_with_its_server_completes_its_session(
    platform, partner, connection, sim
):
    """The carrier's hang-up got in just before the server carrying the stream was killed: the
    call is terminal, its media never stored its end, and its session.completed waited forever."""
    answered = utcnow() - timedelta(hours=1, seconds=20)
    call_id = await _row(
        platform, partner.id, connection, status="completed", disposition="completed",
        provider_call_id="CA" + "1" * 32, answered_at=answered, started_at=answered,
        ended_at=answered + timedelta(seconds=5), media_started_at=answered,
        media_socket_id="socket-of-the-dead-process",
    )
    carried_here = await _row(
        platform, partner.id, connection, status="completed", disposition="completed",
        provider_call_id="CA" + "2" * 32, answered_at=answered, media_started_at=answered,
    )
    platform.media_sessions[carried_here] = object()  # its stream is still closing on this node
    try:
        assert await Reconciler(platform).run_once() == 1
    finally:
        platform.media_sessions.pop(carried_here)
    call, trail = await _get(platform, call_id)
    assert call.media_ended_at is not None and call.media_socket_id is None
    assert call.session_completed_at is not None  # session.completed written, once
    assert ("media_lost", "reconciler") in trail
    # No end reason of ours was stored (the node died first): the reason says the stream was lost.
    assert call.end_reason == MEDIA_LOST
    async with platform.sessions() as session:
        events = await session.scalars(select(WebhookEvent.type).where(WebhookEvent.call_id == call_id))
        assert list(events).count("session.completed") == 1
    assert (await _get(platform, carried_here))[0].session_completed_at is None
    assert await Reconciler(platform).run_once() == 0


async def test_a_call_the_carrier_still_rings_is_hung_up_then_closed(platform, partner, connection, sim):
    sid = await _placed(platform, sim, Scenario.slow_answer(120))
    rang_since = utcnow() - timedelta(seconds=RING_MAX_SECS + 1)  # longer than any carrier rings
    call_id = await _row(
        platform, partner.id, connection, status="ringing", provider_call_id=sid, started_at=rang_since
    )
    reconciler = Reconciler(platform)
    assert await reconciler.run_once() == 1
    await _ended(sim, sid)  # the reconciler hung it up at the carrier
    call, trail = await _get(platform, call_id)
    assert call.status == "ringing"  # its end comes from the carrier's callback or the next look
    assert "Callwright hung it up" in call.end_reason
    assert ("reconciler_hangup", "reconciler") in trail
    assert await reconciler.run_once() == 0  # just touched: not silent any more
    await _backdate(platform, call_id)  # no hang-up callback ever came
    assert await reconciler.run_once() == 1
    call, _ = await _get(platform, call_id)
    assert (call.status, call.disposition) == ("canceled", "canceled")
    assert "Callwright hung it up" in call.end_reason


async def test_a_call_heard_from_while_the_carrier_is_asked_is_left_for_a_fresh_look(
    platform, partner, connection, sim
):
    # The reconciler finds the call silent; before it acts (it asks Twilio first, which takes a
    # while), the call is heard from: a callback, a heartbeat, a stream's end that waited out an
    # outage. What it does must follow the call as it now is: nothing, until it looks again.
    # Its pass is taken in its two steps, the look and the action, to put the write between.
    sid = await _placed(platform, sim, Scenario.slow_answer(120))
    rang_since = utcnow() - timedelta(seconds=RING_MAX_SECS + 1)
    call_id = await _row(
        platform, partner.id, connection, status="ringing", provider_call_id=sid, started_at=rang_since
    )
    reconciler = Reconciler(platform)
    ((looked_at, watch, carrier),) = await reconciler._lost_calls()
    assert looked_at == call_id
    async with platform.sessions() as session:  # any write to the call moves its updated_at
        await session.execute(update(Call).where(Call.id == call_id).values(hangup_cause=None))
        await session.commit()
    assert await reconciler._settle(call_id, watch, carrier) == 0
    call, trail = await _get(platform, call_id)
    assert (call.status, call.end_reason) == ("ringing", None)
    assert ("reconciler_hangup", "reconciler") not in trail
    assert not sim.call(sid).ended.is_set()
    # A later look, with the call silent again, does what the first one would have.
    await _backdate(platform, call_id)
    assert await reconciler.run_once() == 1
    await _ended(sim, sid)
    assert "Callwright hung it up" in (await _get(platform, call_id))[0].end_reason


async def test_a_call_the_carrier_has_no_record_of_is_closed_saying_so(platform, partner, connection, sim):
    call_id = await _row(platform, partner.id, connection, status="ringing", provider_call_id="CA" + "0" * 32)
    assert await Reconciler(platform).run_once() == 1
    call, trail = await _get(platform, call_id)
    assert (call.status, call.disposition) == ("failed", "failed")
    assert "Twilio has no record of this call" in call.end_reason
    assert ("carrier_has_no_record", "reconciler") in trail


async def test_an_unconfirmed_dial_nothing_was_heard_of_is_closed_and_never_redialled(
    platform, partner, connection, sim
):
    sim.clear_requests()
    call_id = await _row(platform, partner.id, connection, dial_state="unconfirmed")
    assert await Reconciler(platform).run_once() == 1
    call, trail = await _get(platform, call_id)
    assert (call.status, call.dial_state, call.end_reason) == ("failed", "failed", NEVER_CONFIRMED)
    assert ("never_confirmed", "reconciler") in trail
    assert sim.requests("twilio") == []  # nothing asked, nothing dialled


async def test_calls_carried_here_are_heartbeated_and_never_touched(platform, partner, connection, sim):
    sid = await _placed(platform, sim, Scenario.slow_answer(120))
    call_id = await _row(
        platform, partner.id, connection, status="in_progress", provider_call_id=sid,
        media_started_at=utcnow(),
    )
    platform.media_sessions[call_id] = object()  # its media session runs on this node
    try:
        assert await Reconciler(platform).run_once() == 0
        call, _ = await _get(platform, call_id)
        assert call.status == "in_progress" and utcnow() - call.updated_at < timedelta(minutes=1)
    finally:
        platform.media_sessions.pop(call_id)
        sim.caller_hangs_up(sid)


async def test_a_call_touched_recently_is_left_to_its_callbacks(platform, partner, connection, sim):
    sid = await _placed(platform, sim, Scenario.slow_answer(120))
    call_id = await _row(platform, partner.id, connection, status="ringing", provider_call_id=sid)
    async with platform.sessions() as session:
        await session.execute(update(Call).where(Call.id == call_id).values(updated_at=utcnow()))
        await session.commit()
    assert await Reconciler(platform).run_once() == 0
    assert not sim.call(sid).ended.is_set()
    sim.caller_hangs_up(sid)


async def test_while_the_carrier_is_down_the_call_waits_for_the_next_pass(platform, partner, connection, sim):
    sid = await _placed(platform, sim, Scenario.busy(ring_secs=0.1))
    await _ended(sim, sid)
    call_id = await _row(platform, partner.id, connection, status="ringing", provider_call_id=sid)
    sim.inject_fault("twilio", status=503, count=1)
    assert await Reconciler(platform).run_once() == 0
    assert (await _get(platform, call_id))[0].status == "ringing"
    assert await Reconciler(platform).run_once() == 1
    call, _ = await _get(platform, call_id)
    assert (call.status, call.disposition, call.end_reason) == ("busy", "busy", "busy")


async def test_the_reconciler_runs_from_start_up_until_stopped(platform, partner, connection, sim):
    call_id = await _row(platform, partner.id, connection, dial_state="unconfirmed")
    reconciler = Reconciler(platform)
    reconciler.start()
    try:
        deadline = time.monotonic() + 10
        while (await _get(platform, call_id))[0].status != "failed":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await reconciler.stop()


# --- MCube: no status API, and a connected call never reaches us while it runs ------------------

MCUBE_IDS = {"exe_number": "9876500001"}


async def _mcube_dial_cut_by_a_crash(platform, partner_id: str) -> str:  # type: ignore[no-untyped-def]
    """An MCube call whose dial request was in flight when the platform died: ``dialing`` under
    a lease long expired, no carrier id, no word from MCube."""
    connection = await add_connection(platform, partner_id, "mcube", MCUBE_IDS, {"jwt_token": "mcube-jwt"})
    return await add_call(
        platform,
        partner_id,
        provider="mcube",
        connection_id=connection,
        from_number="+919876500001",
        to_number="+919812345678",
        dial_state="dialing",
        dial_lease_until=utcnow() - timedelta(hours=1),
    )


async def test_an_mcube_dial_cut_by_a_crash_stays_unconfirmed_until_mcube_reports(platform, partner, client):
    call_id = await _mcube_dial_cut_by_a_crash(platform, partner.id)
    reconciler = Reconciler(platform)
    await reconciler.run_once()  # the restarted platform finds the dial it lost
    call, _ = await _get(platform, call_id)
    assert (call.status, call.dial_state) == ("pending", "unconfirmed")
    # The bound's end is on the call from the start: when it will be settled without MCube.
    assert call.end_reason.startswith("outcome unknown: MCube has no status API")
    assert "settled by the time bound at" in call.end_reason

    await _backdate(platform, call_id)  # an hour without a word: MCube may well be connected
    assert await reconciler.run_once() == 0
    call, trail = await _get(platform, call_id)
    assert (call.status, call.dial_state) == ("pending", "unconfirmed")
    assert ("never_confirmed", "reconciler") not in trail

    # MCube's webhook: the call was connected all along, and the carrier's word settles it.
    from callwright.domain.call_tokens import TokenPurpose, call_token

    token = call_token(platform.token_keys[0], call_id, TokenPurpose.CALLBACK)
    webhook = {
        "callid": "mc-4411",
        "refid": call_id,
        "starttime": "2026-03-01 10:00:00",
        "answeredtime": "2026-03-01 10:00:20",
        "endtime": "2026-03-01 10:09:20",
        "dialstatus": "ANSWER",
        "disconnectedby": "Customer",
        "direction": "outbound",
    }
    response = await client.post(f"/telephony/mcube/{call_id}/status?token={token}", json=webhook)
    assert response.status_code == 200, response.text
    call, _ = await _get(platform, call_id)
    assert (call.status, call.disposition, call.provider_call_id) == ("completed", "completed", "mc-4411")
    # MCube's own words, not the note that the outcome was unknown.
    assert "disconnected by Customer" in call.end_reason and "outcome unknown" not in call.end_reason
    assert call.duration_seconds == 540


async def test_an_unconfirmed_mcube_call_is_settled_by_the_time_bound_it_states(platform, partner):
    call_id = await _mcube_dial_cut_by_a_crash(platform, partner.id)
    reconciler = Reconciler(platform)
    await reconciler.run_once()
    call, _ = await _get(platform, call_id)
    stated = call.end_reason
    async with platform.sessions() as session:  # longer than any MCube call can last
        await session.execute(
            update(Call).where(Call.id == call_id).values(updated_at=utcnow() - timedelta(hours=5))
        )
        await session.commit()
    assert await reconciler.run_once() == 1
    call, trail = await _get(platform, call_id)
    assert (call.status, call.dial_state) == ("failed", "failed")
    assert call.end_reason.startswith("outcome unknown: MCube has no status API")
    assert "settled by the time bound at" in call.end_reason and call.end_reason != stated
    assert ("outcome_unknown", "reconciler") in trail
