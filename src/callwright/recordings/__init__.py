"""Storage for finished call recordings, chosen by name.

``local`` (a directory, the default) and ``s3`` (any S3-compatible bucket, chosen by default when
``CALLWRIGHT_RECORDINGS_S3_BUCKET`` is set). ``CALLWRIGHT_RECORDINGS_STORAGE`` names one outright.
"""

from __future__ import annotations

from collections.abc import Callable

from callwright.recordings.base import RecordingStorage, StorageError
from callwright.recordings.local import LocalStorage
from callwright.recordings.s3 import S3Storage
from callwright.settings import Settings

STORAGES: dict[str, Callable[[Settings], RecordingStorage]] = {
    LocalStorage.name: LocalStorage.from_settings,
    S3Storage.name: S3Storage.from_settings,
}


def storage_from_settings(settings: Settings) -> RecordingStorage:
    name = settings.recordings_storage or ("s3" if settings.recordings_s3_bucket else "local")
    try:
        factory = STORAGES[name]
    except KeyError:
        raise ValueError(
            f"CALLWRIGHT_RECORDINGS_STORAGE must be one of {', '.join(sorted(STORAGES))}; got {name!r}"
        ) from None
    return factory(settings)


__all__ = ["STORAGES", "RecordingStorage", "StorageError", "storage_from_settings"]
