"""Commands reach the process holding a call's media session directly (``services.call_control``).

Three processes, each its own Platform and CallControl on its own Redis connections, sharing one
Redis namespace. A process that takes a call's session records itself as the call's holder; a
command sent from another process goes to the holder's own channel only, and the third process
never hears it. Without a record (a process of an older version, a record lost with Redis) the
command is broadcast as before; a record naming a process that is gone or that no longer holds
the call gives False; after Redis loses everything, the holder's next heartbeat writes its
records again and commands go direct again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from callwright.domain.call_commands import ControlCommand
from callwright.domain.end_reasons import EndReason
from callwright.platform import Platform
from callwright.services import call_control, media_sockets
from callwright.services.node_registry import NodeHeartbeat
from callwright.settings import Settings
from tests.redis_support import REDIS_URL, require_redis

# Only a hang guard: every "no" in these tests comes from the processes' answers, not a timeout.
HANG_GUARD_SECS = 60.0


class Session:
    """Stands in for a call's media session: records the commands it runs."""

    def __init__(self) -> None:
        self.ended: list[Any] = []

    async def end(self, reason: Any) -> None:
        self.ended.append(reason)


@pytest.fixture
async def three(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[Platform]]:
    require_redis()
    # The wait for answers made far longer than the hang guard: a False must come from answers.
    monkeypatch.setattr(call_control, "ANSWER_TIMEOUT_SECS", 10 * HANG_GUARD_SECS)
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    shared = {"redis_url": REDIS_URL, "redis_namespace": namespace}
    platforms = [
        Platform.from_settings(settings.model_copy(update=shared | {"node_name": f"node-{name}"})) for name in "abc"
    ]
    for platform in platforms:
        await platform.control.start()
    try:
        yield platforms
    finally:
        for platform in platforms:
            await platform.close()
        client = Redis.from_url(REDIS_URL)  # the platforms' own clients are closed by now
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def hold(platform: Platform, call_id: str) -> Session:
    session = Session()
    assert media_sockets.register(platform, call_id, session)  # type: ignore[arg-type]
    await platform.control.holders_written()
    return session


async def end(platform: Platform, call_id: str) -> bool:
    async with asyncio.timeout(HANG_GUARD_SECS):
        return await platform.control.run(call_id, ControlCommand.END, reason=EndReason.ENDED_BY_PLATFORM)


def answered(platforms: list[Platform]) -> list[int]:
    return [platform.control.requests_answered for platform in platforms]


async def test_a_command_goes_to_the_holder_alone(three: list[Platform]):
    asker, bystander, holder = three
    call_id = str(uuid.uuid4())
    session = await hold(holder, call_id)
    redis = asker.control.redis
    assert redis is not None
    assert await redis.get(asker.control.holder_key(call_id)) == holder.control.node_id.encode()

    assert await end(asker, call_id) is True
    assert session.ended == [EndReason.ENDED_BY_PLATFORM]
    # The holder answered; the bystander never heard the command.
    assert answered(three) == [0, 0, 1]
    assert (asker.control.sent_direct, asker.control.sent_broadcast) == (1, 0)

    # The same from the bystander: again only the holder runs anything.
    assert await end(bystander, call_id) is True
    assert answered(three) == [0, 0, 2]
    assert len(session.ended) == 2

    # The session ends: its record goes with it, and a command for the call is broadcast, every
    # other process answering that it does not hold it.
    media_sockets.unregister(holder, call_id, session)  # type: ignore[arg-type]
    await holder.control.holders_written()
    assert await redis.get(asker.control.holder_key(call_id)) is None
    assert await end(asker, call_id) is False
    assert answered(three) == [0, 1, 3]
    assert asker.control.sent_broadcast == 1


async def test_without_a_holder_record_the_command_is_broadcast(three: list[Platform]):
    asker, _, holder = three
    call_id = str(uuid.uuid4())
    session = await hold(holder, call_id)
    redis = asker.control.redis
    assert redis is not None
    await redis.delete(asker.control.holder_key(call_id))  # as a process of an older version keeps none

    assert await end(asker, call_id) is True
    assert session.ended == [EndReason.ENDED_BY_PLATFORM]
    assert answered(three) == [0, 1, 1]  # both others heard it
    assert (asker.control.sent_direct, asker.control.sent_broadcast) == (0, 1)


async def test_a_stale_holder_record_gives_false_from_the_answers(three: list[Platform]):
    asker, bystander, holder = three
    redis = asker.control.redis
    assert redis is not None

    # The record names a process that is gone (killed): nobody listens on its channel, so the
    # command is broadcast, and both processes answer that they do not hold the call.
    gone = str(uuid.uuid4())
    await redis.set(asker.control.holder_key(gone), uuid.uuid4().hex)
    assert await end(asker, gone) is False
    assert answered(three) == [0, 1, 1]
    assert asker.control.sent_broadcast == 1

    # The record names a live process that no longer holds the call (its session just ended):
    # that process alone answers "not held".
    ended = str(uuid.uuid4())
    await redis.set(asker.control.holder_key(ended), holder.control.node_id)
    assert await end(asker, ended) is False
    assert answered(three) == [0, 1, 2]
    assert bystander.control.requests_answered == 1

    # A record naming the asker itself, which holds no such session, is not trusted: broadcast.
    own = str(uuid.uuid4())
    await redis.set(asker.control.holder_key(own), asker.control.node_id)
    assert await end(asker, own) is False
    assert answered(three) == [0, 2, 3]


async def test_a_later_holders_record_survives_the_earlier_sessions_end(three: list[Platform]):
    asker, first, second = three
    call_id = str(uuid.uuid4())
    old = await hold(first, call_id)
    new = await hold(second, call_id)  # the carrier's fresh stream after a drop, on another process
    media_sockets.unregister(first, call_id, old)  # type: ignore[arg-type]
    await first.control.holders_written()
    assert await end(asker, call_id) is True
    assert (old.ended, new.ended) == ([], [EndReason.ENDED_BY_PLATFORM])
    assert answered(three) == [0, 0, 1]


async def test_after_redis_loses_the_records_the_heartbeat_writes_them_again(three: list[Platform]):
    asker, _, holder = three
    call_id = str(uuid.uuid4())
    session = await hold(holder, call_id)
    heartbeat = NodeHeartbeat(holder)
    await heartbeat.beat()  # registered
    redis = asker.control.redis
    assert redis is not None
    namespace = holder.settings.redis_namespace

    # Redis restarted without persistence: every key gone (this namespace's only: Redis is shared).
    keys = [key async for key in redis.scan_iter(match=f"{namespace}:*")]
    assert asker.control.holder_key(call_id).encode() in keys
    await redis.delete(*keys)

    # Until the holder's next heartbeat the command is broadcast, and still reaches it.
    assert await end(asker, call_id) is True
    assert answered(three) == [0, 1, 1]

    await heartbeat.beat()  # finds its registration gone: writes its calls' records again
    assert await redis.get(asker.control.holder_key(call_id)) == holder.control.node_id.encode()
    assert await end(asker, call_id) is True
    assert answered(three) == [0, 1, 2]
    assert (asker.control.sent_direct, asker.control.sent_broadcast) == (1, 1)
    assert len(session.ended) == 2

    # A beat that finds its registration in place writes no holder record again.
    await redis.delete(asker.control.holder_key(call_id))
    await heartbeat.beat()
    assert await redis.get(asker.control.holder_key(call_id)) is None
