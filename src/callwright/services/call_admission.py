"""Admitting new calls under a partner's concurrency limit, many starts to one transaction.

The limit holds only if a partner's starts are admitted one after another: each takes the
partner's lock (a row lock on PostgreSQL, the database write lock on SQLite), counts the active
calls, inserts its call and commits. Done once per request, that lock is held for four round trips
per call and caps one partner's starts near 200 a second, however many cores serve them.

So starts for one partner that arrive while its admission transaction is running wait for the
next one, which takes them all: one lock, one count, one insert of every call that fits, one
commit (group commit). A batch is whatever queued meanwhile; a lone request goes at once. Each
start still gets its own answer: its call, or ``concurrency_limit`` if the calls ahead of it in
the batch took the last slots.

Batches are per process; several processes' batches for one partner take turns at the lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from callwright.domain.calls import ACTIVE_STATUSES
from callwright.domain.errors import LimitExceeded
from callwright.services.call_state import record_event
from callwright.store.db import SqliteFile
from callwright.store.models import Call, Partner

log = logging.getLogger("callwright.calls")

CONCURRENCY_RETRY_AFTER_SECS = 5
_ACTIVE = [status.value for status in ACTIVE_STATUSES]

# Built once: SQLAlchemy then reuses their compiled form without rebuilding them per batch.
_LOCK_PARTNER = select(Partner.id).where(Partner.id == bindparam("partner_id")).with_for_update()
# SQLite has no row locks; a write takes the database's write lock, held to the commit.
_LOCK_SQLITE = text("UPDATE partners SET status = status WHERE id = :partner_id")
_ACTIVE_COUNT = (
    select(func.count())
    .select_from(Call)
    .where(Call.partner_id == bindparam("partner_id"), Call.status.in_(_ACTIVE))
)


class AdmissionConflict(Exception):
    """A start's insert broke a unique constraint (a concurrent request with its Idempotency-Key)."""


class StartWithdrawn(Exception):
    """A start's ``with_call`` found, under the lock, that its call must not be made after all."""


@dataclass(slots=True)
class Start:
    """One call waiting to be admitted: built and checked, not yet stored."""

    call: Call
    limit: int  # the partner's concurrency limit as the request saw it
    outcome: asyncio.Future[Call] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    # Run under the partner's lock once the call fits, before it is stored: it writes what must be
    # stored with the call, in its transaction (a campaign's attempt row), and returns False to
    # withdraw the start, having written nothing. Synchronous, like ``admit_batch``.
    with_call: Callable[[Session, Call], bool] | None = None
    source: str = "api"  # who asked for the call, on its ``created`` event ("carrier": inbound)


async def active_count(session: AsyncSession, partner_id: str) -> int:
    return await session.run_sync(_active_calls, partner_id)


def _active_calls(session: Session, partner_id: str) -> int:
    return session.scalar(_ACTIVE_COUNT, {"partner_id": partner_id}) or 0


@dataclass(slots=True)
class Verdicts:
    """What one batch decided, settled on the event loop once its transaction is over."""

    admitted: list[Start] = field(default_factory=list)
    repeated: list[Start] = field(default_factory=list)  # their key is a stored call's
    refused: list[tuple[Start, int]] = field(default_factory=list)  # no slot; active calls then
    withdrawn: list[Start] = field(default_factory=list)  # their ``with_call`` said no

    def settle(self) -> None:
        for start in self.admitted:
            start.outcome.set_result(start.call)
        for start, active in self.refused:
            start.outcome.set_exception(_limit_reached(start.limit, active))
        for start in self.repeated:  # now that the call with their key is committed and can be found
            start.outcome.set_exception(AdmissionConflict())
        for start in self.withdrawn:
            start.outcome.set_exception(StartWithdrawn())


