"""Settings: safe local defaults, refusal of unsafe production, derived URLs."""

from __future__ import annotations

import stat

import pytest
from pydantic import ValidationError

from callwright.settings import Settings, dev_secret_path


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Each test sees only the CALLWRIGHT_* variables it sets itself."""
    import os

    for name in list(os.environ):
        if name.startswith("CALLWRIGHT_"):
            monkeypatch.delenv(name)


def test_production_refuses_to_start_without_explicit_secrets(monkeypatch):
    monkeypatch.delenv("CALLWRIGHT_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="CALLWRIGHT_SECRET_KEY"):
        Settings(env="production", admin_token="a" * 40)
    with pytest.raises(ValidationError, match="CALLWRIGHT_SECRET_KEY"):
        Settings(env="production", secret_key="short", admin_token="a" * 40)
    with pytest.raises(ValidationError, match="CALLWRIGHT_ADMIN_TOKEN"):
        Settings(env="production", secret_key="s" * 40)
    assert Settings(env="production", secret_key="s" * 40, admin_token="a" * 40).is_production


def test_production_with_explicit_key_generates_no_development_key(tmp_path):
    strong = "s" * 40
    settings = Settings(env="production", secret_key=strong, admin_token=strong, var_dir=tmp_path)
    assert settings.master_keys() == [strong]
    assert not dev_secret_path(tmp_path).exists()


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
