"""The node registry: each process's record in Redis (live calls and their ids, roles, draining),
gone when it stops, and the operator's view of it at GET /admin/v1/nodes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from callwright.platform import Platform
from callwright.services.node_registry import NodeHeartbeat, calls_key, list_nodes, node_key
from callwright.settings import Settings
from tests.redis_support import REDIS_URL, require_redis


@pytest.fixture
async def two_nodes(settings: Settings) -> AsyncIterator[tuple[Platform, Platform]]:
    require_redis()
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    first = Platform.from_settings(settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_namespace": namespace, "node_name": "node-a"}
    ))  # fmt: skip
    second = Platform.from_settings(settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_namespace": namespace, "node_name": "node-b"}
    ))  # fmt: skip
    for platform in (first, second):
        await platform.control.start()
    try:
        yield first, second
    finally:
        for platform in (first, second):
            await platform.close()


async def test_each_node_lists_its_calls_and_roles_and_leaves_when_stopped(two_nodes):
    first, second = two_nodes
    namespace = first.settings.redis_namespace
    first.media_sessions["call-1"] = object()
    first.media_sessions["call-2"] = object()
    second.draining = True
    beats = [NodeHeartbeat(first), NodeHeartbeat(second)]
    for beat in beats:
        await beat.beat()
    redis = first.control.redis
    assert redis is not None
    nodes = {node.name: node for node in await list_nodes(redis, namespace, with_calls=True)}
    assert set(nodes) == {"node-a", "node-b"}
    assert (nodes["node-a"].active_calls, nodes["node-a"].call_ids) == (2, ("call-1", "call-2"))
    assert (nodes["node-b"].active_calls, nodes["node-b"].call_ids, nodes["node-b"].draining) == (0, (), True)
    assert nodes["node-a"].node_id == first.control.node_id
    # Both records expire by themselves if the node is killed outright.
    assert 0 < await redis.pttl(node_key(namespace, first.control.node_id)) <= 5000
    assert 0 < await redis.pttl(calls_key(namespace, first.control.node_id)) <= 5000

    # A call ends: the next beat says so.
    del first.media_sessions["call-2"]
    await beats[0].beat()
    nodes = {node.name: node for node in await list_nodes(redis, namespace, with_calls=True)}
    assert nodes["node-a"].call_ids == ("call-1",)

    # A node that stops cleanly takes its record with it.
    beats[1].start()
    await beats[1].stop()
    assert [node.name for node in await list_nodes(redis, namespace)] == ["node-a"]


async def test_nodes_endpoint_is_the_operators_alone(client, partner, admin_headers):
    alone = await client.get("/admin/v1/nodes", headers=admin_headers)
    assert alone.status_code == 200, alone.text
    # No Redis: no cluster; the list holds the answering process.
    [node] = alone.json()["data"]
    assert node["active_calls"] == 0 and node["draining"] is False
    refused = await client.get("/admin/v1/nodes", headers=partner.headers)
    assert refused.status_code == 401
    assert "node_id" not in refused.text
