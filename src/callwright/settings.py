"""One validated settings object, read from ``CALLWRIGHT_*`` environment variables.

Safe local defaults: an SQLite store and a generated master key under ``./var``. In production
(``CALLWRIGHT_ENV=production``) the platform refuses to start without an explicit secret key and
admin token that are hard to guess (``secret_weakness``), or with a public URL that is not https.
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
import socket
from collections import Counter
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_BITS = 128
MIN_DISTINCT_CHARACTERS = 10
# Each has `<name>_api_key` and `<name>_url` below (voice.engines.cloud enables them).
CLOUD_SPEECH_PROVIDERS = ("deepgram", "elevenlabs", "cartesia", "sarvam")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALLWRIGHT_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    var_dir: Path = Path("var")
    database_url: str | None = None
    secret_key: str | None = Field(default=None, repr=False)
    # Older master keys, comma-separated: still able to decrypt while `secrets rotate` re-encrypts.
    previous_secret_keys: str | None = Field(default=None, repr=False)
    admin_token: str | None = Field(default=None, repr=False)
    public_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    # "text" (uvicorn's lines) or "json" (one object a line, with the call id on a call's lines).
    log_format: Literal["text", "json"] = "text"
    # On SIGTERM a node drains (callwright.services.drain): live calls may run this long before
    # they are ended with "platform shutting down". Cover the longest call you allow.
    drain_grace_secs: float = Field(default=900.0, ge=0, le=24 * 3600)
    # /metrics: behind the admin token (default), or open to whoever reaches the port (for a
    # scraper inside a private network that carries no token).
    metrics_public: bool = False
    # The node label on per-node metrics; default: the host name (a pod's name under Kubernetes).
    node_name: str = Field(default_factory=socket.gethostname, pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    # Run the background workers (the dialer) in this process.
    workers_enabled: bool = True
    # Worker processes `callwright serve` starts behind its one port. More than one needs Redis.
    workers: int = Field(default=1, ge=1, le=64)
    # Redis, for several worker processes or nodes: a command for a call (end it, leave a voicemail
    # message) reaches the process holding its media socket, and one process is elected to dial.
    redis_url: str | None = Field(default=None, repr=False)
    # Prefix of Callwright's Redis keys and channels, for installs that share one Redis.
    redis_namespace: str = Field(default="callwright", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # Load the voice models (Silero VAD, Piper voices) at start-up rather than on the first call.
    preload_voice_models: bool = True
    # Fake STT/LLM/TTS engines (benchmarks, demos): provider ``fake`` and voice ``fake-tone`` exist
    # only when this is on. Each answers after its latency (ms): the STT after the caller's
    # speech ends (VAD stop), the LLM to its first token, the TTS to its first audio.
    fake_engines: bool = False
    fake_stt_latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    fake_llm_latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    fake_tts_latency_ms: float = Field(default=0.0, ge=0, le=60_000)

    vobiz_api_url: str = "https://api.vobiz.ai/api/v1"
    plivo_api_url: str = "https://api.plivo.com/v1"
    twilio_api_url: str = "https://api.twilio.com/2010-04-01"
    # Exotel's host is the connection's own subdomain; when set, this replaces scheme and host.
    exotel_api_url: str | None = None
    mcube_api_url: str = "https://api.mcube.com/Restmcube-api"
    carrier_timeout_secs: float = 10.0

    # Crash safety. The reconciler asks the carrier about any unfinished call nothing has touched
    # (callback, media, heartbeat) for reconcile_after_secs; it runs every reconcile_interval_secs,
    # which is also how often each node marks the calls it carries as alive.
    reconcile_interval_secs: float = Field(default=30.0, gt=0)
    reconcile_after_secs: float = Field(default=180.0, gt=0)
    # A carrier media socket silent this long (carriers send audio every 20–100 ms) is lost.
    media_idle_timeout_secs: float = Field(default=10.0, gt=0)
    # A media socket must send the carrier's start message (after Twilio's and Exotel's
    # "connected") within this long of being accepted, or it is closed.
    media_start_timeout_secs: float = Field(default=10.0, gt=0, le=120)

    # The operator's default LLM: any OpenAI-compatible chat-completions endpoint (OpenAI, Groq,
    # Together, Ollama, vLLM, llama.cpp). Agents without their own ``llm.provider`` and without a
    # script use it; with none, an agent says its intro and then ``llm_fallback_line``.
    llm_provider: str = "openai-compatible"
    llm_base_url: str | None = None
    llm_api_key: str | None = Field(default=None, repr=False)
    llm_model: str | None = None
    llm_temperature: float | None = Field(default=None, ge=0, le=2)
    llm_timeout_secs: float = Field(default=10.0, gt=0)
    llm_max_retries: int = Field(default=1, ge=0, le=5)
    llm_fallback_line: str = "Sorry, I can't help with that on this call."
    # Post-call extraction (docs/extraction.md) uses that same endpoint, one non-streamed request
    # per try. ``session.completed`` of a call with extraction waits for it at most
    # ``extraction_hold_secs`` after the call, then leaves with ``extraction.status: "pending"``.
    extraction_hold_secs: float = Field(default=60.0, ge=0, le=3600)
    extraction_timeout_secs: float = Field(default=30.0, gt=0, le=600)
    extraction_max_attempts: int = Field(default=3, ge=1, le=5)
    # ``kb_enable_llm_processing`` (docs/knowledge-base.md): the same endpoint condenses a turn's
    # passages before the turn's reply; past this long the raw passages go instead.
    kb_llm_timeout_secs: float = Field(default=2.5, gt=0, le=30)

    # Cloud speech engines: each is offered (its voices listed, its STT selectable) only when its
    # key is set. A URL replaces the provider's WebSocket base (scheme and host, e.g.
    # wss://api.deepgram.com), for a proxy or a local test server; the paths stay the provider's.
    deepgram_api_key: str | None = Field(default=None, repr=False)
    deepgram_url: str | None = None
    elevenlabs_api_key: str | None = Field(default=None, repr=False)
    elevenlabs_url: str | None = None
    cartesia_api_key: str | None = Field(default=None, repr=False)
    cartesia_url: str | None = None
    sarvam_api_key: str | None = Field(default=None, repr=False)
    sarvam_url: str | None = None

    # Conversation rules every call follows (seconds; 0 turns the silence timeout off).
    silence_timeout_secs: float = Field(default=15.0, ge=0)
    silence_prompt: str = "Are you still there?"
    duration_warning_message: str = "Just so you know, we have about thirty seconds left on this call."
    closing_line: str = "Thank you for your time. Goodbye."

    default_concurrency_limit: int = 10
    default_agent_limit: int = 50
    # A new partner's per-API-key request limits (per minute; 0 = none), as the Vocobase docs'.
    default_requests_per_minute: int = Field(default=60, ge=0)
    default_calls_per_minute: int = Field(default=10, ge=0)
    # The operator's default call rate, ₹ per minute (whole paise), billed in 15-second buckets
    # when no agent, project or partner rate is set. 0 (the default): such calls are free and
    # need no balance — billing is off until the operator sets a rate somewhere.
    default_rate_per_minute: Decimal = Field(default=Decimal("0"), ge=0, le=10_000, decimal_places=2)

    # Campaigns: the share of a partner's concurrency limit its campaigns leave free for single
    # API calls and inbound calls (rounded up; a partner whose limit is 1 keeps none); how often
    # the scheduler looks for due contacts when nothing wakes it; the largest contacts CSV upload.
    campaign_reserved_share: float = Field(default=0.2, ge=0, lt=1)
    # Inbound calls: the share of a partner's concurrency limit its outbound calls (API starts and
    # campaigns) leave free for calls to its numbers (rounded down: a limit below 10 keeps none at
    # 0.1); and what a refused inbound caller hears, spoken by the carrier before it hangs up.
    inbound_reserved_share: float = Field(default=0.1, ge=0, lt=1)
    inbound_not_in_service_message: str = "Sorry, this number is not in service. Goodbye."
    inbound_unavailable_message: str = "Sorry, no one can take your call right now. Please try again later. Goodbye."
    inbound_busy_message: str = "Sorry, all our lines are busy right now. Please call again in a few minutes. Goodbye."
    campaign_poll_interval_secs: float = Field(default=1.0, gt=0, le=60)
    campaign_csv_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)

    # Partner webhooks: a failed delivery is retried after base × 2^(n-1) s (±25 % jitter, at
    # most webhook_retry_max_delay_secs apart) until webhook_retry_window_secs after it was queued.
    webhook_retry_base_secs: float = Field(default=5.0, gt=0)
    webhook_retry_max_delay_secs: float = Field(default=3600.0, gt=0)
    webhook_retry_window_secs: float = Field(default=24 * 3600.0, gt=0)
    # One attempt's whole deadline (resolve, connect, send, answer), as Vocobase documents: 10 s.
    webhook_timeout_secs: float = Field(default=10.0, gt=0)
    # Sending slots (of 16 per process) one partner's deliveries may hold at once.
    webhook_partner_concurrency: int = Field(default=4, ge=1)
    # How long a claimed delivery stays claimed beyond the request timeout: after a crash it is
    # retried once this has passed (it also covers the wait for a free sending slot).
    webhook_lease_margin_secs: float = Field(default=50.0, gt=0)

    # Call recordings (agents with enable_recording): kept in recordings_dir (default
    # var_dir/recordings) or, once a bucket is set, in S3-compatible storage; "local" or "s3"
    # in recordings_storage chooses outright. Signed recording URLs live recording_url_ttl_secs.
    recordings_storage: Literal["local", "s3"] | None = None
    recordings_dir: Path | None = None
    recordings_s3_bucket: str | None = None
    recordings_s3_endpoint_url: str | None = None  # MinIO, R2, …; None: AWS
    recordings_s3_region: str | None = None
    recordings_s3_prefix: str = ""  # prepended to each object key, e.g. "callwright/"
    recordings_s3_access_key_id: str | None = Field(default=None, repr=False)
    recordings_s3_secret_access_key: str | None = Field(default=None, repr=False)
    recording_url_ttl_secs: int = Field(default=7 * 24 * 3600, gt=0, le=366 * 24 * 3600)

    # Hostile-internet limits (docs/operations.md, "Security settings"). Request bodies in bytes: the Partner
    # and admin APIs' JSON, the agent routes (a prompt may be 120,000 characters, up to 6 bytes
    # each once JSON-escaped), carrier callbacks; larger ones are refused 413 as they arrive.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_agent_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_callback_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # A request's body must arrive within this many seconds of its headers (408 otherwise); the
    # headers within request_header_timeout_secs of the connection or of its previous response.
    request_body_timeout_secs: float = Field(default=30.0, gt=0)
    request_header_timeout_secs: float = Field(default=10.0, gt=0)
    # Failed authentication (API keys, admin token) per client address, and per key prefix across
    # all addresses, in the `limits` notation ("20/minute"); see api/auth_throttle.py.
    auth_failure_limit: str = "20/minute"
    auth_prefix_failure_limit: str = "100/minute"
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For / -Proto are believed.
    # Empty: the connecting address is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Origins (scheme://host[:port], comma-separated) whose pages may call the APIs from a browser,
    # e.g. the console's. Empty: no CORS headers at all.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # /docs, /redoc and /openapi.json. Unset: served in development, not in production.
    docs_enabled: bool | None = None

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"CALLWRIGHT_TRUSTED_PROXIES: {item!r} is not an IP address or network"
                ) from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or origin != f"{parts.scheme}://{parts.netloc}":
                raise ValueError(
                    f"CALLWRIGHT_CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port], "
                    "no path, no wildcard)"
                )
        return value

    @field_validator("auth_failure_limit", "auth_prefix_failure_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate such as 20/minute") from None
        return value

    @model_validator(mode="after")
    def _reconciler_sees_heartbeats(self) -> Settings:
        if self.reconcile_after_secs < 2 * self.reconcile_interval_secs:
            raise ValueError(
                "CALLWRIGHT_RECONCILE_AFTER_SECS must be at least twice "
                "CALLWRIGHT_RECONCILE_INTERVAL_SECS, or live calls on other nodes look lost"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            for name, value in (("SECRET_KEY", self.secret_key), ("ADMIN_TOKEN", self.admin_token)):
                if not value or len(value) < MIN_SECRET_KEY_LENGTH:
                    raise ValueError(
                        f"CALLWRIGHT_{name} must be set to at least 32 characters in production"
                    )
                if (weakness := secret_weakness(value)) is not None:
                    raise ValueError(
                        f"CALLWRIGHT_{name} is too easy to guess ({weakness}); in production use "
                        f"{MIN_SECRET_BITS} bits of randomness or more, e.g. the output of "
                        "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
                    )
            if urlsplit(self.public_url).scheme != "https":
                raise ValueError(
                    "CALLWRIGHT_PUBLIC_URL must be an https:// URL in production: carriers send "
                    "per-call tokens and recordings are fetched with signed URLs through it"
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def serves_docs(self) -> bool:
        return not self.is_production if self.docs_enabled is None else self.docs_enabled

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'callwright.db').as_posix()}"

    @property
    def public_ws_url(self) -> str:
        """The WebSocket base carriers connect to: http→ws, https→wss."""
        parts = urlsplit(self.public_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    def master_keys(self) -> list[str]:
        """Current master key first, then any previous ones (for decryption during rotation)."""
        keys = [self.secret_key or load_or_create_dev_secret(self.var_dir)]
        if self.previous_secret_keys:
            keys += [k.strip() for k in self.previous_secret_keys.split(",") if k.strip()]
        return keys

    def resolved_admin_token(self) -> str | None:
        return self.admin_token

    @property
    def default_rate_paise(self) -> int:
        """``default_rate_per_minute`` in paise per minute."""
        return int(self.default_rate_per_minute * 100)

    def cloud_speech_providers(self) -> list[str]:
        """The cloud speech providers the operator set a key for."""
        return [
            name
            for name in CLOUD_SPEECH_PROVIDERS
            if (getattr(self, f"{name}_api_key") or "").strip()
        ]


def secret_weakness(value: str) -> str | None:
    """Why ``value`` is too easy to guess for a production secret, or None.

    An estimate, not a measure: the string's length times the Shannon entropy of its characters'
    frequencies must reach ``MIN_SECRET_BITS``, it must use ``MIN_DISTINCT_CHARACTERS`` different
    characters, and it must not be a shorter string repeated. ``secrets.token_urlsafe(48)`` and 64
    hex digits pass; one repeated character, ``changeme…`` or a 32-digit hex string do not."""
    distinct = len(set(value))
    if distinct < MIN_DISTINCT_CHARACTERS:
        return f"only {distinct} different characters"
    if (value + value).find(value, 1) < len(value):
        return "a shorter string repeated"
    counts = Counter(value)
    bits = -sum(n * math.log2(n / len(value)) for n in counts.values())
    if bits < MIN_SECRET_BITS:
        return f"about {bits:.0f} bits"
    return None


def dev_secret_path(var_dir: Path) -> Path:
    return var_dir / "secret_key"


def load_or_create_dev_secret(var_dir: Path) -> str:
    """Development only: a master key generated once into ``var/secret_key`` with mode 0600."""
    path = dev_secret_path(var_dir)
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race; use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
