"""Vobiz: a Plivo-derived API. Auth is the ``X-Auth-ID`` / ``X-Auth-Token`` header pair."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import httpx

from callwright.carriers._fields import E164, Secret, pattern
from callwright.carriers._plivo_family import PlivoFamilyCarrier
from callwright.carriers._wire import header, json_object, without_query
from callwright.carriers.base import (
    Account,
    CallbackProof,
    CarrierCredentials,
    CarrierEndpoints,
    DialRequest,
)
from callwright.domain.providers import Provider


class VobizCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_token",)
    masked_fields: ClassVar[tuple[str, ...]] = ("auth_id",)

    auth_id: Annotated[
        str,
        pattern(r"(MA|SA)_[A-Za-z0-9]{4,40}", "must look like MA_XXXXXXXX (or SA_… for a sub-account)"),
    ]
    auth_token: Secret
    from_number: E164


def auth_headers(auth_id: str, auth_token: str) -> dict[str, str]:
    return {"X-Auth-ID": auth_id, "X-Auth-Token": auth_token}


def callback_signature(auth_token: str, url: str, nonce: str, *, version: int = 3) -> str:
    """Vobiz's callback signature (docs.vobiz.ai/concepts/validating-callbacks, carriers.md §1.9).

    V3 = base64(HMAC-SHA256(token, url_without_query + "." + nonce)); V2 drops the dot. Unlike
    Plivo's V3, the POST parameters are not signed.
    """
    separator = "." if version == 3 else ""
    message = f"{without_query(url)}{separator}{nonce}".encode()
    digest = hmac.new(auth_token.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Vobiz(PlivoFamilyCarrier):
    provider = Provider.VOBIZ
    credentials_model = VobizCredentials
    signs_callbacks = True
    # Vobiz answers 403 to POST /Call/ for a destination outside the account's geo permissions
    # (carriers.md §1.3): a refusal of this call, not of the credentials.
    dial_auth_statuses = (401,)
    # Vobiz re-requests an answer URL that failed, up to 3 times or 60 s, then its fallback (§1.3).
    retries_answer_url = True

    def auth_failed_message(self) -> str:
        return "Vobiz rejected the Auth ID / Auth Token"

    def api_base(self, endpoints: CarrierEndpoints) -> str:
        return endpoints.vobiz

    def auth(self, account: Account) -> dict[str, Any]:
        return {
            "headers": auth_headers(account.identifiers["auth_id"], account.secrets["auth_token"])
        }

    def dial_body(self, dial: DialRequest) -> dict[str, Any]:
        # docs.vobiz.ai/call/make-call documents no time_limit and no ring_timeout (Plivo's make
        # call has both): they are not sent. Our own max call duration still ends the call, and
        # the reconciler finds a call Vobiz still rings with ?status=queued.
        body = super().dial_body(dial)
        body.pop("time_limit", None)
        body.pop("ring_timeout", None)
        return body

    async def finished_record(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> Mapping[str, Any] | None:
        # A finished Vobiz call is found only in its CDR (docs.vobiz.ai/cdr/get-cdr; the SDK's
        # cdr.get_cdr): GET /Account/{auth_id}/cdr/{call_id}, "Account" capitalised and "cdr"
        # not, no trailing slash, answering {"success": true, "data": {…}}; 404 for an unknown
        # id or a call not over yet.
        auth_id = account.identifiers["auth_id"]
        response = await self.request(
            http,
            "GET",
            f"{self.api_base(endpoints)}/Account/{auth_id}/cdr/{provider_call_id}",
            timeout=endpoints.timeout_secs,
            accept=(404,),
            **self.auth(account),
        )
        if response.status_code == 404:
            return None
        data = json_object(response).get("data")
        return data if isinstance(data, Mapping) else None

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        assert isinstance(credentials, VobizCredentials)
        # GET /auth/me: 200 with the account's limits, 401 for bad credentials.
        await self.request(
            http,
            "GET",
            f"{endpoints.vobiz}/auth/me",
            headers=auth_headers(credentials.auth_id, credentials.auth_token),
            timeout=endpoints.timeout_secs,
        )

    def verify_callback(
        self,
        *,
        method: str,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        account: Account,
    ) -> CallbackProof | None:
        # Vobiz signs only the URL and the nonce, not the body (§1.9): one captured header pair
        # fits any body for that URL, so each valid pair's nonce is spent by its first use. Every
        # valid version's nonce is, or the V2 pair of a spent request would still pass alone.
        token = account.secrets["auth_token"]
        nonces = []
        for version in (3, 2):
            signature = header(headers, f"X-Vobiz-Signature-V{version}")
            nonce = header(headers, f"X-Vobiz-Signature-V{version}-Nonce")
            if not signature or not nonce:
                continue
            expected = callback_signature(token, url, nonce, version=version)
            # Several signatures may come comma-separated (the SDK's validator splits on ",").
            if any(hmac.compare_digest(expected, sent.strip()) for sent in signature.split(",")):
                nonces.append(nonce)
        return CallbackProof(nonces=tuple(nonces)) if nonces else None
