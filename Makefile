# One command runs the platform (`make run`), one runs the tests (`make test`).
# Both install what they need: uv into .tools/, then the pinned stack (uv.lock) into .venv/.

PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run sim test test-fast lint clean

$(UV):
	scripts/bootstrap-uv $(PYTHON) $(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/callwright serve

sim: install
	$(VENV)/bin/callwright sim serve

# Runs on SQLite always, and on PostgreSQL when CALLWRIGHT_TEST_POSTGRES_URL (default: the local
# server) is reachable. Set CALLWRIGHT_TEST_REQUIRE_POSTGRES=1 to make an unreachable server fail.
test: install
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup -q -ra

test-fast: install
	$(VENV)/bin/python -m pytest -q -x

clean:
	rm -rf .tools $(VENV) .pytest_cache
