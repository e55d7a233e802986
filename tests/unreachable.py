"""Carriers pointed at nothing: a loopback port that refuses connections, so a request to a
carrier fails at once (502 from the API) and never leaves the machine."""

from __future__ import annotations

import functools
import socket
from typing import Any

_HELD: list[socket.socket] = []


@functools.cache
def refusing_port() -> int:
    """A loopback port this process has bound and never listens on, for its whole life: a
    connection to it is refused, and no server a test starts can take it over.

    One port for every test of the process, so their settings are equal and they share one app
    (``tests.conftest.app_for``): a port picked per test built the whole app for each of them."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    _HELD.append(held)
    return int(held.getsockname()[1])


def unreachable_carriers() -> dict[str, Any]:
    """Settings fields that send every carrier's REST API to a port that refuses connections."""
    nowhere = f"http://127.0.0.1:{refusing_port()}"
    return {
        f"{name}_api_url": nowhere for name in ("vobiz", "plivo", "twilio", "exotel", "mcube")
    }
