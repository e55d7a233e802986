"""Secrets at rest: authenticated encryption, key ids, rotation, binding to the row."""

from __future__ import annotations

import pytest

from callwright.store.secretbox import SecretBox, SecretBoxError

OLD = "old-master-key-" + "o" * 32
NEW = "new-master-key-" + "n" * 32


def test_round_trip_and_no_plaintext_in_sealed_value():
    box = SecretBox([OLD])
    sealed = box.seal({"auth_token": "super-secret-token"}, context="telephony:p1:vobiz")
    assert "super-secret-token" not in sealed
    assert box.open(sealed, context="telephony:p1:vobiz") == {"auth_token": "super-secret-token"}


def test_each_seal_uses_a_fresh_nonce():
    box = SecretBox([OLD])
    a = box.seal({"t": "x"}, context="c")
    b = box.seal({"t": "x"}, context="c")
    assert a != b


def test_wrong_context_does_not_open():
    box = SecretBox([OLD])
    sealed = box.seal({"t": "x"}, context="telephony:p1:vobiz")
    with pytest.raises(SecretBoxError):
        box.open(sealed, context="telephony:p2:vobiz")


def test_tampered_value_does_not_open():
    box = SecretBox([OLD])
    sealed = box.seal({"t": "x"}, context="c")
    version, key_id, nonce, ct = sealed.split(".")
    flipped = ct[:-2] + ("A" if ct[-2] != "A" else "B") + ct[-1]
    with pytest.raises(SecretBoxError):
        box.open(".".join((version, key_id, nonce, flipped)), context="c")


def test_rotation_old_values_open_with_previous_key_and_reseal_under_new():
    sealed_old = SecretBox([OLD]).seal({"t": "x"}, context="c")
    rotating = SecretBox([NEW, OLD])
    assert rotating.key_id_of(sealed_old) != rotating.current_key_id
    value = rotating.open(sealed_old, context="c")
    resealed = rotating.seal(value, context="c")
    assert rotating.key_id_of(resealed) == rotating.current_key_id
    assert SecretBox([NEW]).open(resealed, context="c") == {"t": "x"}
    with pytest.raises(SecretBoxError, match="not among the configured master keys"):
        SecretBox([NEW]).open(sealed_old, context="c")
