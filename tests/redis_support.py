"""The Redis the multi-process tests use: skipped where none answers, required where CI says so."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("CALLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_reachable() -> bool:
    parts = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def require_redis() -> None:
    """Skip the test when no Redis answers, unless CALLWRIGHT_TEST_REQUIRE_REDIS=1 (CI)."""
    if redis_reachable():
        return
    if os.environ.get("CALLWRIGHT_TEST_REQUIRE_REDIS") == "1":
        pytest.fail(f"Redis is required (CALLWRIGHT_TEST_REQUIRE_REDIS=1) but {REDIS_URL} does not answer")
    pytest.skip(f"no Redis at {REDIS_URL}")
