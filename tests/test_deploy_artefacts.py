"""The deployment artefacts say what the platform does: probes on /healthz and /readyz, a drain
that outlasts the longest call before anything is killed, the image's user not root, no setting
the platform does not know. (Helm and Docker are not run here: docs/deployment.md says which
checks need them.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from callwright.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "callwright"


def _settings_names() -> set[str]:
    return {f"CALLWRIGHT_{name.upper()}" for name in Settings.model_fields}


def test_the_chart_probes_health_and_readiness_and_drains_before_it_is_killed():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "callwright"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    deployment = (CHART / "templates" / "deployment.yaml").read_text()

    def probe_path(kind: str) -> str:
        found = re.search(rf"{kind}:\s*\n\s*httpGet:\s*\n\s*path: (\S+)", deployment)
        assert found, kind
        return found.group(1)

    assert probe_path("livenessProbe") == "/healthz"
    assert probe_path("startupProbe") == "/healthz"
    assert probe_path("readinessProbe") == "/readyz"
    assert re.search(r"preStop:\s*\n(?:\s*#.*\n)*\s*exec:", deployment)
    # Kubernetes kills the pod terminationGracePeriodSeconds after it starts terminating: the
    # preStop pause and the whole drain must fit inside it.
    assert (
        "terminationGracePeriodSeconds: {{ add .Values.drain.graceSecs .Values.drain.preStopSleepSecs 60 }}"
        in deployment
    )
    assert "CALLWRIGHT_DRAIN_GRACE_SECS" in deployment and "{{ .Values.drain.graceSecs | quote }}" in deployment
    assert values["drain"]["graceSecs"] >= 600  # an agent's default max_call_duration_secs
    assert "maxUnavailable: 0" in deployment  # a rolling update never lowers capacity


def test_the_chart_scales_on_live_calls_and_names_only_known_settings():
    hpa = (CHART / "templates" / "hpa.yaml").read_text()
    assert "name: callwright_active_calls" in hpa and "type: Pods" in hpa
    text = "".join(path.read_text() for path in (CHART / "templates").iterdir()) + (CHART / "values.yaml").read_text()
    named = set(re.findall(r"\bCALLWRIGHT_[A-Z0-9_]+", text))
    assert named and named <= _settings_names(), named - _settings_names()


def test_compose_runs_the_platform_behind_a_balancer_with_its_store_and_redis():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"platform", "lb", "postgres", "redis"} <= services.keys()
    platform = services["platform"]
    env = platform["environment"]
    assert env["CALLWRIGHT_REDIS_URL"].startswith("redis://redis:")
    assert env["CALLWRIGHT_DATABASE_URL"].startswith("postgresql://")
    assert "/readyz" in " ".join(platform["healthcheck"]["test"])
    grace = int(env["CALLWRIGHT_DRAIN_GRACE_SECS"])
    stop = re.fullmatch(r"(\d+)m", platform["stop_grace_period"])
    assert stop and int(stop.group(1)) * 60 > grace
    assert set(env) <= _settings_names()
    nginx = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    assert "proxy_next_upstream error timeout http_503" in nginx  # a draining node's refusal is retried
    assert "$http_upgrade" in nginx  # media WebSockets pass through


def test_the_image_is_multi_stage_non_root_and_starts_serving():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) == 2
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert 'CMD ["serve"]' in dockerfile and "HF_HUB_OFFLINE=1" in dockerfile
