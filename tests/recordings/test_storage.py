"""Each recordings storage backend keeps the same promises: put, size, (ranged) read, delete.
S3 runs against a real S3 server on loopback (moto's)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from callwright.recordings import STORAGES, RecordingStorage, StorageError, storage_from_settings
from callwright.recordings.local import LocalStorage
from callwright.recordings.s3 import S3Storage
from callwright.settings import Settings
from tests.s3_server import S3_SECRET_ACCESS_KEY, S3Server, running_s3_server

CONTENT = bytes(range(256)) * 700  # 179,200 bytes: several read chunks


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with running_s3_server() as server:
        yield server


def settings_for(tmp_path: Path, **fields: object) -> Settings:
    return Settings(var_dir=tmp_path / "var", secret_key="k" * 40, **fields)  # type: ignore[arg-type]


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path, s3_server) -> RecordingStorage:
    if request.param == "local":
        return storage_from_settings(settings_for(tmp_path))
    bucket = s3_server.new_bucket()
    return storage_from_settings(settings_for(tmp_path, **s3_server.settings(bucket, recordings_s3_prefix="cw/")))


def wav_file(tmp_path: Path, content: bytes = CONTENT) -> Path:
    path = tmp_path / "upload.wav"
    path.write_bytes(content)
    return path


async def read_all(storage: RecordingStorage, key: str, **span: int) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key, **span)])


async def test_a_stored_recording_reads_back_whole_and_in_ranges(storage, tmp_path):
    source = wav_file(tmp_path)
    await storage.put("partner-1/call-1.wav", source)
    assert not source.exists(), "put consumes the source file"
    assert await storage.size("partner-1/call-1.wav") == len(CONTENT)
    assert await read_all(storage, "partner-1/call-1.wav") == CONTENT
    assert await read_all(storage, "partner-1/call-1.wav", start=2, end=4) == CONTENT[2:5]
    assert await read_all(storage, "partner-1/call-1.wav", start=100_000) == CONTENT[100_000:]
    assert await read_all(storage, "partner-1/call-1.wav", start=70_000, end=140_000) == CONTENT[70_000:140_001]


async def test_a_missing_recording_has_no_size_and_delete_is_idempotent(storage, tmp_path):
    assert await storage.size("partner-1/none.wav") is None
    await storage.put("partner-1/call-2.wav", wav_file(tmp_path))
    await storage.delete("partner-1/call-2.wav")
    assert await storage.size("partner-1/call-2.wav") is None
    await storage.delete("partner-1/call-2.wav")


async def test_putting_again_replaces_the_recording(storage, tmp_path):
    await storage.put("p/c.wav", wav_file(tmp_path, b"first"))
    await storage.put("p/c.wav", wav_file(tmp_path, b"second take"))
    assert await read_all(storage, "p/c.wav") == b"second take"


def test_the_backend_is_chosen_by_name_or_by_a_configured_bucket(tmp_path, s3_server):
    assert set(STORAGES) == {"local", "s3"}
    local = storage_from_settings(settings_for(tmp_path))
    assert isinstance(local, LocalStorage) and local.directory == tmp_path / "var" / "recordings"
    elsewhere = storage_from_settings(settings_for(tmp_path, recordings_dir=tmp_path / "recs"))
    assert elsewhere.directory == tmp_path / "recs"
    s3 = storage_from_settings(settings_for(tmp_path, **s3_server.settings("some-bucket")))
    assert isinstance(s3, S3Storage) and s3.bucket == "some-bucket"
    forced = storage_from_settings(
        settings_for(tmp_path, recordings_storage="local", **s3_server.settings("some-bucket"))
    )
    assert isinstance(forced, LocalStorage)
    with pytest.raises(ValueError, match="CALLWRIGHT_RECORDINGS_S3_BUCKET"):
        storage_from_settings(settings_for(tmp_path, recordings_storage="s3"))


def test_the_s3_secret_is_not_in_the_settings_repr(tmp_path, s3_server):
    assert S3_SECRET_ACCESS_KEY not in repr(settings_for(tmp_path, **s3_server.settings("b")))


async def test_local_keys_cannot_leave_the_directory(tmp_path):
    storage = LocalStorage(tmp_path / "recs")
    for key in ("../escape.wav", "/etc/passwd", "a/../../b.wav", ""):
        with pytest.raises(StorageError):
            await storage.size(key)


async def test_s3_failures_name_the_s3_error_and_never_the_secret(tmp_path, s3_server, caplog):
    caplog.set_level(logging.DEBUG)
    storage = storage_from_settings(settings_for(tmp_path, **s3_server.settings("no-such-bucket")))
    source = wav_file(tmp_path)
    with pytest.raises(StorageError) as raised:
        await storage.put("p/c.wav", source)
    assert "NoSuchBucket" in str(raised.value)
    assert not source.exists(), "a failed upload does not leave the WAV behind"
    with pytest.raises(StorageError, match="NoSuchBucket"):
        await read_all(storage, "p/c.wav")
    assert S3_SECRET_ACCESS_KEY not in str(raised.value) + caplog.text


def test_an_s3_failure_without_an_error_code_names_the_chain_and_the_status():
    # boto3's exceptions as its upload raises them: an S3 error with no code (a bare 503 from a
    # proxy in front of the bucket) under the S3UploadFailedError wrapper. The message quotes
    # the request; the reason never does.
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError

    from callwright.recordings.s3 import _reason

    refused = ClientError({"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject")
    try:
        try:
            raise refused
        except ClientError as error:
            raise S3UploadFailedError(f"Failed to upload /tmp/x.wav to b/k: {error}")  # noqa: B904
    except S3UploadFailedError as wrapped:
        assert _reason(wrapped) == "S3UploadFailedError from ClientError (HTTP 503)"
    coded = ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject")
    assert _reason(coded) == "SlowDown"
