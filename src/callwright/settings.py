"""One validated settings object, read from ``CALLWRIGHT_*`` environment variables.

Safe local defaults: an SQLite store and a generated master key under ``./var``. In production
(``CALLWRIGHT_ENV=production``) the platform refuses to start without an explicit secret key and
admin token.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32


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
    # Run the background workers (the dialer) in this process.
    workers_enabled: bool = True
    # Load the voice models (Silero VAD, Piper voices) at start-up rather than on the first call.
    preload_voice_models: bool = True

    vobiz_api_url: str = "https://api.vobiz.ai/api/v1"
    plivo_api_url: str = "https://api.plivo.com/v1"
    twilio_api_url: str = "https://api.twilio.com/2010-04-01"
    # Exotel's host is the connection's own subdomain; when set, this replaces scheme and host.
    exotel_api_url: str | None = None
    mcube_api_url: str = "https://api.mcube.com/Restmcube-api"
    carrier_timeout_secs: float = 10.0

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

    # Conversation rules every call follows (seconds; 0 turns the silence timeout off).
    silence_timeout_secs: float = Field(default=15.0, ge=0)
    silence_prompt: str = "Are you still there?"
    duration_warning_message: str = "Just so you know, we have about thirty seconds left on this call."
    closing_line: str = "Thank you for your time. Goodbye."

    default_concurrency_limit: int = 10
    default_agent_limit: int = 50

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            if not self.secret_key or len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
                raise ValueError(
                    "CALLWRIGHT_SECRET_KEY must be set to at least 32 characters in production"
                )
            if not self.admin_token or len(self.admin_token) < MIN_SECRET_KEY_LENGTH:
                raise ValueError(
                    "CALLWRIGHT_ADMIN_TOKEN must be set to at least 32 characters in production"
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

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


def dev_secret_path(var_dir: Path) -> Path:
    return var_dir / "secret_key"


def load_or_create_dev_secret(var_dir: Path) -> str:
    """Development only: a master key generated once into ``var/secret_key`` with mode 0600."""
    path = dev_secret_path(var_dir)
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
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
