"""Electing the one process that runs a cluster-wide worker (the dialer, the campaign scheduler).

A Redis lease per role, renewed every ``RENEW_SECS`` and lapsing ``LEASE_SECS`` after its holder
stops renewing (killed, hung, cut off from Redis); a holder that cannot reach Redis keeps its
worker only while its lease would still stand. A subclass names the lease key and starts and
stops its worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callwright.services.call_control import CallControl

log = logging.getLogger("callwright.election")

# A killed holder's role is taken over within LEASE_SECS + RENEW_SECS (7.5 s). Renewals are one
# local Redis round trip; a holder whose event loop stalls longer than LEASE_SECS - RENEW_SECS
# (4.5 s) gives the role up rather than risk two holders.
LEASE_SECS = 6.0
RENEW_SECS = 1.5

# Renew or delete a key only while it names this process (a lease; a call's holder record in
# ``call_control``): another process's claim written since is left alone.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
DELETE_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class LeaseElection:
    """Keeps this process's claim on one lease, running the role's worker while it holds it."""

    role = "worker"  # for log lines and the task's name

    def __init__(self, control: CallControl, lease_key: str) -> None:
        self.control = control
        self.lease_key = lease_key
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._valid_until = 0.0

    # --- what a role provides ---
    def _running(self) -> bool:
        raise NotImplementedError

    def _start_worker(self) -> None:
        raise NotImplementedError

    async def _stop_worker(self) -> None:
        raise NotImplementedError

    # --- the election ---
    def start(self) -> None:
        if self._task is None:
            name = f"callwright-{self.role.replace(' ', '-')}-election"
            self._task = asyncio.create_task(self._run(), name=name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._stop_worker()
        redis = self.control.redis
        if redis is not None:
            try:
                await redis.eval(DELETE_IF_OURS, 1, self.lease_key, self.control.node_id)
            except Exception as exc:  # it lapses by itself within LEASE_SECS
                log.warning("could not release the %s lease: %s", self.role, type(exc).__name__)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.campaign()
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=RENEW_SECS)
            except TimeoutError:
                pass

    async def campaign(self) -> bool:
        """Take or renew the lease; start or stop the worker to match. True while it runs here."""
        redis = self.control.redis
        if redis is None:
            raise RuntimeError(f"the {self.role} election needs Redis (CALLWRIGHT_REDIS_URL)")
        asked_at = time.monotonic()
        lease_ms = int(LEASE_SECS * 1000)
        held: bool | None
        try:
            held = bool(await redis.eval(_RENEW, 1, self.lease_key, self.control.node_id, lease_ms))
            if not held:
                held = bool(await redis.set(self.lease_key, self.control.node_id, nx=True, px=lease_ms))
        except Exception as exc:
            log.warning("could not renew the %s lease: %s", self.role, type(exc).__name__)
            held = None
        if held:
            self._valid_until = asked_at + LEASE_SECS
            if not self._running():
                log.info("this process now runs the %s", self.role)
                self._start_worker()
            return True
        if held is None and time.monotonic() < self._valid_until - RENEW_SECS:
            return self._running()  # unconfirmed, but the lease still stands
        await self._stop_worker()
        return False
