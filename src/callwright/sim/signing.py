"""Callback signatures, computed the way each carrier computes them (carriers.md §1.9, §2.9, §3.9).

Written from the carriers' documented formulas and checked in tests against the official SDKs'
validators (``plivo.utils``, ``vobiz.utils``, ``twilio.request_validator``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit, urlunsplit


def _hmac_b64(key: str, message: str, digest: str) -> str:
    mac = hmac.new(key.encode(), message.encode(), getattr(hashlib, digest))
    return base64.b64encode(mac.digest()).decode()


def new_nonce() -> str:
    # Guess: Plivo's and Vobiz's nonces look like long decimal strings; any unique string validates.
    return str(secrets.randbelow(10**20)).zfill(20)


def url_without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


# --- Plivo V3 (§2.9) ---------------------------------------------------------------------------


def _sorted_query(params: Mapping[str, list[str]]) -> str:
    return "&".join(
        "&".join(f"{key}={value}" for value in sorted(params[key])) for key in sorted(params)
    )


def plivo_v3_base(method: str, url: str, params: Mapping[str, str]) -> str:
    """The string Plivo signs: the URL without query, then the sorted query and POST params.

    POST: ``url?{sorted query}`` + (``.`` if there was a query) + ``k1v1k2v2…``; the ``?`` is
    there whenever there are POST params, even with no query (as plivo.utils computes it).
    GET: ``url?{sorted k=v of query and params merged}``.
    """
    base = url_without_query(url)
    query = {k: list(v) for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
    if method.upper() == "GET":
        # As plivo.utils merges them: a query parameter replaces a param of the same name.
        merged = _sorted_query({**{key: [value] for key, value in params.items()}, **query})
        return f"{base}?{merged}" if merged else base
    if not params:
        sorted_query = _sorted_query(query)
        return f"{base}?{sorted_query}" if sorted_query else base
    sorted_query = _sorted_query(query)
    signed = f"{base}?{sorted_query}" + ("." if sorted_query else "")
    return signed + "".join(f"{key}{params[key]}" for key in sorted(params))


def plivo_v3_signature(
    *, auth_token: str, method: str, url: str, params: Mapping[str, str], nonce: str
) -> str:
    return _hmac_b64(auth_token, f"{plivo_v3_base(method, url, params)}.{nonce}", "sha256")


def plivo_headers(
    *, auth_token: str, method: str, url: str, params: Mapping[str, str], main_account: bool
) -> dict[str, str]:
    nonce = new_nonce()
    signature = plivo_v3_signature(
        auth_token=auth_token, method=method, url=url, params=params, nonce=nonce
    )
    headers = {"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce}
    if main_account:
        # Guess: the main-account signature equals V3 when the account is itself the main one.
        headers["X-Plivo-Signature-Ma-V3"] = signature
    return headers


# --- Vobiz V2 / V3 (§1.9): only the URL without its query and the nonce are signed -----------


def vobiz_v2_signature(*, auth_token: str, url: str, nonce: str) -> str:
    return _hmac_b64(auth_token, url_without_query(url) + nonce, "sha256")


def vobiz_v3_signature(*, auth_token: str, url: str, nonce: str) -> str:
    return _hmac_b64(auth_token, f"{url_without_query(url)}.{nonce}", "sha256")


def vobiz_headers(*, auth_token: str, url: str) -> dict[str, str]:
    v2_nonce, v3_nonce = new_nonce(), new_nonce()
    return {
        "X-Vobiz-Signature-V2": vobiz_v2_signature(auth_token=auth_token, url=url, nonce=v2_nonce),
        "X-Vobiz-Signature-V2-Nonce": v2_nonce,
        "X-Vobiz-Signature-V3": vobiz_v3_signature(auth_token=auth_token, url=url, nonce=v3_nonce),
        "X-Vobiz-Signature-V3-Nonce": v3_nonce,
    }


# --- Twilio (§3.9) -----------------------------------------------------------------------------


def twilio_signature(*, auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """base64(HMAC-SHA1(token, full URL + each POST param's name and value, sorted by name))."""
    signed = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return _hmac_b64(auth_token, signed, "sha1")


def twilio_headers(*, auth_token: str, url: str, params: Mapping[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": twilio_signature(auth_token=auth_token, url=url, params=params)}
