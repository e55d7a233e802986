"""Steering each new connection of a balanced ``callwright serve`` to the workers with room: the
kernel's choice among a reuseport group's sockets, as the program we attach weighs them, and the
weights the supervisor reads off the workers' load board."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from callwright.balancer import (
    STALE_AFTER_SECS,
    LoadBoard,
    SlotState,
    attach_steering,
    hold_while_node_drains,
    reuseport_group,
    steering_program,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT steering is Linux's")

CONNECTIONS = 300


def accepted_per_socket(sockets: list[socket.socket], weights: list[int]) -> list[int]:
    attach_steering(sockets[0], weights)
    port = sockets[0].getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
    try:
        counts = []
        for sock in sockets:
            sock.setblocking(False)
            accepted = 0
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                accepted += 1
            counts.append(accepted)
        return counts
    finally:
        for client in clients:
            client.close()


@pytest.fixture
def group() -> list[socket.socket]:
    sockets = reuseport_group("127.0.0.1", 0, 3, backlog=CONNECTIONS)
    yield sockets
    for sock in sockets:
        sock.close()


def test_the_kernel_sends_each_connection_where_the_weights_say(group: list[socket.socket]) -> None:
    assert accepted_per_socket(group, [0, 1, 0]) == [0, CONNECTIONS, 0]
    assert accepted_per_socket(group, [0, 0, 5]) == [0, 0, CONNECTIONS]
    first, second, third = accepted_per_socket(group, [1, 3, 0])
    assert third == 0 and first + second == CONNECTIONS
    assert 0.15 * CONNECTIONS < first < 0.35 * CONNECTIONS  # a quarter, give or take
    # No weight anywhere: the kernel's own hash spreads them.
    assert all(count > 0.2 * CONNECTIONS for count in accepted_per_socket(group, [0, 0, 0]))


def test_a_program_returns_an_index_of_a_weighted_socket() -> None:
    # The last instruction of each branch is a return of a socket index.
    returns = [k for code, _, _, k in steering_program([2, 0, 1, 4]) if code == 0x06]
    assert returns == [0, 2, 3]
    assert steering_program([0, 0]) == [(0x06, 0, 0, 2)]  # past the group: the kernel's hash


def test_the_port_of_a_running_server_is_not_shared() -> None:
    with socket.socket() as running:
        running.bind(("127.0.0.1", 0))
        running.listen()
        with pytest.raises(OSError):
            reuseport_group("127.0.0.1", running.getsockname()[1], 2, backlog=8)


def test_new_connections_go_to_the_workers_with_the_fewest_calls(tmp_path: Path) -> None:
    board = LoadBoard(tmp_path / "board", 3, create=True)
    worker_view = LoadBoard(tmp_path / "board", 3)  # another process maps the same file
    now = time.monotonic()  # every reading at one moment: a slow machine makes nothing stale
    for slot, calls in enumerate([5, 5, 5]):
        worker_view.publish(slot, calls, at=now)
    assert board.weights(now=now) == [1, 1, 1]
    worker_view.publish(1, 3, at=now)
    worker_view.publish(2, 4, at=now)
    assert board.weights(now=now) == [0, 1, 0]
    worker_view.publish(2, 3, at=now)
    assert board.weights(now=now) == [0, 1, 1]
    # A worker that stopped heartbeating gets nothing, however few its calls.
    worker_view.publish(2, 0, at=now - STALE_AFTER_SECS - 1)
    assert board.weights(now=now) == [0, 1, 0]
    assert board.weights(now=now + 2 * STALE_AFTER_SECS + 2) == [0, 0, 0]


def test_a_draining_node_steers_to_workers_still_accepting(tmp_path: Path) -> None:
    board = LoadBoard(tmp_path / "board", 3, create=True)
    worker_view = LoadBoard(tmp_path / "board")  # a worker maps the whole board, slots and all
    assert worker_view.slots == 3
    now = time.monotonic()  # every reading at one moment: a slow machine makes nothing stale
    for slot, calls in enumerate([2, 0, 1]):
        worker_view.publish(slot, calls, at=now)
    assert board.weights(now=now) == [0, 1, 0]
    # One worker drains (SIGTERM to it alone): new calls go to the others, however few its own.
    worker_view.set_state(1, SlotState.DRAINING)
    assert board.weights(now=now) == [0, 0, 1]
    worker_view.publish(1, 3, at=now)  # publishing its calls leaves its state as it was
    assert board.states() == [SlotState.SERVING, SlotState.DRAINING, SlotState.SERVING]
    # The whole node drains: every worker still accepting gets connections (API, callbacks,
    # readiness), the least busy first; one that stopped accepting gets none.
    assert not board.node_draining()
    board.mark_node_draining()
    assert worker_view.node_draining()
    for slot in range(3):
        worker_view.set_state(slot, SlotState.DRAINING)
    assert board.weights(now=now) == [0, 0, 1]
    worker_view.set_state(2, SlotState.CLOSED)
    assert board.weights(now=now) == [1, 0, 0]
    assert not board.node_drained(now=now)
    worker_view.set_state(0, SlotState.DRAINED)
    worker_view.publish(1, 3, at=now - STALE_AFTER_SECS - 1)  # gone: drained too
    assert board.node_drained(now=now)


async def test_a_drained_worker_waits_for_the_rest_of_a_draining_node(tmp_path: Path) -> None:
    board = LoadBoard(tmp_path / "board", 2, create=True)
    for slot in range(2):
        board.publish(slot, 0, at=time.monotonic() + 3600)  # never stale, however slow the test
    # Drained alone, not with its node: no wait (the supervisor replaces it).
    await asyncio.wait_for(hold_while_node_drains(board, 0, timeout_secs=600), 60)
    board.mark_node_draining()
    board.set_state(1, SlotState.DRAINING)
    held = asyncio.create_task(hold_while_node_drains(board, 0, timeout_secs=600))
    await asyncio.sleep(0.3)
    assert not held.done()  # its sibling still drains
    assert board.states()[0] == SlotState.DRAINED
    board.set_state(1, SlotState.DRAINED)
    await asyncio.wait_for(held, 60)
    # Bounded: a sibling that never finishes does not hold it past its timeout.
    board.set_state(1, SlotState.DRAINING)
    await asyncio.wait_for(hold_while_node_drains(board, 0, timeout_secs=0.2), 60)


def test_a_replaced_worker_writes_no_more_to_its_slot(tmp_path: Path) -> None:
    board = LoadBoard(tmp_path / "board", 1, create=True)
    board.publish(0, 2, at=1.0)
    board.set_state(0, SlotState.DRAINING)  # the old worker drains (SIGHUP's restart)
    board._OWNER.pack_into(board._map, board._OWNER_AT, os.getppid())  # a new worker claimed it
    board.publish(0, 0, at=2.0)
    board.set_state(0, SlotState.CLOSED)  # the old worker's exit: not the new worker's state
    assert board.slots_read() == [(2, SlotState.DRAINING, 1.0)]
    board.claim(0)
    board.set_state(0, SlotState.SERVING)
    assert board.states() == [SlotState.SERVING]
