"""The fidelity tests that drive whole calls use the end-to-end platform (tests/e2e/conftest.py)."""

from tests.e2e.conftest import api, database_url, platform_server, platform_settings

__all__ = ["api", "database_url", "platform_server", "platform_settings"]
