"""Per-call tokens never reach the access log."""

from __future__ import annotations

import logging

from callwright.log_redaction import RedactTokens, redact


def test_redact_hides_token_values_only():
    line = '127.0.0.1 - "POST /telephony/vobiz/c1/status?token=abc_DEF-123&x=1 HTTP/1.1" 200'
    assert redact(line) == '127.0.0.1 - "POST /telephony/vobiz/c1/status?token=****&x=1 HTTP/1.1" 200'


def test_filter_rewrites_uvicorn_access_records():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/media/twilio/c1?token=s3cr3t", "1.1", 101), None,
    )
    assert RedactTokens().filter(record)
    assert "s3cr3t" not in record.getMessage()
    assert "token=****" in record.getMessage()
