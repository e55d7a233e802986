"""Settings refuse to run production with default or missing secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from callwright.settings import Settings

STRONG = "s" * 40


@pytest.fixture(autouse=True)
def _no_callwright_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CALLWRIGHT_SECRET_KEY", "CALLWRIGHT_ADMIN_TOKEN", "CALLWRIGHT_ENV"):
        monkeypatch.delenv(name, raising=False)


def test_production_without_secret_key_refuses(tmp_path):
    with pytest.raises(ValidationError, match="CALLWRIGHT_SECRET_KEY"):
        Settings(env="production", admin_token=STRONG, var_dir=tmp_path)


def test_production_with_short_secret_key_refuses(tmp_path):
    with pytest.raises(ValidationError, match="CALLWRIGHT_SECRET_KEY"):
        Settings(env="production", secret_key="short", admin_token=STRONG, var_dir=tmp_path)


def test_production_without_admin_token_refuses(tmp_path):
    with pytest.raises(ValidationError, match="CALLWRIGHT_ADMIN_TOKEN"):
        Settings(env="production", secret_key=STRONG, var_dir=tmp_path)


def test_production_with_both_secrets_starts(tmp_path):
    settings = Settings(env="production", secret_key=STRONG, admin_token=STRONG, var_dir=tmp_path)
    assert settings.is_production
    assert settings.master_keys() == [STRONG]
    assert not (tmp_path / "secret_key").exists()  # no development key is generated
