"""Partner API keys: ``rg_live_…`` / ``rg_test_…``, shown once and stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

LIVE_PREFIX = "rg_live_"
TEST_PREFIX = "rg_test_"
_RANDOM_BYTES = 24  # 32 url-safe characters after the prefix


@dataclass(frozen=True, slots=True)
class NewApiKey:
    plaintext: str
    key_hash: str
    display_prefix: str
    test_mode: bool


def generate_api_key(*, test_mode: bool = False) -> NewApiKey:
    prefix = TEST_PREFIX if test_mode else LIVE_PREFIX
    plaintext = prefix + secrets.token_urlsafe(_RANDOM_BYTES)
    return NewApiKey(
        plaintext=plaintext,
        key_hash=hash_api_key(plaintext),
        display_prefix=plaintext[: len(prefix) + 4],
        test_mode=test_mode,
    )


def hash_api_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def looks_like_api_key(value: str) -> bool:
    return value.startswith((LIVE_PREFIX, TEST_PREFIX)) and len(value) >= len(LIVE_PREFIX) + 24


def hashes_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
