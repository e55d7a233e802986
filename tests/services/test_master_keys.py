"""Master-key rotation: nothing is ever sealed under a key that is no longer on disk or configured."""

from __future__ import annotations

import os
import stat

import pytest

from callwright.domain.providers import Provider
from callwright.services import master_keys
from callwright.settings import dev_secret_path, load_or_create_dev_secret
from callwright.store.secretbox import SecretBox, SecretBoxError
from tests.conftest import make_partner
from tests.connection_rows import VOBIZ_SECRETS, open_connection, store_connection

OLD = "old-master-key-" + "o" * 32
NEW = "new-master-key-" + "n" * 32
STRANGER = "unknown-master-key-" + "x" * 32


async def test_rotation_reseals_old_values_under_the_current_key(platform):
    acme = await make_partner(platform, "acme-corp")
    globex = await make_partner(platform, "globex")
    old_row = await store_connection(platform.sessions, partner_id=acme.id, master_key=OLD)
    new_row = await store_connection(
        platform.sessions, partner_id=globex.id, provider=Provider.PLIVO, master_key=NEW
    )

    async with platform.sessions() as session:
        result = await master_keys.rotate_master_key(
            session=session, secretbox=SecretBox([NEW, OLD])
        )

    assert (result.resealed, result.already_current) == (1, 1)
    assert result.key_id == SecretBox([NEW]).current_key_id
    for row in (old_row, new_row):
        assert await open_connection(platform.sessions, row, NEW) == VOBIZ_SECRETS
    with pytest.raises(SecretBoxError):
        await open_connection(platform.sessions, old_row, OLD)


async def test_rotation_changes_nothing_when_a_value_opens_with_no_configured_key(platform):
    acme = await make_partner(platform, "acme-corp")
    globex = await make_partner(platform, "globex")
    readable = await store_connection(platform.sessions, partner_id=acme.id, master_key=OLD)
    await store_connection(platform.sessions, partner_id=globex.id, master_key=STRANGER)

    async with platform.sessions() as session:
        with pytest.raises(master_keys.UnreadableSecrets, match="globex/vobiz"):
            await master_keys.rotate_master_key(session=session, secretbox=SecretBox([NEW, OLD]))

    assert await open_connection(platform.sessions, readable, OLD) == VOBIZ_SECRETS


# --- development key file -------------------------------------------------------------------


def _key_files(var_dir) -> list[str]:
    return sorted(p.name for p in var_dir.iterdir() if p.name.startswith("secret_key"))


async def test_dev_rotation_swaps_the_key_file_and_leaves_nothing_behind(platform, tmp_path):
    var_dir = tmp_path / "var"
    old = load_or_create_dev_secret(var_dir)
    acme = await make_partner(platform, "acme-corp")
    row = await store_connection(platform.sessions, partner_id=acme.id, master_key=old)

    result = await master_keys.rotate_dev_master_key(sessions=platform.sessions, var_dir=var_dir)

    new = dev_secret_path(var_dir).read_text().strip()
    assert new != old and len(new) >= 32
    assert result.resealed == 1 and not result.resumed
    assert result.key_id == SecretBox([new]).current_key_id
    assert stat.S_IMODE(dev_secret_path(var_dir).stat().st_mode) == 0o600
    assert _key_files(var_dir) == ["secret_key", "secret_key.lock"]
    assert await open_connection(platform.sessions, row, new) == VOBIZ_SECRETS


