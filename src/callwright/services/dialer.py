"""The dialer: takes queued calls from the store and asks each partner's carrier to dial them.

Queue states on ``calls.dial_state`` and the moves between them: ``domain.dialing``.

A call is marked ``dialing`` (and committed) just before the HTTP request leaves. After a crash a
``claimed`` call is safely queued again, but a ``dialing`` one may already be ringing somewhere:
it is never dialled again. Only refusals the carrier guarantees it did not act on (connection
never made, 429, 503) are retried. A dial whose outcome is unknown — the carrier did not answer in
time, dropped the connection, accepted without naming the call, or we crashed mid-request — is
``unconfirmed``: the call stays pending, the carrier's own callbacks (which carry our call id in
their URL) take it on if it was placed, and the reconciler closes it if none ever comes.

Requests to one carrier account leave at least 1/CPS apart (the connection's CPS, or the carrier's
default), measured from when each one actually left, so a stalled loop never bunches them; only
calls that can leave within ``MAX_PACING_WAIT`` are claimed, so no claim outlives its lease. The
pacing lives in this process: with several nodes, give each connection
a CPS divided by the node count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sqlalchemy import CursorResult, select, update

from callwright.carriers import get_carrier
from callwright.carriers.base import Account, CallbackKind, Carrier, CarrierUnavailable, DialRequest
from callwright.domain import reconcile
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.calls import CallEvent, CallStatus, EventKind, cancel, fail
from callwright.domain.dialing import DialState, dial_move
from callwright.domain.errors import CallwrightError
from callwright.domain.pacing import SendSpacing
from callwright.domain.providers import Provider
from callwright.domain.suppression import SUPPRESSED_END_REASON
from callwright.log_context import call_context
from callwright.metrics import DIAL_ERRORS, DIALS
from callwright.services import mcube_bridge
from callwright.services.call_state import apply_events, lock_call, record_event, set_state, state_of
from callwright.services.call_urls import callback_url, stream_url_with_token
from callwright.services.carrier_accounts import account_of, pacing_key
from callwright.services.media_events import prepare_intro
from callwright.services.suppression import is_suppressed
from callwright.store.models import Call, TelephonyConnection, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from callwright.platform import Platform
    from callwright.settings import Settings

log = logging.getLogger("callwright.dialer")

MAX_ATTEMPTS = 5
# Dials are spaced a little wider than 1/CPS: the carrier counts arrivals, and network jitter can
# bring two requests closer together on its side than they left ours.
PACING_MARGIN = 0.1
# And at most CPS of them leave in any window this long: a second plus how much later than its
# successor one request may reach the carrier (held up on its way out by a busy event loop).
BURST_WINDOW_SECS = 1.2
CLAIM_LEASE = timedelta(seconds=60)
# Claim a call only if its account's pacing lets it leave within this long.
MAX_PACING_WAIT = timedelta(seconds=10)
# A dial in flight may take up to the carrier timeout; past it plus this, its sender is gone.
DIAL_LEASE_MARGIN = timedelta(seconds=10)
CLAIM_BATCH = 100


def retry_delay_secs(attempt: int, retry_after: float | None) -> float:
    """Exponential back-off (1, 2, 4, 8 … s, at most 30), or the carrier's own Retry-After."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), 300.0)
    return float(min(30, 2 ** max(0, attempt - 1)))


class _ReadyDial(NamedTuple):
    carrier: Carrier
    account: Account
    request: DialRequest
    attempt: int
    provider: Provider


class _AccountPacer:
    """One carrier account's send spacing, and how many claimed calls wait for it."""

    def __init__(self, interval: float) -> None:
        self.spacing = SendSpacing(interval)
        self.lock = asyncio.Lock()
        self.waiting = 0

    def expected_wait(self, extra: int = 0) -> float:
        return (self.waiting + extra) * self.spacing.interval


