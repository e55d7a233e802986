"""Where finished call recordings are kept: one small interface, one module per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

# Bytes per read when a recording is streamed to a client.
READ_CHUNK_BYTES = 64 * 1024


class StorageError(Exception):
    """The backend could not store, read or delete a recording (the message names no secret)."""


class RecordingStorage(Protocol):
    name: str

    async def put(self, key: str, source: Path) -> None:
        """Store the file at ``source`` under ``key``; ``source`` is consumed (moved or removed)."""
        ...

    async def size(self, key: str) -> int | None:
        """The stored recording's size in bytes, or None when there is none under ``key``."""
        ...

    def read(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``[start, end]`` (inclusive, as in an HTTP Range) of the recording, in chunks."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the recording; removing one that is not there is not an error."""
        ...
