"""Credentials at rest: the access log of a served app never holds a signed recording URL's
signature, and the database (with its WAL and SHM), recordings and var/ are the owner's alone,
whatever the umask."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import stat
import wave
from pathlib import Path

import pytest
from sqlalchemy import text

from callwright.api.app import create_app
from callwright.recordings.local import LocalStorage
from callwright.services.recordings import signed_recording_url
from callwright.settings import load_or_create_dev_secret
from callwright.store.db import SqliteFile, create_engine
from callwright.voice.recorder import CallRecorder


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():
    """The usual 022: without explicit modes, new files would be readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


async def test_the_access_log_never_holds_a_recording_signature(platform):
    import uvicorn

    from callwright.serving import uvicorn_options

    url, _ = signed_recording_url(platform=platform, call_id="c1")
    signature = url.rsplit("sig=", 1)[1]
    config = uvicorn.Config(
        create_app(platform=platform), host="127.0.0.1", port=0, lifespan="off",
        **uvicorn_options(platform.settings),
    )  # configures uvicorn's loggers as `callwright serve` does
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("uvicorn.access").addHandler(handler)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        path = url.split("8080", 1)[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        await asyncio.wait_for(reader.read(), 30)
        writer.close()
    finally:
        server.should_exit = True
        await task
        logging.getLogger("uvicorn.access").removeHandler(handler)
    logged = lines.getvalue()
    assert "/recordings/c1.wav?expires=" in logged and "sig=****" in logged
    assert signature not in logged


def test_a_new_database_its_wal_and_shm_are_private(tmp_path, permissive_umask):
    database = tmp_path / "fresh" / "callwright.db"

    async def write_once() -> None:
        engine = create_engine(f"sqlite:///{database}")
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            assert database.with_name("callwright.db-wal").exists()  # still open: WAL and SHM exist
            for suffix in ("", "-wal", "-shm"):
                assert mode(database.with_name("callwright.db" + suffix)) == 0o600, suffix
        await engine.dispose()

    asyncio.run(write_once())
    assert mode(database.parent) == 0o700
    writer = SqliteFile.of(create_engine(f"sqlite:///{database}"))
    assert writer is not None
    asyncio.run(writer.write(lambda session: session.execute(text("INSERT INTO t VALUES (2)"))))
    writer.close()
    assert mode(Path(str(database) + "-write.lock")) == 0o600


async def test_recordings_are_private(tmp_path, permissive_umask):
    recorder = CallRecorder(tmp_path / "work", sample_rate=8000)
    recorder.caller_audio(b"\x01\x00" * 160)
    written = await recorder.finish(tmp_path / "work" / "c1.wav")
    assert written is not None and mode(written) == 0o600 and mode(tmp_path / "work") == 0o700
    with wave.open(str(written)) as wav:
        assert wav.getnchannels() == 2
    storage = LocalStorage(tmp_path / "recordings")
    await storage.put("partner/c1.wav", written)
    stored = tmp_path / "recordings" / "partner" / "c1.wav"
    assert mode(stored) == 0o600
    assert mode(stored.parent) == 0o700


def test_the_var_directory_is_private(tmp_path, permissive_umask):
    load_or_create_dev_secret(tmp_path / "var")
    assert mode(tmp_path / "var") == 0o700
    assert mode(tmp_path / "var" / "secret_key") == 0o600


def test_serve_starts_with_a_private_umask():
    import subprocess
    import sys

    probe = "import os; from callwright.serving import restrict_new_files; restrict_new_files(); print(oct(os.umask(0)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0o77"