class Dialer:
    def __init__(self, platform: Platform, *, poll_interval_secs: float = 0.5) -> None:
        self.platform = platform
        self.poll_interval_secs = poll_interval_secs
        self._pacers: dict[str, _AccountPacer] = {}
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="callwright-dialer")

    async def stop(self) -> None:
        self._stopping.set()
        self.platform.dial_wakeup.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)

    async def _run(self) -> None:
        await self.recover_expired_leases()
        last_sweep = time.monotonic()
        while not self._stopping.is_set():
            try:
                await self.dial_due()
                if time.monotonic() - last_sweep > 30:
                    await self.recover_expired_leases()
                    last_sweep = time.monotonic()
            except Exception:  # the loop must survive a store hiccup; the next pass retries
                log.exception("dialer pass failed")
            wakeup = self.platform.dial_wakeup
            try:
                await asyncio.wait_for(wakeup.wait(), timeout=self.poll_interval_secs)
            except TimeoutError:
                pass
            wakeup.clear()

    async def dial_due(self) -> int:
        """Claim the due calls that can leave soon and start their paced dials."""
        claimed = await self._claim_due()
        for call_id, pacer in claimed:
            pacer.waiting += 1
            self._spawn(self._send_when_paced(call_id, pacer))
        return len(claimed)

    def _pacer(self, connection: TelephonyConnection) -> _AccountPacer:
        cps = connection.cps or get_carrier(Provider(connection.provider)).default_cps
        interval = (1 + PACING_MARGIN) / float(cps)
        key = pacing_key(connection)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = _AccountPacer(interval)
        pacer.spacing.interval = interval  # the operator may have changed the CPS
        pacer.spacing.burst_limit = int(cps) if cps >= 1 else 0
        pacer.spacing.burst_window = BURST_WINDOW_SECS
        return pacer

    async def _claim_due(self) -> list[tuple[str, _AccountPacer]]:
        now = utcnow()
        async with self.platform.sessions() as session:
            rows = (
                await session.execute(
                    select(Call.id, TelephonyConnection)
                    .join(TelephonyConnection, TelephonyConnection.id == Call.connection_id)
                    .where(Call.dial_state == DialState.QUEUED, Call.dial_not_before <= now)
                    .order_by(Call.dial_not_before, Call.created_at)
                    .limit(CLAIM_BATCH)
                )
            ).all()
            claimed: list[tuple[str, _AccountPacer]] = []
            in_batch: dict[int, int] = {}
            for call_id, connection in rows:
                pacer = self._pacer(connection)
                wait = pacer.expected_wait(in_batch.get(id(pacer), 0))
                if wait > MAX_PACING_WAIT.total_seconds():
                    continue  # leave it queued: a later pass claims it when it can leave soon
                result = await session.execute(
                    update(Call)
                    .where(Call.id == call_id, Call.dial_state == DialState.QUEUED)
                    .values(
                        dial_state=DialState.CLAIMED, dial_lease_until=now + MAX_PACING_WAIT + CLAIM_LEASE
                    )
                )
                if cast(CursorResult[Any], result).rowcount == 1:  # another node may have claimed it first
                    claimed.append((call_id, pacer))
                    in_batch[id(pacer)] = in_batch.get(id(pacer), 0) + 1
            await session.commit()
        return claimed

    async def _send_when_paced(self, call_id: str, pacer: _AccountPacer) -> None:
        try:
            await self.dial(call_id, pacer)
        except Exception:
            log.exception("dial of call %s failed unexpectedly", call_id)
        finally:
            pacer.waiting -= 1

    async def dial(self, call_id: str, pacer: _AccountPacer) -> None:
        async with pacer.lock:
            if (delay := pacer.spacing.delay(time.monotonic())) > 0:
                await asyncio.sleep(delay)
            ready = await self._mark_dialing(call_id)
            if ready is None:
                return
            pacer.spacing.sent(time.monotonic())
        with call_context(call_id):
            await self._place(call_id, ready)

    async def _mark_dialing(self, call_id: str) -> _ReadyDial | None:
        """Mark the call ``dialing`` (committed) just before its request leaves; None when it
        must not be dialled (canceled meanwhile, or no longer ours)."""
        platform = self.platform
        async with platform.sessions() as session:
            call = await lock_call(session, call_id)
            if call is None or call.dial_state != DialState.CLAIMED:
                await session.commit()
                return None
            if state_of(call).status.is_terminal:  # canceled while it waited
                call.dial_state = dial_move(call.dial_state, DialState.CANCELED)
                await session.commit()
                return None
            if await session.run_sync(is_suppressed, call.partner_id, call.to_number):
                self._withdraw_suppressed(session, call)  # suppressed after it was queued
                await session.commit()
                return None
            connection = await session.get(TelephonyConnection, call.connection_id)
            if connection is None:  # deleted while the call waited (the row goes SET NULL)
                self._fail(session, call, "the carrier connection was removed before the call was dialled")
                await session.commit()
                return None
            provider = Provider(call.provider)
            carrier = get_carrier(provider)
            try:
                account = account_of(connection, secretbox=platform.secretbox)
            except Exception as exc:
                log.error(
                    "call %s: %s credentials could not be read (%s)",
                    call.id, provider.display_name, type(exc).__name__,
                )
                self._fail(session, call, f"{provider.display_name} credentials could not be read")
                await session.commit()
                return None
            if provider is Provider.MCUBE:
                # MCube rings an executive number of ours first (services.mcube_bridge).
                try:
                    executive = await mcube_bridge.claim(session, call, connection)
                except mcube_bridge.PoolExhausted as exc:
                    self._fail(session, call, exc.message)
                    await session.commit()
                    return None
                if executive is not None:
                    call.from_number = executive
            request = self._dial_request(call)
            call.dial_state = dial_move(call.dial_state, DialState.DIALING)
            call.dial_attempts += 1
            call.dial_lease_until = utcnow() + dial_lease(platform.settings)
            attempt = call.dial_attempts
            await session.commit()
        return _ReadyDial(carrier, account, request, attempt, provider)

    async def _place(self, call_id: str, ready: _ReadyDial) -> None:
        platform = self.platform
        carrier, account, request, attempt, provider = ready
        DIALS.labels(provider.value).inc()
        try:
            placed = await carrier.place_call(
                request, account, http=platform.http, endpoints=platform.endpoints
            )
        except CarrierUnavailable as exc:
            if exc.retryable and attempt < MAX_ATTEMPTS:
                DIAL_ERRORS.labels(provider.value, "retried").inc()
                await self._requeue(call_id, retry_delay_secs(attempt, exc.retry_after), exc.message)
            elif exc.outcome_unknown:
                DIAL_ERRORS.labels(provider.value, "unknown").inc()
                await self._unconfirmed(call_id, exc.message)
            else:
                DIAL_ERRORS.labels(provider.value, "failed").inc()
                await self._dial_failed(call_id, exc.message, None)
            return
        except CallwrightError as exc:
            DIAL_ERRORS.labels(provider.value, "failed").inc()
            await self._dial_failed(call_id, exc.message, getattr(exc, "carrier_reason", None))
            return

        async with platform.sessions() as session:
            call = await lock_call(session, call_id)
            assert call is not None
            # Unless the reconciler closed it meanwhile (its lease lapsed while the dial hung).
            if DialState(call.dial_state).can_become(DialState.DIALED):
                call.dial_state = DialState.DIALED
            call.dial_lease_until = None
            ended_meanwhile = state_of(call).status.is_terminal
            event = CallEvent(
                EventKind.DIALED,
                at=utcnow(),
                provider_call_id=placed.provider_call_id,
                confirms_call_id=carrier.dial_id_is_call_id,
            )
            if ended_meanwhile:
                call.provider_call_id = call.provider_call_id or placed.provider_call_id
            else:
                apply_events(session, call, [event], source="dialer", payload=dict(placed.raw))
            await session.commit()
        if ended_meanwhile:  # the partner ended it while the dial request was in flight
            await self._hangup_quietly(carrier, placed.provider_call_id, account)
        elif carrier.has_media_stream:
            self._spawn(self._prepare_intro(call))
        log.info("dialed call %s via %s", call_id, provider.value)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _prepare_intro(self, call: Call) -> None:
        try:
            await prepare_intro(call, platform=self.platform)
        except Exception:  # the call still works: its greeting is then rendered live
            log.exception("could not pre-render the intro of call %s", call.id)

    def _dial_request(self, call: Call) -> DialRequest:
        settings, key = self.platform.settings, self.platform.token_keys[0]
        provider = call.provider
        max_secs = AgentSpec.parse(call.agent).max_call_duration_secs
        return DialRequest(
            call_id=call.id,
            to_number=call.to_number,
            from_number=call.from_number,
            answer_url=callback_url(settings, key, provider, call.id, CallbackKind.ANSWER),
            status_url=callback_url(settings, key, provider, call.id, CallbackKind.STATUS),
            stream_url=stream_url_with_token(settings, key, provider, call.id),
            machine_detection_url=(
                callback_url(settings, key, provider, call.id, CallbackKind.MACHINE)
                if call.machine_detection_requested
                else None
            ),
            # The carrier's own cap, a little above ours so our spoken wrap-up comes first.
            time_limit_secs=max_secs + 30 if max_secs else None,
        )

    async def _requeue(self, call_id: str, delay_secs: float, reason: str) -> None:
        async with self.platform.sessions() as session:
            await session.execute(
                update(Call)
                .where(Call.id == call_id, Call.dial_state == DialState.DIALING)
                .values(
                    dial_state=DialState.QUEUED,
                    dial_lease_until=None,
                    dial_not_before=utcnow() + timedelta(seconds=delay_secs),
                )
            )
            await session.commit()
        log.info("call %s: dial will be retried in %.1f s (%s)", call_id, delay_secs, reason)

    async def _unconfirmed(self, call_id: str, reason: str) -> None:
        log.warning("call %s: dial outcome unknown (%s); it will not be dialled again", call_id, reason)
        async with self.platform.sessions() as session:
            call = await lock_call(session, call_id)
            if call is not None and call.dial_state == DialState.DIALING:
                mark_unconfirmed(session, call, reason, silent_secs=self.platform.settings.reconcile_after_secs)
            await session.commit()

    async def _dial_failed(self, call_id: str, reason: str, carrier_words: str | None) -> None:
        log.warning("call %s: dial failed: %s", call_id, reason)
        async with self.platform.sessions() as session:
            call = await lock_call(session, call_id)
            assert call is not None
            self._fail(session, call, reason, carrier_words)
            await session.commit()

    def _withdraw_suppressed(self, session: AsyncSession, call: Call) -> None:
        call.dial_state = dial_move(call.dial_state, DialState.CANCELED)
        call.dial_lease_until = None
        new = cancel(state_of(call), at=utcnow(), reason=SUPPRESSED_END_REASON)
        if new is not None:
            set_state(session, call, new, kind="canceled", source="dialer", payload={"reason": "number_suppressed"})
        log.info("call %s not dialled: its number is on the suppression list", call.id)

    def _fail(self, session, call: Call, reason: str, carrier_words: str | None = None) -> None:
        if DialState(call.dial_state).can_become(DialState.FAILED):  # else settled meanwhile
            call.dial_state = DialState.FAILED
        call.dial_lease_until = None
        new = fail(state_of(call), at=utcnow(), reason=reason, hangup_cause=carrier_words)
        if new is not None:
            set_state(session, call, new, kind="dial_failed", source="dialer", payload={"reason": reason})

    async def _hangup_quietly(self, carrier, provider_call_id: str, account) -> None:
        try:
            await carrier.hangup(
                provider_call_id, account, http=self.platform.http, endpoints=self.platform.endpoints
            )
        except CallwrightError as exc:
            log.warning("could not hang up call %s: %s", provider_call_id, exc.message)

    async def recover_expired_leases(self) -> None:
        await recover_expired_leases(
            self.platform.sessions, silent_secs=self.platform.settings.reconcile_after_secs
        )


