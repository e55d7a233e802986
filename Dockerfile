# Callwright: one image for every node. Multi-stage: the build tools and uv stay in the first
# stage; the second holds the virtualenv (with the models, which ship inside PyPI packages:
# Piper voices, Whisper tiny.en, Silero VAD, WordLlama) and runs as an unprivileged user. Nothing is
# downloaded at start: the models are checked at build time and the hubs are switched off.
#
#   docker build -t callwright .
#   docker run --env-file .env -p 8080:8080 callwright

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
# Debian packages unpinned: a point release replaces their versions, and a pin would break builds.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
# The uv the Makefile pins (scripts/bootstrap-uv), from PyPI.
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
# Dependencies first (their layer is cached until uv.lock changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
# tini reaps the worker processes of `serve --workers N` and passes SIGTERM on (the drain).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 callwright \
    && useradd --system --uid 10001 --gid callwright --home-dir /var/lib/callwright --create-home callwright
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    CALLWRIGHT_HOST=0.0.0.0 \
    CALLWRIGHT_PORT=8080 \
    CALLWRIGHT_VAR_DIR=/var/lib/callwright \
    CALLWRIGHT_LOG_FORMAT=json
# The models are inside the image: `callwright models` loads each one a node loads (Silero VAD,
# every Piper voice, Whisper tiny.en, WordLlama) from the installed packages with the hub
# switched off, so a missing one fails the build, not the first call.
RUN callwright models
USER 10001:10001
WORKDIR /var/lib/callwright
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
# SIGTERM drains (readyz 503, live calls finish up to CALLWRIGHT_DRAIN_GRACE_SECS): give the
# container that long to stop (docker stop -t, compose stop_grace_period, Kubernetes
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--", "callwright"]
CMD ["serve"]