def admit_batch(session: Session, partner_id: str, starts: list[Start]) -> Verdicts:
    """In one transaction on ``session``: lock the partner, count its active calls, insert each
    start that fits (with its ``created`` event) and commit. A start whose Idempotency-Key a stored
    call (or an earlier start of the batch) already has is not inserted, and is told
    AdmissionConflict once the batch is committed.

    Synchronous, and touches no start's outcome: it runs on a thread of its own for a SQLite file,
    under ``AsyncSession.run_sync`` otherwise; the caller settles the verdicts on the loop.

    Keys are looked up under the partner's lock rather than left to the unique index: an insert
    that meets an uncommitted or just-updated row with its key waits for that transaction, and
    the dialer updating the first call of a retried request deadlocked with the retry's insert.
    Raises AdmissionConflict (nothing stored) if an insert still breaks a unique constraint; the
    caller then admits the starts one by one to find whose it was."""
    lock = _LOCK_SQLITE if session.get_bind().dialect.name == "sqlite" else _LOCK_PARTNER
    verdicts = Verdicts()
    try:
        session.execute(lock, {"partner_id": partner_id})
        taken = _keys_taken(session, partner_id, starts)
        active = _active_calls(session, partner_id)
        for start in starts:
            key = start.call.idempotency_key
            if key is not None and key in taken:
                verdicts.repeated.append(start)
                continue
            if active >= start.limit:
                verdicts.refused.append((start, active))
                continue
            if start.with_call is not None and not start.with_call(session, start.call):
                verdicts.withdrawn.append(start)
                continue
            active += 1
            session.add(start.call)
            record_event(session, start.call, kind="created", source=start.source, before=None)
            verdicts.admitted.append(start)
            if key is not None:
                taken.add(key)
        if verdicts.admitted:
            session.flush()
        session.commit()
    except IntegrityError:
        session.rollback()  # takes the batch's calls and events back out of the session
        raise AdmissionConflict from None
    return verdicts


def _keys_taken(session: Session, partner_id: str, starts: list[Start]) -> set[str]:
    keys = {start.call.idempotency_key for start in starts if start.call.idempotency_key}
    if not keys:
        return set()
    found = session.scalars(
        select(Call.idempotency_key).where(Call.partner_id == partner_id, Call.idempotency_key.in_(keys))
    )
    return {key for key in found if key is not None}


async def lock_partner(session: AsyncSession, partner_id: str) -> None:
    """Take the lock admissions take (see ``admit_batch``), for a change that must not interleave
    with one: e.g. pausing a campaign, after which none of its calls may be admitted."""
    lock = _LOCK_SQLITE if session.get_bind().dialect.name == "sqlite" else _LOCK_PARTNER
    await session.execute(lock, {"partner_id": partner_id})


def _limit_reached(limit: int, active: int) -> LimitExceeded:
    return LimitExceeded(
        f"concurrency limit reached: {limit} calls are already active; retry when one ends",
        code="concurrency_limit",
        details={"limit": limit, "active": active},
        headers={"Retry-After": str(CONCURRENCY_RETRY_AFTER_SECS)},
    )


class CallAdmission:
    """Group commit of call starts, per partner, in this process (see the module's text)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, sqlite: SqliteFile | None = None
    ) -> None:
        """``sqlite``: the store's SQLite file, when it is one. A batch then runs in one go on its
        writing thread, so SQLite's one write lock is held for the statements alone, not for the
        event loop's turns between them."""
        self.sessions = sessions
        self._waiting: dict[str, list[Start]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._sqlite = sqlite

    async def admit(self, partner_id: str, start: Start) -> Call:
        """Store ``start``'s call if it fits under the limit; its call, or LimitExceeded, or
        AdmissionConflict (nothing stored) when its insert broke a unique constraint."""
        self._waiting.setdefault(partner_id, []).append(start)
        if partner_id not in self._running:
            task = asyncio.create_task(self._drain(partner_id), name=f"admission-{partner_id}")
            self._running[partner_id] = task
        # Shielded: a client that hangs up must not cancel its batch-mates' transaction.
        return await asyncio.shield(start.outcome)

    async def _drain(self, partner_id: str) -> None:
        try:
            while batch := self._waiting.pop(partner_id, None):
                await self._run_batch(partner_id, batch)
        finally:
            del self._running[partner_id]

    async def _admit(self, partner_id: str, starts: list[Start]) -> None:
        if self._sqlite is not None:
            verdicts = await self._sqlite.write(admit_batch, partner_id, starts)
        else:
            async with self.sessions() as session:
                verdicts = await session.run_sync(admit_batch, partner_id, starts)
        verdicts.settle()

    async def _run_batch(self, partner_id: str, batch: list[Start]) -> None:
        try:
            await self._admit(partner_id, batch)
        except AdmissionConflict:
            if len(batch) == 1:
                batch[0].outcome.set_exception(AdmissionConflict())
                return
            for start in batch:  # whose key was it? Each alone; only that one fails.
                await self._run_batch(partner_id, [start])
        except Exception as exc:  # the store failed: every start of the batch hears it
            for start in batch:
                if not start.outcome.done():
                    start.outcome.set_exception(exc)
