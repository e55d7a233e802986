"""The shared parts of the workers whose jobs are a due time on a row (extraction, ingestion).

A job is due when its row's due-time column is set and past. ``claim_due`` claims due rows by
moving that time ahead by the lease (a compare-and-set, so one worker wins); a worker that dies
mid-job leaves the lease to run out and the next pass, in any process, claims the row again.
``JobLoop`` runs a worker's ``run_due`` whenever its wakeup is set or the poll interval passes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute


async def claim_due(
    sessions: async_sessionmaker[AsyncSession],
    id_column: InstrumentedAttribute[str],
    due_column: InstrumentedAttribute[datetime | None],
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    also: Mapping[InstrumentedAttribute[Any], Any] | None = None,
) -> list[str]:
    """Claim up to ``limit`` due rows, oldest first: their due time moved to ``now + lease`` (and
    ``also`` set) where no other worker moved it first; the ids of the rows won."""
    claimed = []
    async with sessions() as session:
        due = (
            await session.execute(
                select(id_column, due_column)
                .where(due_column.is_not(None), due_column <= now)
                .order_by(due_column)
                .limit(limit)
            )
        ).all()
        for row_id, due_at in due:
            won = await session.execute(
                update(id_column.class_)
                .where(id_column == row_id, due_column == due_at)
                .values({due_column: now + lease, **(also or {})})
            )
            if getattr(won, "rowcount", 0) == 1:
                claimed.append(row_id)
        await session.commit()
    return claimed


class JobLoop:
    """Runs ``run_due`` until stopped: at once, then whenever ``wakeup`` is set or
    ``poll_interval_secs`` pass. A failed pass is logged and the next one retries."""

    def __init__(
        self, *, name: str, what: str, wakeup: asyncio.Event, poll_interval_secs: float, log: logging.Logger
    ) -> None:
        self.poll_interval_secs = poll_interval_secs
        self._name = name
        self._what = what
        self._wakeup = wakeup
        self._log = log
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def run_due(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            self._task.cancel()  # a job cut here keeps its lease and runs again later
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_due()
            except Exception:  # the loop must survive a store hiccup; the next pass retries
                self._log.exception("%s pass failed", self._what)
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_interval_secs)
            except TimeoutError:
                pass
            self._wakeup.clear()
