from __future__ import annotations

import socket

from tests.ports import _ephemeral_floor, free_port


def test_a_free_port_is_below_the_range_outgoing_connections_use_and_can_be_bound() -> None:
    ports = {free_port() for _ in range(20)}
    assert all(10_000 <= port < _ephemeral_floor() for port in ports), ports
    with socket.socket() as server:
        server.bind(("127.0.0.1", ports.pop()))
        server.listen()
        # An outgoing connection's own port comes from the ephemeral range, never from ours.
        with socket.create_connection(server.getsockname()) as client:
            assert client.getsockname()[1] >= _ephemeral_floor()
