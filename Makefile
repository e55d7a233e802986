# One command runs the platform (`make run`), one runs the tests (`make test`).
# Both install what they need: uv into .tools/, then the pinned stack (uv.lock) into .venv/.

PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run sim demo test test-cluster test-fast test-loaded bench bench-cluster bench-control lint clean

$(UV):
	scripts/bootstrap-uv $(PYTHON) $(UV_VERSION)

# Byte-compiled at install: where PYTHONDONTWRITEBYTECODE is set (CI's machines set it), every
# process would otherwise compile each module it imports from source, every time: 4.8 s to import
# the app instead of 1.5 s, in every test worker and every `callwright serve` a test starts.
$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON) --compile-bytecode
	touch $@

install: $(VENV)/.installed
	@$(VENV)/bin/python -m compileall -q src

run: install
	$(VENV)/bin/callwright serve

sim: install
	$(VENV)/bin/callwright sim serve

# One whole call offline: prints the live transcript with per-turn latency and a WAV's path.
demo: install
	$(VENV)/bin/callwright demo

# Runs on SQLite always, and on PostgreSQL when CALLWRIGHT_TEST_POSTGRES_URL (default: the local
# server) is reachable. Set CALLWRIGHT_TEST_REQUIRE_POSTGRES=1 to make an unreachable server fail.
# The console's browser tests drive Debian's chromium (installed here when missing and root);
# CALLWRIGHT_TEST_REQUIRE_BROWSER=1 makes a missing browser fail instead of skip.
# The deployment artefacts' tests render deploy/compose.yaml with Debian's docker-compose
# (scripts/ensure-compose) and the Helm chart with the helm of the dev extras;
# CALLWRIGHT_TEST_REQUIRE_DEPLOY_TOOLS=1 makes a missing one fail instead of skip.
# Four pytest workers on two cores: the suite mostly waits on real-time simulated calls (two
# workers kept the box about a third busy), so four halve its time (docs/testing.md).
# The run keeps pytest's rewritten test modules (tests/**/__pycache__, ignored by git) whatever
# PYTHONDONTWRITEBYTECODE says: each worker collects every module, 20 s each without them, 12 s with.
TEST_WORKERS ?= 4
test: install
	@scripts/ensure-chromium || echo "no chromium (not root?): the console's browser tests will be skipped"
	@scripts/ensure-compose || echo "no docker-compose (not root?): the compose checks will be skipped"
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -q -ra -m "not cluster"

# Chaos on loopback (~4 min): three `callwright serve` nodes behind Debian's nginx, on a PostgreSQL
# and a Redis of their own; kill -9 of a node and of the dialer's node, Redis restarted, PostgreSQL
# stopped. Needs nginx (scripts/ensure-nginx), redis-server and PostgreSQL's initdb; skipped
# without them unless CALLWRIGHT_TEST_REQUIRE_CLUSTER=1. See docs/scaling.md.
test-cluster: install
	@scripts/ensure-nginx || echo "no nginx (not root?): the cluster tests will be skipped"
	$(VENV)/bin/python -m pytest -n 0 -q -ra -s -m cluster tests/cluster

test-fast: install
	$(VENV)/bin/python -m pytest -q -x -m "not cluster"

# The timing-sensitive tests, three times, with stress-ng keeping every core busy (docs/testing.md).
test-loaded: install
	scripts/test-loaded

# Benchmarks against the carrier simulator and a plain Pipecat baseline (~8 min on 2 cores):
# a table, then one JSON line per metric. See bench/run.py.
bench: install
	$(VENV)/bin/python bench/run.py

# One node, then two, on a shared PostgreSQL and Redis: per-call CPU and the cluster machinery's
# overhead (~4 min). See docs/scaling.md.
bench-cluster: install
	$(VENV)/bin/python bench/cluster.py

# A command on a call across 6 processes: broadcast to all against sent to its holder (Redis
# commands, messages and handler tasks per command). Needs redis-server.
bench-control: install
	$(VENV)/bin/python bench/call_control.py

# Style (ruff) and types (mypy), with the configuration in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf .tools $(VENV) .pytest_cache
