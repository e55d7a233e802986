"""Per-call tokens never reach the access log."""

from __future__ import annotations

import logging

from callwright.log_redaction import RedactTokens, redact


def test_redact_hides_token_values_only():
    line = '127.0.0.1 - "POST /telephony/vobiz/c1/status?token=abc_DEF-123&x=1 HTTP/1.1" 200'
    assert redact(line) == '127.0.0.1 - "POST /telephony/vobiz/c1/status?token=****&x=1 HTTP/1.1" 200'


def test_a_credential_in_a_url_path_is_redacted_and_the_route_kept():
    cases = {
        '"GET /media/vobiz/c1/tok_AbC-123 HTTP/1.1" 101': '"GET /media/vobiz/c1/**** HTTP/1.1" 101',
        "wss://cw.example.com/media/plivo/c9/s3cr3t?x=1": "wss://cw.example.com/media/plivo/c9/****?x=1",
        '"POST /telephony/mcube/c1/status/s3cr3t HTTP/1.1" 200': '"POST /telephony/mcube/c1/status/**** HTTP/1.1" 200',
        '"GET /telephony/exotel/voicebot/conn1/s3cr3t?CallSid=ab HTTP/1.1" 200':
            '"GET /telephony/exotel/voicebot/conn1/****?CallSid=ab HTTP/1.1" 200',
    }
    for line, expected in cases.items():
        assert redact(line) == expected
    for kept in ('"GET /media/twilio/c1 HTTP/1.1" 101', '"POST /telephony/vobiz/c1/status HTTP/1.1" 200'):
        assert redact(kept) == kept  # no credential in the path: nothing to hide


def test_filter_rewrites_uvicorn_access_records():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/media/twilio/c1?token=s3cr3t", "1.1", 101), None,
    )
    assert RedactTokens().filter(record)
    assert "s3cr3t" not in record.getMessage()
    assert "token=****" in record.getMessage()


def test_every_credential_in_a_url_is_redacted_and_expiry_kept():
    cases = {
        '"GET /recordings/c1.wav?expires=1700000000&sig=AbC-123_x HTTP/1.1" 200':
            '"GET /recordings/c1.wav?expires=1700000000&sig=**** HTTP/1.1" 200',
        "https://b.s3.example.com/k.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F1"
        "&X-Amz-Signature=deadbeef&X-Amz-Security-Token=FwoG":
            "https://b.s3.example.com/k.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=****"
            "&X-Amz-Signature=****&X-Amz-Security-Token=****",
        "/cb?signature=x1&auth_token=x2&access_token=x3&api_key=x4&password=x5&keep=1":
            "/cb?signature=****&auth_token=****&access_token=****&api_key=****&password=****&keep=1",
    }
    for line, expected in cases.items():
        assert redact(line) == expected


def test_bearer_credentials_keys_and_webhook_secrets_are_redacted():
    assert redact("Authorization: Bearer rg_live_abcdEFGHijklmnopqrstuvwxyz01") == "Authorization: Bearer ****"
    assert redact("key rg_test_abcdEFGHijklmnopqrstuvwxyz01 revoked") == "key rg_test_abcd**** revoked"
    assert redact("secret whsec_Zm9vYmFyYmF6 rotated") == "secret whsec_**** rotated"
    assert redact('{"auth_token": "s3cr3t", "count": 2}') == '{"auth_token": "****", "count": 2}'
    assert redact("monkey=1 design=2 keyboard=3") == "monkey=1 design=2 keyboard=3"


def test_every_logger_is_redacted_once_installed(caplog):
    import httpx

    from callwright import log_redaction

    log_redaction.install()
    url = httpx.URL("https://calls.example.com/recordings/c1.wav?expires=1&sig=TopSecret")
    with caplog.at_level(logging.INFO):
        logging.getLogger("callwright.anything").info("fetched %s with %d tries", url, 2)
        logging.getLogger("some.library").warning("calling https://x.test/cb?token=TopSecret2")
    text = caplog.text
    assert "TopSecret" not in text and "sig=****" in text and "token=****" in text
    assert "with 2 tries" in text
