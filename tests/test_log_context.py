"""JSON log lines: the call id of the code that logged, redaction kept, tracebacks redacted too."""

from __future__ import annotations

import io
import json
import logging
import logging.config

from callwright import log_redaction
from callwright.log_context import CallIdFilter, JsonFormatter, call_context, logging_config


def _logger() -> tuple[logging.Logger, io.StringIO]:
    log_redaction.install()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CallIdFilter())
    logger = logging.getLogger("callwright.test_log_context")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_a_line_inside_a_call_carries_its_id_and_stays_redacted():
    logger, out = _logger()
    with call_context("4f1c2d6e-0000-4000-8000-000000000001"):
        logger.info("fetched %s", "https://example.test/cb?token=s3cr3t-value&x=1")
    logger.info("outside any call")
    inside, outside = (json.loads(line) for line in out.getvalue().splitlines())
    assert inside["call_id"] == "4f1c2d6e-0000-4000-8000-000000000001"
    assert "s3cr3t-value" not in inside["message"] and "token=****" in inside["message"]
    assert inside["level"] == "info" and inside["logger"] == "callwright.test_log_context"
    assert "call_id" not in outside


def test_a_traceback_is_redacted():
    logger, out = _logger()
    try:
        raise RuntimeError("GET /media/vobiz/abc/very-secret-token failed")
    except RuntimeError:
        logger.exception("media failed")
    line = json.loads(out.getvalue())
    assert "very-secret-token" not in line["exception"] and "RuntimeError" in line["exception"]


def test_text_keeps_uvicorns_config_and_json_is_a_valid_one():
    assert logging_config("text", "info") is None
    config = logging_config("json", "info")
    assert config is not None
    logging.config.DictConfigurator(config)  # the schema uvicorn hands to dictConfig
    assert config["handlers"]["json"]["formatter"] == "json"
