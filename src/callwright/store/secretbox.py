"""Carrier secrets at rest: AES-256-GCM under a key derived from the operator's master key.

A sealed value is ``v1.<key id>.<nonce>.<ciphertext+tag>`` (url-safe base64 parts). The key id is
a fingerprint of the derived key, so a value sealed under an older master key can still be opened
while ``callwright secrets rotate`` re-seals everything under the current one. The associated data
binds a value to its row, so a sealed blob copied onto another connection does not open.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"
_HKDF_INFO = b"callwright secretbox v1"


class SecretBoxError(Exception):
    """A sealed value could not be opened: unknown key, or tampered/corrupted data."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_subkey(master_key: str, info: bytes) -> bytes:
    """A 32-byte key for one purpose, derived from a master key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        master_key.encode()
    )


def _derive(master_key: str) -> bytes:
    return derive_subkey(master_key, _HKDF_INFO)


class SecretBox:
    """Seals with the first master key; opens with any of them."""

    def __init__(self, master_keys: list[str]) -> None:
        if not master_keys:
            raise ValueError("at least one master key is required")
        self._keys: dict[str, AESGCM] = {}
        self.current_key_id = ""
        for i, master in enumerate(master_keys):
            derived = _derive(master)
            key_id = hashlib.sha256(derived).hexdigest()[:12]
            self._keys.setdefault(key_id, AESGCM(derived))
            if i == 0:
                self.current_key_id = key_id

    def seal(self, secrets: dict[str, Any], *, context: str) -> str:
        nonce = os.urandom(12)
        plaintext = json.dumps(secrets, separators=(",", ":"), sort_keys=True).encode()
        ciphertext = self._keys[self.current_key_id].encrypt(nonce, plaintext, context.encode())
        return ".".join((_VERSION, self.current_key_id, _b64(nonce), _b64(ciphertext)))

    def open(self, sealed: str, *, context: str) -> dict[str, Any]:
        try:
            version, key_id, nonce, ciphertext = sealed.split(".")
        except ValueError:
            raise SecretBoxError("sealed value is malformed") from None
        if version != _VERSION:
            raise SecretBoxError(f"unknown sealed-value version {version!r}")
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise SecretBoxError(
                f"sealed with key {key_id}, which is not among the configured master keys"
            )
        try:
            plaintext = cipher.decrypt(_unb64(nonce), _unb64(ciphertext), context.encode())
        except InvalidTag:
            raise SecretBoxError("sealed value failed authentication") from None
        return json.loads(plaintext)

    def key_id_of(self, sealed: str) -> str:
        return sealed.split(".")[1]
