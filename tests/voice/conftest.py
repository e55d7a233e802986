"""One media server for the voice tests, warm models, and two guards on every test: nothing from
the voice runtime logs a warning, and no Pipecat or voice task outlives its call."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from callwright.voice.engines import TTS_ENGINES
from callwright.voice.pipeline import CARRIER_SAMPLE_RATE
from callwright.voice.preload import preload_voice_models
from tests.voice.media_server import MediaServer, serving

VOICE = "piper-joe-us"
# Short lines keep the suite fast; the session fixture renders them into the speech cache.
INTRO = "Hello, this is Joe from Acme."
WATCHED_LOGGERS = ("callwright.voice", "uvicorn", "websockets")


@pytest.fixture(scope="session")
async def media_server() -> AsyncIterator[MediaServer]:
    await preload_voice_models([VOICE])
    await TTS_ENGINES["piper"].prerender(VOICE, INTRO, sample_rate=CARRIER_SAMPLE_RATE)
    async with serving(MediaServer()) as server:
        yield server


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.allowed: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(WATCHED_LOGGERS):
            self.records.append(record)

    def unexpected(self) -> list[str]:
        return [
            f"{r.name} {r.levelname}: {r.getMessage()}"
            for r in self.records
            if not any(fragment in r.getMessage() for fragment in self.allowed)
        ]


@pytest.fixture(autouse=True)
def voice_logs() -> Iterator[LogCapture]:
    """Fails the test if the voice runtime (or the server under it) logged a warning or worse."""
    capture = LogCapture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
    assert capture.unexpected() == []


def _runtime_tasks() -> list[str]:
    names = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code else ""
        if "/pipecat/" in filename or "/callwright/voice/" in filename:
            names.append(f"{task.get_name()} ({code.co_qualname if code else '?'})")
    return names


@pytest.fixture(autouse=True)
async def no_task_leaks() -> AsyncIterator[None]:
    yield
    # A closing socket may take a moment to finish its handshake (seconds, on a loaded machine):
    # only a task that never ends is a leak.
    deadline = time.monotonic() + 30
    while _runtime_tasks() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert _runtime_tasks() == []
