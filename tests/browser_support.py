"""The system's Chromium for the browser tests (installed by scripts/ensure-chromium; Playwright
drives it through ``executable_path`` and never downloads a browser of its own)."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ENV = "CALLWRIGHT_TEST_REQUIRE_BROWSER"


def chromium_executable() -> str:
    """Chromium's path; the test is skipped when there is none, or fails when CI requires one."""
    for name in (os.environ.get("CALLWRIGHT_CHROMIUM", ""), "chromium", "chromium-browser"):
        found = shutil.which(name) if name else None
        if found:
            return found
    reason = "no chromium on PATH: run scripts/ensure-chromium (apt-get install chromium)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 and {reason}")
    pytest.skip(reason)
