"""Recordings as files in a local directory (default: ``var/recordings``)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

from callwright.recordings.base import READ_CHUNK_BYTES, StorageError
from callwright.settings import Settings


class LocalStorage:
    name = "local"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalStorage:
        return cls(settings.recordings_dir or settings.var_dir / "recordings")

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or any(part in ("", ".", "..") or part.startswith("/") for part in parts):
            raise StorageError(f"not a recording key: {key!r}")
        return self.directory.joinpath(*parts)

    async def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        await asyncio.to_thread(_move_into_place, source, target)

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def read(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        file = await asyncio.to_thread(open, self._path(key), "rb")
        try:
            await asyncio.to_thread(file.seek, start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                size = READ_CHUNK_BYTES if left is None else min(READ_CHUNK_BYTES, left)
                chunk = await asyncio.to_thread(file.read, size)
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(file.close)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


def _move_into_place(source: Path, target: Path) -> None:
    # Recordings are the owner's alone: files 0600, directories 0700.
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        # Readers see the whole file or none of it.
        shutil.move(source, partial)
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"could not store the recording in {target.parent}: {exc.strerror}") from exc
