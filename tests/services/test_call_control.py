"""The dialer's election through Redis: one holder at a time, handed over when it leaves or lapses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from callwright.platform import Platform
from callwright.services.call_control import DialerElection
from callwright.settings import Settings
from tests.redis_support import REDIS_URL, require_redis


@pytest.fixture
async def two_processes(settings: Settings) -> AsyncIterator[tuple[Platform, Platform]]:
    """Two Platforms on one store and one Redis namespace, as two worker processes would be."""
    require_redis()
    shared = settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_namespace": f"test-{uuid.uuid4().hex[:12]}"}
    )
    first, second = Platform.from_settings(shared), Platform.from_settings(shared)
    for platform in (first, second):
        await platform.control.start()
    try:
        yield first, second
    finally:
        for platform in (first, second):
            await platform.close()


async def test_only_one_process_holds_the_dialer_and_it_hands_over_on_leaving(two_processes):
    first, second = two_processes
    a, b = DialerElection(first, first.control), DialerElection(second, second.control)
    try:
        assert await a.campaign() is True
        assert await b.campaign() is False
        assert first.dialer is not None and second.dialer is None
        assert await a.campaign() is True  # renewing keeps it
        await a.stop()  # a worker shutting down gives the lease back at once
        assert first.dialer is None
        assert await b.campaign() is True
        assert second.dialer is not None
    finally:
        await a.stop()
        await b.stop()


async def test_a_holder_that_stops_renewing_loses_the_dialer_to_another(two_processes):
    first, second = two_processes
    a, b = DialerElection(first, first.control), DialerElection(second, second.control)
    try:
        assert await a.campaign() is True
        assert await b.campaign() is False
        # The holder hangs (no renewal) until its lease lapses; the other process takes over.
        await first.control.redis.pexpire(first.control.dialer_lease, 1)
        await asyncio.sleep(0.05)
        assert await b.campaign() is True
        # The old holder learns it on its next renewal and stops dialing.
        assert await a.campaign() is False
        assert first.dialer is None and second.dialer is not None
    finally:
        await a.stop()
        await b.stop()


async def test_a_command_with_redis_gone_finds_no_holder_instead_of_failing(two_processes):
    """Redis unreachable: the command is treated as held by no process (the hang-up then takes the
    carrier's way or says it cannot), not raised as an internal error."""
    from redis.asyncio import Redis

    first, _ = two_processes
    reachable = first.control.redis
    first.control.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    try:
        assert await first.control.run("no-such-call", "end", reason="test") is False
    finally:
        await first.control.redis.aclose()
        first.control.redis = reachable
