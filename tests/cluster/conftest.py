"""The cluster tests' fixtures: one cluster for the module (three `callwright serve` nodes behind
nginx, on a private PostgreSQL and a private Redis), the carrier simulator in this process.

Run with `make test-cluster` (`pytest -m cluster tests/cluster`); `make test` leaves them out.
They need Debian's nginx (scripts/ensure-nginx), redis-server and PostgreSQL's initdb/pg_ctl;
where one is missing they are skipped, unless CALLWRIGHT_TEST_REQUIRE_CLUSTER=1 (CI).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from callwright.sim import CarrierSimulator
from callwright.store.db import create_engine
from callwright.store.migrate import upgrade
from tests.cluster.support import Cluster, Nginx, PrivatePostgres, PrivateRedis, find_binary
from tests.e2e.server_process import ServerProcess, serve_env
from tests.ports import free_port

NODE_NAMES = ("node-a", "node-b", "node-c")
RECONCILE_INTERVAL_SECS = 0.5
RECONCILE_AFTER_SECS = 3.0
DRAIN_GRACE_SECS = 60.0


def _missing(reason: str) -> None:
    if os.environ.get("CALLWRIGHT_TEST_REQUIRE_CLUSTER") == "1":
        pytest.fail(f"{reason} (CALLWRIGHT_TEST_REQUIRE_CLUSTER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster_sim() -> Iterator[CarrierSimulator]:
    simulator = CarrierSimulator(callback_timeout_secs=3.0)
    with simulator.running():
        yield simulator


@pytest.fixture(scope="module")
async def cluster(cluster_sim: CarrierSimulator, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    for binary, where in (("nginx", "/usr/sbin"), ("redis-server", "/usr/bin")):
        if find_binary(binary, where) is None:
            _missing(f"no {binary} (scripts/ensure-nginx, scripts/ensure-redis)")
    postgres = PrivatePostgres()
    if (why := postgres.available()) is not None:
        _missing(why)
    workdir = tmp_path_factory.mktemp("cluster")
    workdir.chmod(0o755)  # nginx's workers and PostgreSQL's user read under it
    redis = PrivateRedis(workdir)
    redis.start()
    postgres.init()
    nodes: dict[str, ServerProcess] = {}
    nginx: Nginx | None = None
    try:
        engine = create_engine(postgres.url)
        await upgrade(engine)
        await engine.dispose()
        ports = {name: free_port() for name in NODE_NAMES}
        nginx = Nginx(workdir, list(ports.values()))
        for name in NODE_NAMES:
            (workdir / name).mkdir()
            env = serve_env(
                postgres.url,
                cluster_sim,
                workdir / name,
                PORT=str(ports[name]),
                PUBLIC_URL=nginx.url,
                REDIS_URL=redis.url,
                NODE_NAME=name,
                FAKE_ENGINES="1",
                CARRIER_TIMEOUT_SECS="10",
                RECONCILE_INTERVAL_SECS=str(RECONCILE_INTERVAL_SECS),
                RECONCILE_AFTER_SECS=str(RECONCILE_AFTER_SECS),
                LOG_LEVEL="warning",
                # The rolling restart's drains let every live call finish (its calls last 10-20 s).
                DRAIN_GRACE_SECS=str(DRAIN_GRACE_SECS),
            )
            nodes[name] = ServerProcess(env, ports[name], workdir / f"{name}.log")
        nginx.start()
        # One at a time: three model loads at once on two cores only take longer.
        for node in nodes.values():
            await node.start()
        built = Cluster(nodes, nginx, redis, postgres)
        await built.ensure_all_up()
        yield built
    finally:
        for node in nodes.values():
            node.stop()
        if nginx is not None:
            nginx.stop()
        redis.stop()
        postgres.destroy()

