"""Pipecat's loguru records reach the stdlib logger, quietly and cut short."""

from __future__ import annotations

import logging

import pytest
from loguru import logger as loguru

from callwright.voice.pipecat_logs import MAX_MESSAGE_CHARS, PIPECAT_LOG


def test_debug_lines_are_dropped_and_warnings_reach_the_stdlib_cut_short(
    caplog: pytest.LogCaptureFixture, voice_logs
) -> None:
    voice_logs.allowed.add("payload")
    with caplog.at_level(logging.DEBUG, logger=PIPECAT_LOG.name):
        loguru.debug("Generating TTS [Hello, Priya]")
        loguru.info("Bot started speaking")
        loguru.warning('Failed to parse JSON message: {"payload": "' + "A" * 5000 + '"}')
    records = [r for r in caplog.records if r.name == PIPECAT_LOG.name]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert len(records[0].getMessage()) < MAX_MESSAGE_CHARS + 100
