"""Loopback ports for servers a test starts in a process of its own, and ports nothing serves.

A port the kernel picks (bind to port 0) lies in its ephemeral range, which it also hands out as
the local port of every outgoing connection. Between the pick and the server's own bind (seconds,
while ``callwright serve`` imports the app) another connection on the box could take it:
"address already in use", seen once in two whole runs at once. A port below that range is never
handed out that way, so one is picked there at random and checked free.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST_PORT = 10_000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
ATTEMPTS = 500


def _ephemeral_floor() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A loopback port free now, outside the range outgoing connections take theirs from."""
    floor = _ephemeral_floor()
    if floor > LOWEST_PORT:
        pick = random.SystemRandom()
        for _ in range(ATTEMPTS):
            port = pick.randrange(LOWEST_PORT, floor)
            if _is_free(port):
                return port
    with socket.socket() as probe:  # an unusual range: let the kernel pick
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()
