"""The shipped load-balancer configurations parse with Debian's nginx and HAProxy
(scripts/ensure-nginx installs them). Skipped where they are not installed, unless
CALLWRIGHT_TEST_REQUIRE_CLUSTER=1 (CI)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cluster.support import find_binary

ROOT = Path(__file__).resolve().parents[1]


def _binary(name: str) -> str:
    found = find_binary(name, "/usr/sbin")
    if found is None:
        if os.environ.get("CALLWRIGHT_TEST_REQUIRE_CLUSTER") == "1":
            pytest.fail(f"no {name} (scripts/ensure-nginx)")
        pytest.skip(f"no {name} (scripts/ensure-nginx)")
    return found


def test_nginx_config_parses(tmp_path: Path) -> None:
    nginx = _binary("nginx")
    done = subprocess.run(
        [nginx, "-t", "-c", str(ROOT / "deploy/nginx/nginx.conf"), "-p", str(tmp_path), "-e", "stderr",
         "-g", f"pid {tmp_path / 'nginx.pid'};"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


def test_haproxy_config_parses() -> None:
    haproxy = _binary("haproxy")
    done = subprocess.run(
        [haproxy, "-c", "-f", str(ROOT / "deploy/haproxy/haproxy.cfg")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout + done.stderr


def test_only_a_media_upgrade_is_retried_on_a_503() -> None:
    """A draining node's 503 to a media socket goes to another node; the platform's own 503 (its
    store unreachable) reaches the client, in both balancers."""
    nginx = (ROOT / "deploy/nginx/nginx.conf").read_text()
    media, rest = nginx.split("location /media/", 1)[1].split("location / ", 1)
    assert "proxy_next_upstream error timeout http_503;" in media
    assert "proxy_next_upstream error timeout;" in rest and "http_503" not in rest
    haproxy = (ROOT / "deploy/haproxy/haproxy.cfg").read_text()
    assert "http-request disable-l7-retry unless METH_GET { path_beg /media/ }" in haproxy
