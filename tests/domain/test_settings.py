"""Settings: safe local defaults, refusal of unsafe production, derived URLs."""

from __future__ import annotations

import stat

import pytest
from pydantic import ValidationError

from callwright.settings import Settings, dev_secret_path, secret_weakness


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Each test sees only the CALLWRIGHT_* variables it sets itself."""
    import os

    for name in list(os.environ):
        if name.startswith("CALLWRIGHT_"):
            monkeypatch.delenv(name)


# Strong enough for production: random, as an operator would generate them.
STRONG_KEY = "Qm7vX2pL9sR4tW8yB3nD6fH1jK5cZ0aE"
STRONG_TOKEN = "u8Fq3Lz7Wp2Xr6Ns1Tb9Yc4Vd0Hg5KjM"
PUBLIC = "https://calls.example.com"


def test_production_refuses_to_start_without_explicit_secrets(monkeypatch):
    monkeypatch.delenv("CALLWRIGHT_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="CALLWRIGHT_SECRET_KEY"):
        Settings(env="production", admin_token=STRONG_TOKEN, public_url=PUBLIC)
    with pytest.raises(ValidationError, match="CALLWRIGHT_SECRET_KEY"):
        Settings(env="production", secret_key="short", admin_token=STRONG_TOKEN, public_url=PUBLIC)
    with pytest.raises(ValidationError, match="CALLWRIGHT_ADMIN_TOKEN"):
        Settings(env="production", secret_key=STRONG_KEY, public_url=PUBLIC)
    assert Settings(env="production", secret_key=STRONG_KEY, admin_token=STRONG_TOKEN, public_url=PUBLIC).is_production


@pytest.mark.parametrize(
    "weak, why",
    [
        ("s" * 40, "only 1 different characters"),
        ("abcdefghijkl" * 4, "a shorter string repeated"),
        ("changeme-changeme-changeme-changeme", "only 8 different characters"),
        ("9f86d081884c7d659a2feaa0c55ad015", "about 116 bits"),  # 32 hex digits: under 128 by the estimate
    ],
)
@pytest.mark.parametrize("name", ["SECRET_KEY", "ADMIN_TOKEN"])
def test_production_refuses_secrets_that_are_easy_to_guess(name, weak, why):
    values = {"secret_key": STRONG_KEY, "admin_token": STRONG_TOKEN} | {name.lower(): weak}
    with pytest.raises(ValidationError, match=f"CALLWRIGHT_{name} is too easy to guess \\({why}"):
        Settings(env="production", public_url=PUBLIC, **values)
    assert Settings(**values).secret_key  # development takes them


def test_generated_secrets_pass():
    import secrets

    for key in (secrets.token_urlsafe(48), secrets.token_hex(32), secrets.token_urlsafe(24)):
        assert secret_weakness(key) is None, key


def test_production_refuses_a_public_url_that_is_not_https():
    with pytest.raises(ValidationError, match="CALLWRIGHT_PUBLIC_URL must be an https:// URL in production"):
        Settings(env="production", secret_key=STRONG_KEY, admin_token=STRONG_TOKEN, public_url="http://calls.example.com")
    with pytest.raises(ValidationError, match="CALLWRIGHT_PUBLIC_URL"):  # the development default
        Settings(env="production", secret_key=STRONG_KEY, admin_token=STRONG_TOKEN)
    assert Settings(public_url="http://127.0.0.1:8080").public_url.startswith("http://")


def test_production_with_explicit_key_generates_no_development_key(tmp_path):
    settings = Settings(
        env="production", secret_key=STRONG_KEY, admin_token=STRONG_TOKEN, public_url=PUBLIC, var_dir=tmp_path
    )
    assert settings.master_keys() == [STRONG_KEY]
    assert not dev_secret_path(tmp_path).exists()


def test_security_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("CALLWRIGHT_CORS_ORIGINS", "https://console.example.com, http://localhost:5173")
    monkeypatch.setenv("CALLWRIGHT_TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1")
    settings = Settings()
    assert settings.cors_origins == ["https://console.example.com", "http://localhost:5173"]
    assert settings.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    assert (settings.auth_failure_limit, settings.auth_prefix_failure_limit) == ("20/minute", "100/minute")
    assert settings.serves_docs  # development
    production = Settings(env="production", secret_key=STRONG_KEY, admin_token=STRONG_TOKEN, public_url=PUBLIC)
    assert not production.serves_docs
    assert Settings(env="production", secret_key=STRONG_KEY, admin_token=STRONG_TOKEN, public_url=PUBLIC, docs_enabled=True).serves_docs


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("cors_origins", "*", "is not an origin"),
        ("cors_origins", "https://console.example.com/app", "is not an origin"),
        ("trusted_proxies", "proxy.internal", "is not an IP address or network"),
        ("auth_failure_limit", "twenty", "is not a rate such as 20/minute"),
    ],
)
def test_security_settings_refuse_what_they_cannot_mean(monkeypatch, field, value, words):
    monkeypatch.setenv(f"CALLWRIGHT_{field.upper()}", value)
    with pytest.raises(ValidationError, match=words):
        Settings()


def test_environment_variables_use_the_prefix(monkeypatch):
    monkeypatch.setenv("CALLWRIGHT_VOBIZ_API_URL", "http://127.0.0.1:9/vobiz/api/v1")
    monkeypatch.setenv("CALLWRIGHT_PUBLIC_URL", "https://calls.example.com")
    settings = Settings()
    assert settings.vobiz_api_url == "http://127.0.0.1:9/vobiz/api/v1"
    assert settings.public_ws_url == "wss://calls.example.com"
    assert Settings(public_url="http://127.0.0.1:8080/").public_ws_url == "ws://127.0.0.1:8080"


def test_real_carriers_are_the_defaults():
    settings = Settings()
    assert settings.vobiz_api_url == "https://api.vobiz.ai/api/v1"
    assert settings.plivo_api_url == "https://api.plivo.com/v1"
    assert settings.twilio_api_url == "https://api.twilio.com/2010-04-01"
    assert settings.exotel_api_url is None


def test_development_key_is_generated_once_with_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("CALLWRIGHT_SECRET_KEY", raising=False)
    settings = Settings(var_dir=tmp_path / "var")
    first = settings.master_keys()[0]
    path = dev_secret_path(tmp_path / "var")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert Settings(var_dir=tmp_path / "var").master_keys()[0] == first


def test_default_database_is_sqlite_under_var(tmp_path):
    settings = Settings(var_dir=tmp_path / "var")
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/var/callwright.db"
