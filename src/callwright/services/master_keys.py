"""Master-key rotation: re-seal every stored carrier secret under the current master key.

Two ways to rotate:

* Configured keys (any environment). The operator sets the new key as ``CALLWRIGHT_SECRET_KEY`` and
  the old one in ``CALLWRIGHT_PREVIOUS_SECRET_KEYS``, restarts, runs ``rotate_master_key``, then
  drops the old key. The secret box opens with any configured key and seals with the first, so every
  step can be interrupted and re-run.

* The development key file (``rotate_dev_master_key``). The key lives in ``var/secret_key``; a fresh
  one is generated and swapped in. The ordering guarantees that at every instant each stored value
  opens with a key that is on disk:

  1. write the new key to ``secret_key.next`` (0600, fsync'd) — never overwritten once it exists;
  2. re-seal everything under it in one transaction (the old key still opens);
  3. copy the old key to ``secret_key.previous``, then atomically rename ``.next`` over
     ``secret_key``;
  4. a second pass re-seals anything a process still holding the old key wrote meanwhile; when all
     rows are under the new key, ``secret_key.previous`` is deleted.

  A crash leaves ``.next`` (resume with that same key: the database may already use it) or
  ``.previous`` alone (the swap happened: finish from step 4). Running the rotation again resumes.
  A process holding the old key in memory (a running server) must be stopped first: whatever it
  seals after step 4 would be under a key no longer on disk.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.errors import CallwrightError, Conflict
from callwright.services import telephony, webhooks
from callwright.settings import dev_secret_path
from callwright.store.models import Partner, TelephonyConnection, WebhookEndpoint
from callwright.store.secretbox import SecretBox, SecretBoxError


class UnreadableSecrets(CallwrightError):
    """Some stored value opens with none of the configured keys; nothing was changed."""

    status_code = 409
    code = "secrets_unreadable"


@dataclass(frozen=True, slots=True)
class RotationResult:
    resealed: int
    already_current: int
    key_id: str  # fingerprint of the key everything is now sealed under
    resumed: bool = False  # finished a rotation an earlier run had started


async def unreadable_connections(*, session: AsyncSession, secretbox: SecretBox) -> list[str]:
    """Connections whose sealed secrets this box cannot open, described for the operator."""
    rows = await session.execute(
        select(TelephonyConnection, Partner.name).join(
            Partner, Partner.id == TelephonyConnection.partner_id
        )
    )
    problems = []
    for connection, partner_name in rows:
        try:
            telephony.open_secrets(connection, secretbox=secretbox)
        except SecretBoxError as exc:
            problems.append(f"{partner_name}/{connection.provider} ({exc})")
    endpoints = await session.execute(
        select(WebhookEndpoint, Partner.name).join(Partner, Partner.id == WebhookEndpoint.partner_id)
    )
    for endpoint, partner_name in endpoints:
        try:
            webhooks.open_secret(endpoint, secretbox=secretbox)
        except SecretBoxError as exc:
            problems.append(f"{partner_name}/webhook {endpoint.label} ({exc})")
    return problems


async def rotate_master_key(*, session: AsyncSession, secretbox: SecretBox) -> RotationResult:
    """Re-seal under ``secretbox``'s current key. Refuses, changing nothing, if any value won't open."""
    problems = await unreadable_connections(session=session, secretbox=secretbox)
    if problems:
        raise UnreadableSecrets(
            f"{len(problems)} stored secret(s) open with none of the configured master keys "
            f"({'; '.join(problems)}); add the key that sealed them to "
            "CALLWRIGHT_PREVIOUS_SECRET_KEYS and run the rotation again",
            details=problems,
        )
    resealed, current = await telephony.rotate_secrets(session=session, secretbox=secretbox)
    hooks_resealed, hooks_current = await webhooks.rotate_sealed_secrets(session=session, secretbox=secretbox)
    return RotationResult(
        resealed=resealed + hooks_resealed,
        already_current=current + hooks_current,
        key_id=secretbox.current_key_id,
    )


def next_key_path(var_dir: Path) -> Path:
    return dev_secret_path(var_dir).with_name("secret_key.next")


def previous_key_path(var_dir: Path) -> Path:
    return dev_secret_path(var_dir).with_name("secret_key.previous")


def interrupted_dev_rotation(var_dir: Path) -> Path | None:
    """The leftover file of an interrupted development rotation, if any."""
    for path in (next_key_path(var_dir), previous_key_path(var_dir)):
        if path.exists():
            return path
    return None


async def rotate_dev_master_key(
    *,
    sessions: async_sessionmaker[AsyncSession],
    var_dir: Path,
    extra_keys: list[str] | None = None,
) -> RotationResult:
    """Generate a new ``var/secret_key`` and re-seal everything under it (see the module docstring).

    ``extra_keys`` (e.g. ``CALLWRIGHT_PREVIOUS_SECRET_KEYS``) may still open older values.
    """
    extra = list(extra_keys or [])
    current_path, next_path = dev_secret_path(var_dir), next_key_path(var_dir)
    previous_path = previous_key_path(var_dir)
    with _exclusive_lock(var_dir):
        on_disk = _read_key(current_path)
        if on_disk is None:
            raise CallwrightError(
                f"there is no development master key at {current_path} to rotate from",
                code="no_dev_key",
            )
        new = _read_key(next_path)
        resumed = new is not None
        if new is None:
            leftover = _read_key(previous_path)
            if leftover is not None:
                # Crashed after the swap: `secret_key` already holds the new key.
                result = await _finish(
                    sessions, current_path, previous_path, on_disk, [leftover, *extra]
                )
                return RotationResult(result.resealed, result.already_current, result.key_id, True)
            new = secrets.token_urlsafe(48)
            _write_key(next_path, new)
        old = on_disk  # `.next` exists, so the swap has not happened: this is the old key

        async with sessions() as session:
            try:
                first = await rotate_master_key(
                    session=session, secretbox=SecretBox([new, old, *extra])
                )
            except UnreadableSecrets:
                if not resumed:  # refused before any write: nothing can be sealed under `new`
                    next_path.unlink(missing_ok=True)
                raise
        _write_key(previous_path, old)
        os.replace(next_path, current_path)
        _fsync_dir(var_dir)
        final = await _finish(sessions, current_path, previous_path, new, [old, *extra])
        return RotationResult(
            resealed=first.resealed + final.resealed,
            already_current=first.already_current,
            key_id=final.key_id,
            resumed=resumed,
        )


async def _finish(
    sessions: async_sessionmaker[AsyncSession],
    current_path: Path,
    previous_path: Path,
    new: str,
    older: list[str],
) -> RotationResult:
    """Re-seal stragglers, check every value opens under ``new`` alone, then drop the old key file."""
    async with sessions() as session:
        result = await rotate_master_key(session=session, secretbox=SecretBox([new, *older]))
        problems = await unreadable_connections(session=session, secretbox=SecretBox([new]))
    if problems:
        raise Conflict(
            f"{len(problems)} stored secret(s) still do not open under the new key; "
            f"{previous_path} was kept — run the rotation again",
            code="rotation_incomplete",
        )
    previous_path.unlink(missing_ok=True)
    _fsync_dir(current_path.parent)
    return result


def _read_key(path: Path) -> str | None:
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        return None
    return key or None


def _write_key(path: Path, key: str) -> None:
    """Write a key file atomically with mode 0600: a crash leaves the old file or the new, whole."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a crashed run's leftover; O_EXCL then guarantees mode 0600
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _exclusive_lock(var_dir: Path) -> Iterator[None]:
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(var_dir / "secret_key.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                "another `callwright secrets rotate --generate` is running", code="rotation_running"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

