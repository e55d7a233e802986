"""Plivo: HTTP Basic ``auth_id:auth_token``; paths under ``/Account/{auth_id}/`` end with a slash."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from callwright.carriers._fields import E164, Secret, pattern
from callwright.carriers._plivo_family import PlivoFamilyCarrier
from callwright.carriers._wire import header
from callwright.carriers.base import Account, CallbackProof, CarrierCredentials, CarrierEndpoints
from callwright.domain.providers import Provider


class PlivoCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_token",)
    masked_fields: ClassVar[tuple[str, ...]] = ("auth_id",)

    # The Plivo SDK's own rule (plivo.utils.validators.is_account_id): MA/SA + 18 of [A-Z0-9].
    auth_id: Annotated[
        str, pattern(r"(M|S)A[A-Z0-9]{18}", "must be MA or SA followed by 18 capital letters or digits")
    ]
    auth_token: Secret
    from_number: E164


def signature_base(method: str, url: str, params: Mapping[str, str]) -> str:
    """The string Plivo's V3 signature covers (carriers.md §2.9, as plivo.utils.signature_v3).

    POST: ``scheme://host/path`` + ``"?"`` + sorted query ``a=1&b=2`` + (``"."`` if there was a
    query) + sorted POST params as ``k1v1k2v2``; the ``"?"`` only when there is a query or params.
    GET: the URL + ``"?"`` + sorted ``k=v&…`` of the query and params merged.
    """
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query: dict[str, list[str]] = parse_qs(parts.query, keep_blank_values=True)
    if method.upper() == "GET":
        merged: dict[str, list[str]] = {key: [value] for key, value in params.items()}
        merged.update(query)
        pairs = _sorted_query(merged)
        return f"{base}?{pairs}" if pairs else base
    pairs = _sorted_query(query)
    if params:
        base += f"?{pairs}." if pairs else "?"
    elif pairs:
        base += f"?{pairs}"
    return base + "".join(f"{key}{params[key]}" for key in sorted(params))


def _sorted_query(query: Mapping[str, list[str]]) -> str:
    return "&".join(f"{key}={value}" for key in sorted(query) for value in sorted(query[key]))


def callback_signature(auth_token: str, base: str, nonce: str) -> str:
    """V3 = base64(HMAC-SHA256(auth_token, base + "." + nonce))."""
    digest = hmac.new(auth_token.encode(), f"{base}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Plivo(PlivoFamilyCarrier):
    provider = Provider.PLIVO
    credentials_model = PlivoCredentials
    signs_callbacks = True
    # The dial answers a request_uuid; the call's CallUUID comes with its callbacks (§2.3).
    dial_id_is_call_id = False
    # Vobiz, a Plivo fork, documents answer-URL retries (3, or 60 s) before its fallback URL
    # (§1.3); Plivo's fallback_url works the same way, so its retries are allowed alike.
    retries_answer_url = True

    def auth_failed_message(self) -> str:
        return "Plivo rejected the Auth ID / Auth Token"

    def api_base(self, endpoints: CarrierEndpoints) -> str:
        return endpoints.plivo

    def auth(self, account: Account) -> dict[str, Any]:
        return {"auth": (account.identifiers["auth_id"], account.secrets["auth_token"])}

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        assert isinstance(credentials, PlivoCredentials)
        await self.request(
            http,
            "GET",
            f"{endpoints.plivo}/Account/{credentials.auth_id}/",
            auth=(credentials.auth_id, credentials.auth_token),
            timeout=endpoints.timeout_secs,
        )

    async def hangup(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # A call not yet answered exists only as a request: Plivo cancels it with
        # DELETE /Request/{request_uuid}/ (carriers.md §2.3). 404 on both = already gone.
        if await self.delete(account, endpoints, http, "Call", provider_call_id):
            return
        await self.delete(account, endpoints, http, "Request", provider_call_id)

    def verify_callback(
        self,
        *,
        method: str,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        account: Account,
    ) -> CallbackProof | None:
        nonce = header(headers, "X-Plivo-Signature-V3-Nonce")
        if not nonce:
            return None
        expected = callback_signature(
            account.secrets["auth_token"], signature_base(method, url, params), nonce
        )
        # X-Plivo-Signature-Ma-V3 is the main account's signature over the same string; several
        # signatures may come comma-separated (plivo.utils.validate_v3_signature splits on ",").
        for name in ("X-Plivo-Signature-V3", "X-Plivo-Signature-Ma-V3"):
            sent = header(headers, name) or ""
            if any(hmac.compare_digest(expected, one.strip()) for one in sent.split(",") if one):
                # The nonce carries no time (§2.9): remembering it is what stops a replay.
                return CallbackProof(nonces=(nonce,))
        return None
