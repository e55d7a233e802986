"""`make test` runs under `--dist loadgroup`: tests in one `xdist_group` share a worker.

The two-worker `serve` tests rely on it (`serve-workers`: one such server at a time, and
`test_workers.py` keeps its servers for the module). With pytest 9.2 and pytest-xdist 3.8.0 the
groups were silently ignored (pytest-xdist issue 1386); this fails if that comes back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.fixture(params=["a", "b"])
def kind(request):
    return request.param


def test_one(kind):
    pass


def test_two(kind):
    pass
"""

ALSO_GROUPED = """
import pytest


@pytest.mark.xdist_group("together")
def test_three():
    pass


def test_free_one():
    pass


def test_free_two():
    pass
"""


def test_tests_of_one_group_run_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_also_grouped.py").write_text(ALSO_GROUPED)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = os.environ | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", "-p", "xdist.plugin", "-n", "3", "--dist", "loadgroup", "-v"]
    ran = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    workers: dict[str, set[str]] = {}
    for worker, test in re.findall(r"\[(gw\d+)\] \[ *\d+%\] PASSED (\S+)", ran.stdout):
        group = "together" if test.endswith("@together") else test
        workers.setdefault(group, set()).add(worker)
    assert sum(1 for line in ran.stdout.splitlines() if "PASSED" in line) == 7, ran.stdout
    assert len(workers) == 3, ran.stdout  # the group and the two free tests
    assert len(workers["together"]) == 1, ran.stdout