async def test_dev_rotation_crash_before_swap_resumes_with_the_same_new_key(
    platform, tmp_path, monkeypatch
):
    var_dir = tmp_path / "var"
    old = load_or_create_dev_secret(var_dir)
    acme = await make_partner(platform, "acme-corp")
    row = await store_connection(platform.sessions, partner_id=acme.id, master_key=old)
    real_replace = os.replace

    def crash_on_swap(src, dst):
        if str(dst) == str(dev_secret_path(var_dir)):
            raise OSError("simulated crash during the swap")
        real_replace(src, dst)

    monkeypatch.setattr(master_keys.os, "replace", crash_on_swap)
    with pytest.raises(OSError, match="simulated crash"):
        await master_keys.rotate_dev_master_key(sessions=platform.sessions, var_dir=var_dir)
    monkeypatch.setattr(master_keys.os, "replace", real_replace)

    # The re-seal committed under the key in `.next`; `secret_key` still holds the old one.
    pending = master_keys.next_key_path(var_dir).read_text().strip()
    assert dev_secret_path(var_dir).read_text().strip() == old
    assert stat.S_IMODE(master_keys.next_key_path(var_dir).stat().st_mode) == 0o600
    assert await open_connection(platform.sessions, row, pending) == VOBIZ_SECRETS
    assert master_keys.interrupted_dev_rotation(var_dir) is not None

    result = await master_keys.rotate_dev_master_key(sessions=platform.sessions, var_dir=var_dir)

    assert result.resumed
    assert dev_secret_path(var_dir).read_text().strip() == pending
    assert _key_files(var_dir) == ["secret_key", "secret_key.lock"]
    assert await open_connection(platform.sessions, row, pending) == VOBIZ_SECRETS


async def test_dev_rotation_crash_before_commit_resumes(platform, tmp_path, monkeypatch):
    var_dir = tmp_path / "var"
    old = load_or_create_dev_secret(var_dir)
    acme = await make_partner(platform, "acme-corp")
    row = await store_connection(platform.sessions, partner_id=acme.id, master_key=old)

    async def crash(**_):
        raise RuntimeError("simulated crash before the commit")

    monkeypatch.setattr(master_keys, "rotate_master_key", crash)
    with pytest.raises(RuntimeError):
        await master_keys.rotate_dev_master_key(sessions=platform.sessions, var_dir=var_dir)
    monkeypatch.undo()

    pending = master_keys.next_key_path(var_dir).read_text().strip()
    assert await open_connection(platform.sessions, row, old) == VOBIZ_SECRETS

    result = await master_keys.rotate_dev_master_key(sessions=platform.sessions, var_dir=var_dir)

    assert result.resumed and result.resealed == 1
    assert dev_secret_path(var_dir).read_text().strip() == pending
    assert await open_connection(platform.sessions, row, pending) == VOBIZ_SECRETS


async def test_dev_rotation_crash_after_swap_keeps_the_old_key_until_stragglers_are_resealed(
    platform, tmp_path, monkeypatch
):
    var_dir = tmp_path / "var"
    old = load_or_create_dev_secret(var_dir)
    acme = await make_partner(platform, "acme-corp")
    await store_connection(platform.sessions, partner_id=acme.id, master_key=old)

    async def crash(*_args):
        raise RuntimeError("simulated crash after the swap")

    monkeypatch.setattr(master_keys, "_finish", crash)
    with pytest.raises(RuntimeError):
        await master_keys.rotate_dev_master_key(sessions=platform.sessions, var_dir=var_dir)
    monkeypatch.undo()

    new = dev_secret_path(var_dir).read_text().strip()
    assert master_keys.previous_key_path(var_dir).read_text().strip() == old
    # A server that still held the old key writes a value meanwhile.
    globex = await make_partner(platform, "globex")
    straggler = await store_connection(platform.sessions, partner_id=globex.id, master_key=old)

    result = await master_keys.rotate_dev_master_key(sessions=platform.sessions, var_dir=var_dir)

    assert result.resumed and result.resealed == 1
    assert dev_secret_path(var_dir).read_text().strip() == new
    assert _key_files(var_dir) == ["secret_key", "secret_key.lock"]
    assert await open_connection(platform.sessions, straggler, new) == VOBIZ_SECRETS


async def test_dev_rotation_refused_leaves_the_key_files_as_they_were(platform, tmp_path):
    var_dir = tmp_path / "var"
    old = load_or_create_dev_secret(var_dir)
    acme = await make_partner(platform, "acme-corp")
    await store_connection(platform.sessions, partner_id=acme.id, master_key=STRANGER)

    with pytest.raises(master_keys.UnreadableSecrets):
        await master_keys.rotate_dev_master_key(sessions=platform.sessions, var_dir=var_dir)

    assert dev_secret_path(var_dir).read_text().strip() == old
    assert master_keys.interrupted_dev_rotation(var_dir) is None
