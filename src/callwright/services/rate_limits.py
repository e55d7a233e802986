"""Counting each API key's requests against its partner's per-minute limits (``limits`` library).

A fixed one-minute window per key and budget, counted as the library's fixed-window strategy
counts (the docs: "retry after the window resets"). The counters live in this process, or in Redis when ``CALLWRIGHT_REDIS_URL`` is set, so every worker
and node shares one budget per key. Should Redis fail, requests are let through and the failure is
logged: an unreachable counter store must not take the whole Partner API down with it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.errors import StorageError

from callwright.domain.errors import LimitExceeded
from callwright.domain.rate_limits import KeyRates, RateCategory, WindowState, refusal_message

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool

log = logging.getLogger("callwright.rate_limits")

_FAILURE_LOG_EVERY_SECS = 30.0


class ApiRateLimiter:
    """Per-key request budgets, in memory or shared through Redis."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        namespace: str = "callwright",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool: ConnectionPool | None = None
        if redis_url:
            from redis.asyncio import ConnectionPool

            self._pool = ConnectionPool.from_url(redis_url)
            storage: MemoryStorage | RedisStorage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=f"{namespace}:ratelimit",
                wrap_exceptions=True,
                connection_pool=self._pool,  # type: ignore[arg-type]
            )
        else:
            storage = MemoryStorage()
        self.shared = redis_url is not None
        self._storage = storage
        self._clock = clock
        self._last_failure_log = 0.0

    async def count(self, *, key_id: str, category: RateCategory, rates: KeyRates) -> WindowState | None:
        """Count one request of the key; its window's state, or None when it has no limit (or the
        counter store failed)."""
        limit = rates.limit_for(category)
        if limit <= 0:
            return None
        item = RateLimitItemPerMinute(limit, namespace="key")
        key = item.key_for(category.value, key_id)
        try:
            # What FixedWindowRateLimiter.hit does, keeping the count it returns: two round trips
            # to Redis (count, window end) instead of its three (count, then count and end again).
            count = await self._storage.incr(key, item.get_expiry())
            reset_at = await self._storage.get_expiry(key)
        except StorageError as exc:
            now = time.monotonic()
            if now - self._last_failure_log >= _FAILURE_LOG_EVERY_SECS:
                self._last_failure_log = now
                log.warning("rate limits not enforced: the counter store failed (%s)", exc)
            return None
        return WindowState(
            allowed=count <= limit, limit=limit, remaining=max(0, limit - count), reset_at=reset_at
        )

    async def check(
        self, *, key_id: str, category: RateCategory, rates: KeyRates
    ) -> dict[str, str]:
        """Count one request; the ``X-RateLimit-*`` headers to answer with, or LimitExceeded
        (429, ``rate_limited``, with ``Retry-After``) when the key's budget is spent."""
        state = await self.count(key_id=key_id, category=category, rates=rates)
        if state is None:
            return {}
        now = self._clock()
        headers = state.headers(now)
        if not state.allowed:
            raise LimitExceeded(
                refusal_message(category, state.limit, state.retry_after(now)),
                code="rate_limited",
                details={"limit": state.limit, "window_secs": 60, "category": category.value},
                headers=headers,
            )
        return headers

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()
