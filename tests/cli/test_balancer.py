"""Steering each new connection of a balanced ``callwright serve`` to the workers with room: the
kernel's choice among a reuseport group's sockets, as the program we attach weighs them, and the
weights the supervisor reads off the workers' load board."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from callwright.balancer import (
    STALE_AFTER_SECS,
    LoadBoard,
    attach_steering,
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
    for slot, calls in enumerate([5, 5, 5]):
        worker_view.publish(slot, calls)
    assert board.weights() == [1, 1, 1]
    worker_view.publish(1, 3)
    worker_view.publish(2, 4)
    assert board.weights() == [0, 1, 0]
    worker_view.publish(2, 3)
    assert board.weights() == [0, 1, 1]
    # A worker that stopped heartbeating gets nothing, however few its calls.
    worker_view.publish(2, 0, at=time.monotonic() - STALE_AFTER_SECS - 1)
    assert board.weights() == [0, 1, 0]
    assert board.weights(now=time.monotonic() + STALE_AFTER_SECS + 1) == [0, 0, 0]
