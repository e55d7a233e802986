"""The cluster's node registry: which processes are up, what each carries, which runs what.

With ``CALLWRIGHT_REDIS_URL`` every process of every node (each worker of ``--workers N`` is one
entry) keeps a record in Redis: ``<namespace>:node:<id>`` holds its name (``CALLWRIGHT_NODE_NAME``),
pid, start time, last heartbeat, live calls, whether it drains and whether it runs the dialer or
the campaign scheduler; ``<namespace>:node-calls:<id>`` holds the ids of the calls whose media it
carries. Both are rewritten every ``HEARTBEAT_SECS`` and at once when its calls change, and both
expire ``EXPIRE_SECS`` after the last write: a node killed outright drops out of the registry by
itself, and a node that stops cleanly removes its record.

The registry is for seeing the cluster (``GET /admin/v1/nodes``, the chaos tests, an autoscaler):
nothing on the call path reads it. Which node dials is the dialer's lease (``call_control``), not
this; which node carries a call's media is the store's claim (``calls.media_socket_id``), and
where a command for a call goes is its holder record (``call_control``). The heartbeat keeps
those records: when it finds this process's registration gone (Redis restarted and lost it) it
writes this process's live calls' holder records again, so commands reach them directly again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from callwright.services.call_control import HOLDER_TTL_SECS

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from callwright.platform import Platform

log = logging.getLogger("callwright.nodes")

HEARTBEAT_SECS = 1.0
EXPIRE_SECS = 5.0


@dataclass(frozen=True)
class NodeRecord:
    node_id: str
    name: str
    pid: int
    started_at: str
    heartbeat_at: str
    active_calls: int
    draining: bool
    dialer: bool
    campaign_scheduler: bool
    call_ids: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "name": self.name,
            "pid": self.pid,
            "started_at": self.started_at,
            "heartbeat_at": self.heartbeat_at,
            "active_calls": self.active_calls,
            "draining": self.draining,
            "dialer": self.dialer,
            "campaign_scheduler": self.campaign_scheduler,
        }


def node_key(namespace: str, node_id: str) -> str:
    return f"{namespace}:node:{node_id}"


def calls_key(namespace: str, node_id: str) -> str:
    return f"{namespace}:node-calls:{node_id}"


class NodeHeartbeat:
    """This process's record in the registry, kept until ``stop``."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.namespace = platform.settings.redis_namespace
        self.started_at = _now()
        self._task: asyncio.Task[None] | None = None
        self._holders_asserted_at = time.monotonic()
        self._holders_due = False  # set until the holder records are written again

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="callwright-node-heartbeat")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        redis, node_id = self.platform.control.redis, self.platform.control.node_id
        if redis is not None:
            try:
                await redis.delete(node_key(self.namespace, node_id), calls_key(self.namespace, node_id))
            except Exception as exc:  # it expires by itself
                log.warning("could not remove this node from the registry: %s", type(exc).__name__)

    async def _run(self) -> None:
        changed = self.platform.media_sockets_changed
        while True:
            changed.clear()
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting or unreachable: the next beat retries
                log.warning("node heartbeat failed: %s", type(exc).__name__)
            # Sooner when this node's calls change (the event is shared with a balanced worker's
            # load publisher, which may clear it first: then this waits one period at most).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), HEARTBEAT_SECS)
                await asyncio.sleep(0.05)  # a burst of changes, one write

    async def beat(self) -> None:
        platform = self.platform
        redis: Redis | None = platform.control.redis
        if redis is None:
            return
        node_id = platform.control.node_id
        node = this_node(platform, self.started_at)
        call_ids = sorted(platform.media_sessions)
        record = node.public() | {"active_calls": len(call_ids)}
        del record["node_id"]
        expire_ms = int(EXPIRE_SECS * 1000)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.exists(node_key(self.namespace, node_id))
            pipe.set(node_key(self.namespace, node_id), json.dumps(record), px=expire_ms)
            pipe.delete(calls_key(self.namespace, node_id))
            if call_ids:
                pipe.sadd(calls_key(self.namespace, node_id), *call_ids)
                pipe.pexpire(calls_key(self.namespace, node_id), expire_ms)
            registered, *_ = await pipe.execute()
        # Not registered before this beat: this process just started, or Redis lost everything
        # (a restart without persistence) and with it the records naming this process as its
        # calls' holder. Write those again, as also every half of their lifetime.
        now = time.monotonic()
        if not registered or platform.control.holders_stale:
            self._holders_due = True
        if self._holders_due or now - self._holders_asserted_at >= HOLDER_TTL_SECS / 2:
            if await platform.control.assert_holders():
                self._holders_due, self._holders_asserted_at = False, now


async def list_nodes(redis: Redis, namespace: str, *, with_calls: bool = False) -> list[NodeRecord]:
    """Every node whose record has not expired, by name."""
    prefix = node_key(namespace, "")
    keys = [key async for key in redis.scan_iter(match=prefix + "*", count=500)]
    if not keys:
        return []
    values = await redis.mget(keys)
    nodes = []
    for key, value in zip(keys, values, strict=True):
        if value is None:
            continue
        node_id = (key.decode() if isinstance(key, bytes) else key)[len(prefix) :]
        try:
            body = json.loads(value)
        except ValueError:
            continue
        call_ids: tuple[str, ...] = ()
        if with_calls:
            members = await redis.smembers(calls_key(namespace, node_id))
            call_ids = tuple(sorted(m.decode() if isinstance(m, bytes) else m for m in members))
        nodes.append(
            NodeRecord(
                node_id=node_id,
                name=str(body.get("name", "")),
                pid=int(body.get("pid", 0)),
                started_at=str(body.get("started_at", "")),
                heartbeat_at=str(body.get("heartbeat_at", "")),
                active_calls=int(body.get("active_calls", 0)),
                draining=bool(body.get("draining", False)),
                dialer=bool(body.get("dialer", False)),
                campaign_scheduler=bool(body.get("campaign_scheduler", False)),
                call_ids=call_ids,
            )
        )
    return sorted(nodes, key=lambda node: (node.name, node.node_id))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")



def this_node(platform: Platform, started_at: str = "") -> NodeRecord:
    """This process's record as the registry would hold it."""
    return NodeRecord(
        node_id=platform.control.node_id,
        name=platform.settings.node_name,
        pid=os.getpid(),
        started_at=started_at,
        heartbeat_at=_now(),
        active_calls=len(platform.media_sessions),
        draining=platform.draining,
        dialer=platform.dialer is not None,
        campaign_scheduler=platform.campaign_scheduler is not None,
    )
