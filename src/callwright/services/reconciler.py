"""The reconciler: finds calls the platform lost track of and closes them with the carrier's word.

A call is lost track of when it is not terminal and nothing has touched it for
``reconcile_after_secs``: no carrier callback, no media event, no media heartbeat. That happens
when a server dies mid-call (its media socket is gone and the carrier's hang-up callback found
nobody), when a callback is lost, or when a dial's outcome is unknown (see ``services.dialer``).
For each such call the reconciler asks the carrier (``Carrier.fetch_call_state``) and applies
what it says through the call state machine, recording it with source ``reconciler``; a call the
carrier still rings is left to ring (up to ``domain.reconcile.RING_MAX_SECS``, the longest ring
any carrier allows); one it holds otherwise while no media session of ours carries it is hung up. Calls it cannot ask
about are closed by the time bound in ``domain.reconcile``, with an end reason saying so. Calls
already ended whose media stream died with its server before storing its end get that end (their
last sign of life), so their ``session.completed`` and campaign outcome are written.

Every node heartbeats the calls whose media it carries (their ``updated_at``) on each pass, so a
live call on another node never looks lost: run the workers on every node that serves media, and
keep ``reconcile_after_secs`` at least twice ``reconcile_interval_secs`` (settings enforce it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, select, update

from callwright.carriers import get_carrier
from callwright.carriers.base import Account, Carrier, CarrierCallState, NotSupported
from callwright.domain import reconcile
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.calls import ACTIVE_STATUSES, CallStatus
from callwright.domain.dialing import HANDED_OVER, DialState, dial_move
from callwright.domain.errors import CallwrightError
from callwright.domain.providers import Provider
from callwright.domain.reconcile import Attention, CallWatch
from callwright.services import callback_nonces
from callwright.services.call_state import (
    apply_events,
    explain_missing_media,
    lock_call,
    record_event,
    set_state,
    state_of,
)
from callwright.services.carrier_accounts import account_for_call
from callwright.services.dialer import recover_expired_leases
from callwright.services.webhook_outbox import call_changed
from callwright.store.db import store_unreachable
from callwright.store.models import Call, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from callwright.platform import Platform

log = logging.getLogger("callwright.reconciler")

BATCH = 100
_ACTIVE = [status.value for status in ACTIVE_STATUSES]


class Reconciler:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.interval_secs = platform.settings.reconcile_interval_secs
        self.silent_secs = platform.settings.reconcile_after_secs
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # After a pass failed on an unreachable store: no call is judged silent until the store
        # has been back for ``silent_secs`` (monotonic time), so every node heartbeats first.
        self._store_was_down = False
        self._judge_from = 0.0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="callwright-reconciler")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # the loop must survive a store or carrier hiccup
                if store_unreachable(exc):
                    log.warning("reconciler pass failed: the database cannot be reached (%s)", type(exc).__name__)
                else:
                    log.exception("reconciler pass failed")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_secs)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """One pass: heartbeat our media, recover dial leases, settle every lost call. Returns how
        many calls it settled or acted on."""
        try:
            return await self._pass()
        except Exception as exc:
            if store_unreachable(exc):
                self._store_was_down = True
            raise

    async def _pass(self) -> int:
        await self.heartbeat()
        if self._store_was_down:
            # While the store was down no node could heartbeat its calls: every live call looks
            # silent. Judge none until every node has had two passes to heartbeat again.
            self._store_was_down = False
            self._judge_from = time.monotonic() + self.silent_secs
            log.info("database reachable again: judging silent calls %.0f s from now", self.silent_secs)
        if time.monotonic() < self._judge_from:
            return 0
        await recover_expired_leases(
            self.platform.sessions, silent_secs=self.platform.settings.reconcile_after_secs
        )
        await callback_nonces.forget_expired(platform=self.platform)
        acted = await self._close_orphaned_media()
        for call_id, watch, carrier in await self._lost_calls():
            try:
                acted += await self._settle(call_id, watch, carrier)
            except CallwrightError as exc:  # carrier unreachable, connection gone: next pass
                log.warning("call %s: could not reconcile yet: %s", call_id, exc.message)
        return acted

    async def heartbeat(self) -> None:
        """Mark the calls this node answers for as alive: the media it carries, and the ends it is
        still storing (a write waiting out an outage)."""
        ids = sorted(self.platform.calls_answered_for())
        if not ids:
            return
        async with self.platform.sessions() as session:
            await session.execute(update(Call).where(Call.id.in_(ids)).values(updated_at=utcnow()))
            await session.commit()

    async def _lost_calls(self) -> list[tuple[str, CallWatch, Carrier]]:
        now = utcnow()
        quiet_since = now - timedelta(seconds=self.silent_secs)
        async with self.platform.sessions() as session:
            rows = await session.scalars(
                select(Call)
                .where(
                    Call.status.in_(_ACTIVE),
                    Call.dial_state.in_(HANDED_OVER),
                    Call.updated_at < quiet_since,
                )
                .order_by(Call.updated_at)
                .limit(BATCH)
            )
            calls = list(rows)
        lost = []
        for call in calls:
            carrier = get_carrier(Provider(call.provider))
            watch = self._watch(call, carrier)
            if reconcile.needs_attention(watch, now=now, silent_secs=self.silent_secs) is not None:
                lost.append((call.id, watch, carrier))
        return lost

    async def _close_orphaned_media(self) -> int:
        """Ended calls whose media stream died with its server before storing its end.

        The carrier's hang-up reached us (the call is terminal) but the process carrying the
        stream was killed, so nothing ever wrote ``media_ended_at`` and the call's
        ``session.completed`` (and a campaign call's outcome) waited for it forever. A stream alive
        on any node is heartbeated (``updated_at``), so one silent this long is gone: it ended by
        the call's last sign of life, and the session completes now."""
        quiet_since = utcnow() - timedelta(seconds=self.silent_secs)
        async with self.platform.sessions() as session:
            ids = list(
                await session.scalars(
                    select(Call.id)
                    .where(
                        Call.status.not_in(_ACTIVE),
                        Call.session_completed_at.is_(None),
                        Call.media_started_at.is_not(None),
                        Call.media_ended_at.is_(None),
                        Call.updated_at < quiet_since,
                    )
                    .order_by(Call.updated_at)
                    .limit(BATCH)
                )
            )
        closed = 0
        for call_id in ids:
            if self.platform.answers_for(call_id):
                continue
            async with self.platform.sessions() as session:
                # Claimed in one conditional write (it also takes the row's lock), so a stream
                # that reports its end, or a heartbeat, in the meantime wins and nothing happens.
                claimed = await session.execute(
                    update(Call)
                    .where(
                        Call.id == call_id,
                        Call.media_ended_at.is_(None),
                        Call.session_completed_at.is_(None),
                        Call.updated_at < quiet_since,
                    )
                    .values(media_ended_at=Call.updated_at, media_socket_id=None)
                )
                call = await lock_call(session, call_id) if cast(CursorResult[Any], claimed).rowcount == 1 else None
                if call is None:
                    await session.rollback()
                    continue
                call.end_reason = reconcile.reason_for_orphaned_media(call.end_reason)
                record_event(
                    session, call, kind="media_lost", source="reconciler", before=call.status,
                    payload={"reason": "the server carrying the media stream stopped"},
                )
                call_changed(session, call, status_before=call.status)
                await session.commit()
            closed += 1
            log.info("call %s: its media stream died with its server; session completed", call_id)
        return closed

    def _watch(self, call: Call, carrier: Carrier) -> CallWatch:
        max_secs = AgentSpec.parse(call.agent).max_call_duration_secs
        return CallWatch(
            status=CallStatus(call.status),
            dial_state=DialState(call.dial_state),
            provider_call_id=call.provider_call_id,
            last_activity=call.updated_at,
            media_started=call.media_started_at is not None,
            media_ended=call.media_ended_at is not None,
            media_on_this_node=self.platform.answers_for(call.id),
            carrier_has_status_api=carrier.offers_call_status,
            max_call_duration_secs=int(max_secs) if max_secs else None,
            connected_call_reaches_us=carrier.has_media_stream,
        )

    async def _settle(self, call_id: str, watch: CallWatch, carrier: Carrier) -> int:
        attention = reconcile.needs_attention(watch, now=utcnow(), silent_secs=self.silent_secs)
        if attention is Attention.ASK_CARRIER:
            return await self._ask_carrier(call_id, watch, carrier)
        if attention is Attention.NEVER_CONFIRMED:
            reason = reconcile.NEVER_CONFIRMED
        elif attention is Attention.OUTCOME_UNKNOWN:
            settled_at = reconcile.bound_end(watch, self.silent_secs)
            reason = reconcile.outcome_unknown_reason(carrier.display_name, settled_at)
        else:
            reason = reconcile.reason_for_unaskable(watch, carrier.display_name, self.silent_secs)
        return await self._close_untracked(call_id, watch, reason, kind=str(attention))

    async def _ask_carrier(self, call_id: str, watch: CallWatch, carrier: Carrier) -> int:
        platform = self.platform
        async with platform.sessions() as session:
            call = await session.get(Call, call_id)
            assert call is not None
            account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
        try:
            fetched = await carrier.fetch_call_state(
                watch.provider_call_id or "",
                account,
                http=platform.http,
                endpoints=platform.endpoints,
                at=utcnow(),
            )
        except NotSupported:
            fetched = None
        if fetched is None:
            reason = reconcile.reason_for_unknown(watch, carrier.display_name)
            return await self._close_untracked(call_id, watch, reason, kind="carrier_has_no_record")
        if fetched.live:
            if await self._left_ringing(call_id, watch, fetched):
                return 0
            return await self._hang_up_live(call_id, watch, carrier, fetched, account)
        return await self._apply_ended(call_id, watch, carrier, fetched)

    async def _apply_ended(
        self, call_id: str, watch: CallWatch, carrier: Carrier, fetched: CarrierCallState
    ) -> int:
        async with self.platform.sessions() as session:
            call = await lock_call(session, call_id)
            if call is None or CallStatus(call.status).is_terminal:
                await session.commit()
                return 0
            # Judged on the row as it is under the lock, not as it was at our first look: the
            # stream's end may have been stored since (a write that waited out an outage).
            watch = self._watch(call, carrier)
            ours = reconcile.reason_for_ended(watch)
            if ours and not call.end_reason:
                call.end_reason = ours
            _record_media_gone(call, watch)
            applied = apply_events(
                session, call, fetched.events, source="reconciler", payload=_payload(fetched)
            )
            if applied and CallStatus(call.status).is_terminal and not watch.media_lost:
                explain_missing_media(call, carrier.display_name)
            await session.commit()
        log.info("call %s: closed by the reconciler as %s (%s)", call_id, call.status, call.end_reason)
        return 1

    async def _left_ringing(self, call_id: str, watch: CallWatch, fetched: CarrierCallState) -> bool:
        """A call the carrier still rings is not lost: note the carrier's word (which also marks
        the call heard from, so it is asked again only after another quiet spell) and leave it."""
        async with self.platform.sessions() as session:
            call = await session.get(Call, call_id)
            if call is None:
                return True
            rang_since = call.started_at or call.dial_not_before
            if not reconcile.left_ringing(watch, fetched.events, rang_since=rang_since, now=utcnow()):
                return False
            call = await lock_call(session, call_id)
            if call is not None and fetched.events and not CallStatus(call.status).is_terminal:
                apply_events(session, call, fetched.events, source="reconciler", payload=_payload(fetched))
            await session.commit()
        log.info("call %s: the carrier still rings it; left ringing", call_id)
        return True

    async def _hang_up_live(
        self,
        call_id: str,
        watch: CallWatch,
        carrier: Carrier,
        fetched: CarrierCallState,
        account: Account,
    ) -> int:
        reason = reconcile.reason_for_hangup(watch, carrier.display_name, self.silent_secs)
        async with self.platform.sessions() as session:
            call = await _claim_as_seen(session, call_id, watch)
            if (
                call is None
                or CallStatus(call.status).is_terminal
                or self.platform.answers_for(call.id)
            ):
                await session.commit()
                return 0
            _record_media_gone(call, watch)
            # The carrier's progress first (a call we thought ringing may be answered); the
            # carrier's hang-up callback, or the next pass, then closes it with its duration.
            apply_events(session, call, fetched.events, source="reconciler", payload=_payload(fetched))
            first_time = not call.end_reason
            call.end_reason = call.end_reason or reason
            if first_time:
                record_event(
                    session,
                    call,
                    kind="reconciler_hangup",
                    source="reconciler",
                    before=call.status,
                    payload={"reason": reason},
                )
            provider_call_id = call.provider_call_id or watch.provider_call_id or ""
            await session.commit()
        try:
            await carrier.hangup(
                provider_call_id, account, http=self.platform.http, endpoints=self.platform.endpoints
            )
        except NotSupported:
            log.warning(
                "call %s: %s still holds it and cannot be told to hang up; its time limit ends it",
                call_id,
                carrier.display_name,
            )
        log.info("call %s: hung up by the reconciler (%s)", call_id, reason)
        return 1

    async def _close_untracked(self, call_id: str, watch: CallWatch, reason: str, *, kind: str) -> int:
        async with self.platform.sessions() as session:
            call = await _claim_as_seen(session, call_id, watch)
            if call is None or self.platform.answers_for(call.id):
                await session.commit()
                return 0
            _record_media_gone(call, watch)
            at = _at_or_after(watch.last_activity, call)
            new = reconcile.close_untracked(state_of(call), at=at, reason=reason)
            if new is not None:
                set_state(session, call, new, kind=kind, source="reconciler", payload={"reason": reason})
            if new is not None and call.dial_state == DialState.UNCONFIRMED:
                call.dial_state = dial_move(call.dial_state, DialState.FAILED)
            await session.commit()
        log.info("call %s: closed by the reconciler: %s", call_id, reason)
        return 1


async def _claim_as_seen(session: AsyncSession, call_id: str, watch: CallWatch) -> Call | None:
    """The call, locked, if nothing has written to it since ``watch`` was taken (every write moves
    ``updated_at``), so what the reconciler does, and the reason it records, follow what it
    judged. None if a heartbeat, a callback or a stream's end (one that waited out an outage)
    came in between: the call showed life, and a later pass looks at it afresh. Claimed in one
    conditional write, which also takes the row's lock (SQLite's write lock)."""
    claimed = await session.execute(
        update(Call)
        .where(Call.id == call_id, Call.updated_at == watch.last_activity)
        .values(updated_at=utcnow())
    )
    if cast(CursorResult[Any], claimed).rowcount != 1:
        return None
    return await session.scalar(
        select(Call).where(Call.id == call_id).with_for_update().execution_options(populate_existing=True)
    )


def _record_media_gone(call: Call, watch: CallWatch) -> None:
    """A lost media session never stored its end: it ended by the call's last sign of life. With
    that on record the call's ``session.completed`` webhook goes out once it is terminal."""
    if watch.media_lost and call.media_ended_at is None:
        call.media_ended_at = max(watch.last_activity, call.media_started_at or watch.last_activity)
    if watch.media_lost:
        call.media_socket_id = None  # the claim of a process that died with the stream


def _at_or_after(last_activity: datetime, call: Call) -> datetime:
    """The call's end time: its last sign of life, never before it was answered."""
    answered = call.answered_at
    return max(last_activity, answered) if answered is not None else last_activity


def _payload(fetched: CarrierCallState) -> dict[str, object]:
    return {"carrier_call_state": dict(fetched.raw)}
