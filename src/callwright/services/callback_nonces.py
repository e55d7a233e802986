"""Carrier signature nonces, each good for one callback within its validity window.

Plivo and Vobiz sign a fresh nonce into every callback, and Vobiz signs nothing else but the URL:
a captured request's signature headers would otherwise fit any body for that URL, forever. So
every nonce a valid signature carries is spent by its first use and remembered for
``NONCE_MEMORY``; a second request with it is a replay. Their nonces carry no time, so the window
is the longest a call can take callbacks: a Plivo/Vobiz stream keeps a call up for at most
24 hours (``streamTimeout``'s default, carriers.md §1.4), and once a call is over no callback
changes it anyway.

With Redis (``CALLWRIGHT_REDIS_URL``) the memory is cluster-wide: one ``SET NX PX`` per nonce, in
one round trip. Without, the store keeps it (table ``callback_nonces``), written in the callback's
own transaction: every worker process and node on the store sees it, and a callback that fails
before its commit leaves its nonce unspent for the carrier's retry. If Redis cannot be reached,
the store stands in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.store.models import CallbackNonce, utcnow

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.telephony")

NONCE_MEMORY = timedelta(hours=24)


async def spend(
    *, platform: Platform, session: AsyncSession, provider: str, nonces: Sequence[str], now: datetime
) -> bool:
    """Spend each of a callback's nonces; False when any was spent before (a replay)."""
    if not nonces:
        return True
    keys = [f"{provider}:{nonce}" for nonce in dict.fromkeys(nonces)]
    redis = platform.control.redis
    if redis is not None:
        prefix = f"{platform.settings.redis_namespace}:callback-nonce:"
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(prefix + key, "1", nx=True, px=int(NONCE_MEMORY.total_seconds() * 1000))
                fresh = await pipe.execute()
            return all(fresh)
        except RedisError as exc:
            log.warning("callback nonces: Redis unreachable (%s); the store keeps them", type(exc).__name__)
    return await _spend_in_store(session, keys, now, postgres=platform.engine.dialect.name == "postgresql")


async def _spend_in_store(session: AsyncSession, keys: list[str], now: datetime, *, postgres: bool) -> bool:
    rows = [{"key": key, "expires_at": now + NONCE_MEMORY} for key in keys]
    dialect = postgresql if postgres else sqlite
    insert = dialect.insert(CallbackNonce).values(rows)
    # A nonce past its window is free again (a stored one is only found expired if no purge ran).
    statement = insert.on_conflict_do_update(
        index_elements=[CallbackNonce.key],
        set_={"expires_at": insert.excluded.expires_at},
        where=CallbackNonce.expires_at < now,
    )
    result = await session.execute(statement)
    return result.rowcount == len(keys)  # type: ignore[attr-defined]


async def forget_expired(*, platform: Platform) -> None:
    """Drop the nonces past their window (the reconciler's pass calls this on every node)."""
    async with platform.sessions() as session:
        await session.execute(delete(CallbackNonce).where(CallbackNonce.expires_at < utcnow()))
        await session.commit()
