"""Keep credentials out of every log line.

uvicorn's access log prints full request URLs, and several carry a credential in their query:
carrier callback and media URLs the call's token (``token=``), signed recording URLs a signature
that opens the recording for days (``sig=``); presigned S3 URLs carry ``X-Amz-Signature``. Any
other logger may print such a URL, a header or a key too. So every log record, from any logger,
is redacted as it is created (a log-record factory, not a filter on some loggers or handlers,
which would miss records of loggers and handlers added later):

- the value of a query or form parameter (or a JSON or dict field) named like a credential: ``token``, ``*_token``
  (``auth_token``, ``access_token``…), ``sig``, ``signature``, ``x-amz-signature``,
  ``x-amz-credential``, ``x-amz-security-token``, ``secret``, ``client_secret``, ``password``,
  ``api_key``/``apikey``, ``key``. ``expires`` is kept: it opens nothing, and says when a URL
  stopped working;
- a credential carried as a URL's last path segment, for carriers that may drop a query string:
  ``/media/{provider}/{call_id}/{token}``, ``/telephony/{provider}/{call_id}/{kind}/{token}`` and
  the Exotel Voicebot URL's ``/telephony/exotel/voicebot/{connection_id}/{secret}``;
- a bearer credential (``Bearer …``);
- Callwright's own secrets wherever they appear: API keys keep the prefix that key lists show
  (``rg_live_abcd****``), webhook signing secrets only their kind (``whsec_****``).

What is not a log record's message or argument (a traceback's text) is not rewritten.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

MASK = "****"
_NAMES = (
    r"(?:[a-z0-9_.-]*token|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token"
    r"|secret|client_secret|password|api_?key|key)"
)
_CREDENTIAL_PARAM = re.compile(rf"(?i)((?:^|(?<=[?&;\s\"'(,])){_NAMES}=)[^&\s\"'#;,)]+")
_CREDENTIAL_FIELD = re.compile(rf"(?i)([\"']{_NAMES}[\"']\s*:\s*[\"'])[^\"']+")  # JSON, a dict's repr
# Route shapes whose last segment is a credential (api.routes.media, api.routes.telephony).
_SEGMENT = r"[^/?#\s\"']+"
_PATH_CREDENTIAL = re.compile(
    rf"(/(?:media/{_SEGMENT}/{_SEGMENT}|telephony/exotel/voicebot/{_SEGMENT}"
    rf"|telephony/(?!exotel/voicebot/){_SEGMENT}/{_SEGMENT}/{_SEGMENT})/){_SEGMENT}"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")
_API_KEY = re.compile(r"\b(rg_(?:live|test)_[A-Za-z0-9_-]{4})[A-Za-z0-9_-]+")
_WEBHOOK_SECRET = re.compile(r"\b(whsec_)[A-Za-z0-9_-]+")
_HINTS = ("=", ":", "earer", "rg_", "whsec_", "/media/", "/telephony/")  # no hint, nothing to redact: the common case


def redact(text: str) -> str:
    if not any(hint in text for hint in _HINTS):
        return text
    text = _CREDENTIAL_PARAM.sub(rf"\1{MASK}", text)
    text = _PATH_CREDENTIAL.sub(rf"\1{MASK}", text)
    text = _CREDENTIAL_FIELD.sub(rf"\1{MASK}", text)
    text = _BEARER.sub(rf"\1{MASK}", text)
    text = _API_KEY.sub(rf"\1{MASK}", text)
    return _WEBHOOK_SECRET.sub(rf"\1{MASK}", text)


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float):
        return value  # numbers stay numbers, for %d and %f
    text = str(value)  # a URL object, an exception: redacted only if it needs to be
    cleaned = redact(text)
    return value if cleaned == text else cleaned


def redact_record(record: logging.LogRecord) -> None:
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _redact_arg(v) for k, v in record.args.items()}


class RedactTokens(logging.Filter):
    """The same redaction as a filter, for a handler or logger that wants it explicitly."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_factory_installed = False


def install() -> None:
    """Redact every log record of this process from now on (idempotent)."""
    global _factory_installed
    if _factory_installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    logging.setLogRecordFactory(redacting_factory)
    _factory_installed = True
