"""Recordings in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Backblaze B2, …).

boto3 is synchronous, so every request runs in a worker thread. The access key and secret go to
boto3 only: errors are reported by their S3 error code, never with the client's configuration.
Without an access key, boto3's own credential chain applies (environment, instance profile).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from callwright.recordings.base import READ_CHUNK_BYTES, StorageError
from callwright.settings import Settings


class S3Storage:
    name = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        import boto3  # only when S3 is configured
        from botocore.config import Config

        if not settings.recordings_s3_bucket:
            raise ValueError("CALLWRIGHT_RECORDINGS_S3_BUCKET must be set to keep recordings on S3")
        client = boto3.client(
            "s3",
            endpoint_url=settings.recordings_s3_endpoint_url,
            region_name=settings.recordings_s3_region,
            aws_access_key_id=settings.recordings_s3_access_key_id,
            aws_secret_access_key=settings.recordings_s3_secret_access_key,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )
        return cls(client, settings.recordings_s3_bucket, settings.recordings_s3_prefix)

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    async def put(self, key: str, source: Path) -> None:
        try:
            await asyncio.to_thread(
                self._client.upload_file,
                str(source),
                self.bucket,
                self._key(key),
                ExtraArgs={"ContentType": "audio/wav"},
            )
        except Exception as exc:
            raise StorageError(f"S3 refused the recording upload: {_reason(exc)}") from None
        finally:
            source.unlink(missing_ok=True)

    async def size(self, key: str) -> int | None:
        try:
            head = await asyncio.to_thread(
                self._client.head_object, Bucket=self.bucket, Key=self._key(key)
            )
        except Exception as exc:
            if _status(exc) == 404:
                return None
            raise StorageError(f"S3 could not say whether the recording exists: {_reason(exc)}") from None
        return int(head["ContentLength"])

    async def read(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        byte_range = f"bytes={start}-{'' if end is None else end}"
        try:
            response = await asyncio.to_thread(
                self._client.get_object, Bucket=self.bucket, Key=self._key(key), Range=byte_range
            )
        except Exception as exc:
            raise StorageError(f"S3 could not read the recording: {_reason(exc)}") from None
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, READ_CHUNK_BYTES):
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(
                self._client.delete_object, Bucket=self.bucket, Key=self._key(key)
            )
        except Exception as exc:
            raise StorageError(f"S3 could not delete the recording: {_reason(exc)}") from None


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def _reason(exc: BaseException) -> str:
    """The S3 error code (e.g. ``AccessDenied``, ``NoSuchBucket``), or the exception's kind.
    boto3's upload wraps the S3 error in an ``S3UploadFailedError``: its cause has the code.
    With no code anywhere, the kinds along the chain, and an HTTP status if one came: never an
    exception's text, which may quote the request."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code"):
            return str(response["Error"]["Code"])
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    kinds = " from ".join(link.__class__.__name__ for link in chain)
    status = next((code for link in chain if (code := _status(link)) is not None), None)
    return kinds if status is None else f"{kinds} (HTTP {status})"