def dial_lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.carrier_timeout_secs) + DIAL_LEASE_MARGIN


def mark_unconfirmed(session: AsyncSession, call: Call, reason: str, *, silent_secs: float) -> None:
    """The dial request may have reached the carrier: never send it again, keep the call open.

    Where nobody can ask the carrier and a connected call never reaches us (MCube), the call
    stays open until the carrier's webhook or the reconciler's time bound settles it: the call
    says so, and when that bound ends."""
    call.dial_state = dial_move(call.dial_state, DialState.UNCONFIRMED)
    call.dial_lease_until = None
    carrier = get_carrier(Provider(call.provider))
    if not carrier.offers_call_status and not carrier.has_media_stream and not call.provider_call_id:
        settles_at = utcnow() + timedelta(seconds=reconcile.silent_bound_secs(silent_secs))
        call.end_reason = call.end_reason or reconcile.outcome_unknown_note(carrier.display_name, settles_at)
    record_event(
        session, call, kind="dial_unconfirmed", source="dialer", before=call.status, payload={"reason": reason}
    )


async def recover_expired_leases(sessions: async_sessionmaker[AsyncSession], *, silent_secs: float) -> None:
    """After a crash: requeue claims never sent; hand dials whose outcome is unknown to the
    carrier's callbacks and the reconciler (one the carrier already reported on is dialled).
    ``silent_secs``: the reconciler's quiet time, which an outcome-unknown note states."""
    now = utcnow()
    async with sessions() as session:
        await session.execute(
            update(Call)
            .where(Call.dial_state == DialState.CLAIMED, Call.dial_lease_until < now)
            .values(dial_state=DialState.QUEUED, dial_lease_until=None)
        )
        stuck = await session.scalars(
            select(Call.id).where(Call.dial_state == DialState.DIALING, Call.dial_lease_until < now)
        )
        for call_id in list(stuck):
            call = await lock_call(session, call_id)
            if call is None or call.dial_state != DialState.DIALING:
                continue
            if call.provider_call_id or call.status != CallStatus.PENDING:
                call.dial_state, call.dial_lease_until = DialState.DIALED, None
            else:
                mark_unconfirmed(
                    session,
                    call,
                    "the platform stopped while this call was being dialled",
                    silent_secs=silent_secs,
                )
        await session.commit()
