"""Small pieces of HTTP wire handling that several carrier modules share."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx

_MAX_DETAIL = 300
# Body keys carriers put their error sentence under (Plivo/Vobiz "error", Twilio "message",
# MCube "msg", Exotel "RestException": {"Message": …}).
_ERROR_KEYS = ("error", "message", "msg", "error_message", "detail", "restexception")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name in ``headers``."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def with_query(url: str, parameters: Mapping[str, str]) -> str:
    """``url`` with ``parameters`` appended to its query string."""
    if not parameters:
        return url
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}{urlencode(dict(parameters))}"


def without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def as_int(value: Any) -> int | None:
    """A whole number from a callback field ("12", 12, "12.0"), or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return None


def text(params: Mapping[str, Any], name: str) -> str:
    """A callback field as stripped text ("" when absent or not a scalar)."""
    value = params.get(name)
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


def retry_after_secs(response: httpx.Response) -> float | None:
    """The ``Retry-After`` hint in seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def carrier_error_text(response: httpx.Response, secrets: Iterable[str]) -> str | None:
    """The carrier's own words about a refusal, with any of our secrets blanked out."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raw = response.text.strip()
        detail = raw if raw and not raw.startswith("<") else None
    else:
        detail = _error_in(body)
    if not detail:
        return None
    for secret in secrets:
        if secret:
            detail = detail.replace(secret, "****")
    return detail[:_MAX_DETAIL]


def _error_in(body: Any) -> str | None:
    if isinstance(body, str):
        return body.strip() or None
    if not isinstance(body, dict):
        return None
    lowered = {str(key).lower(): value for key, value in body.items()}
    for key in _ERROR_KEYS:
        value = lowered.get(key)
        if isinstance(value, dict):
            nested = _error_in(value)
            if nested:
                return nested
        elif isinstance(value, list) and value:
            return "; ".join(str(item) for item in value)
        elif value not in (None, "", True, False):
            code = lowered.get("code")
            return f"{value} (code {code})" if code not in (None, "") else str(value)
    return None


def secrets_in(kwargs: Mapping[str, Any]) -> list[str]:
    """The secret values a request carries (Basic password, token headers, token body fields)."""
    found: list[str] = []
    auth = kwargs.get("auth")
    if isinstance(auth, tuple) and len(auth) == 2:
        found.append(str(auth[1]))
    for name in ("headers", "json", "data"):
        fields = kwargs.get(name)
        if not isinstance(fields, Mapping):
            continue
        for key, value in fields.items():
            if not isinstance(value, str):
                continue
            lowered = key.lower()
            if ("token" in lowered or "auth" in lowered) and lowered != "x-auth-id":
                found.append(value)
            # Our callback URLs carry the per-call token; a carrier may quote the URL back.
            found.extend(parse_qs(urlsplit(value).query).get("token", []))
    return [secret for secret in found if len(secret) >= 4]


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object ({} when it is not one)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
