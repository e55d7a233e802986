"""The first look at every HTTP request, before the app reads a byte of its body.

FastAPI reads and parses a body before it resolves the dependency that checks the API key, so
without this an unauthenticated client could make the server hold whatever it sends. Here, a pure
ASGI layer (no per-request task or copy of the body):

- On the Partner and admin APIs, a request without a bearer credential is answered 401, one from
  an address blocked for failed authentication 429, and a partner credential that is not even
  shaped like an API key 401 (counted as a failure) — all before the body is read. A well-shaped
  but wrong key is found out by ``deps.current_partner`` after the body is read, so a guess costs
  at most one body cap.
- Every body is capped by route (``caps_for``): a ``Content-Length`` above the cap is refused 413
  at once; otherwise the bytes are counted as the app reads them, so a lying ``Content-Length``
  or a chunked body is cut at the cap with the same 413.
- A body must have arrived ``request_body_timeout_secs`` after the request's headers, or 408.

WebSocket connections pass through untouched (the media socket bounds its own handshake).
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callwright.api.auth_throttle import AuthThrottle, key_prefix, throttled_address, too_many_failures
from callwright.api.deps import MISSING_API_KEY, bearer_token
from callwright.api.errors import error_response
from callwright.domain.api_keys import looks_like_api_key
from callwright.domain.background_audio import MAX_BYTES as BACKGROUND_AUDIO_MAX_BYTES
from callwright.domain.errors import CallwrightError, Unauthorized
from callwright.domain.knowledge import MAX_FILE_BYTES
from callwright.settings import Settings

PARTNER_API = "/api/v2"
ADMIN_API = "/admin/v1"
_CLOSE = {"Connection": "close"}  # the rest of a refused body is not worth reading


def caps_for(settings: Settings) -> tuple[tuple[str, int], ...]:
    """Body caps by path prefix, the first match winning; ``settings.max_body_bytes`` otherwise."""
    return (
        (f"{PARTNER_API}/agent", settings.max_agent_body_bytes),  # /agent, /agents: a prompt of 120,000 chars
        # Bulk lists: up to 10,000 contacts or suppressions a request, as JSON or CSV.
        (f"{PARTNER_API}/campaigns", settings.campaign_csv_max_bytes),
        (f"{PARTNER_API}/suppressions", settings.campaign_csv_max_bytes),
        ("/telephony/", settings.max_callback_body_bytes),
        ("/inbound/", settings.max_callback_body_bytes),
        # A knowledge-base file's signed upload: up to 50 MB (the route holds it to the declared size).
        ("/uploads/documents", MAX_FILE_BYTES),
        ("/uploads/background-audio", BACKGROUND_AUDIO_MAX_BYTES),  # a WAV PUT to its signed URL
    )


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class RequestGuard:
    def __init__(self, app: ASGIApp, *, settings: Settings, throttle: AuthThrottle) -> None:
        self.app = app
        self.settings = settings
        self.throttle = throttle
        self.caps = caps_for(settings)
        self.default_cap = settings.max_body_bytes
        self.body_timeout = settings.request_body_timeout_secs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        authorization = content_length = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length":
                content_length = value
            elif name == b"transfer-encoding":
                chunked = True
        partner_api = _under(path, PARTNER_API)
        if partner_api or _under(path, ADMIN_API):
            refusal = await self._refusal(scope, authorization, partner_api=partner_api)
            if refusal is not None:
                await _answer(refusal, scope, receive, send, close=chunked or content_length not in (None, b"0"))
                return
        cap = next((cap for prefix, cap in self.caps if path.startswith(prefix)), self.default_cap)
        if content_length is not None and content_length.isdigit() and int(content_length) > cap:
            await _answer(_too_large(cap), scope, receive, send, close=True)
            return
        if not chunked and content_length in (None, b"0"):  # no body: nothing to bound
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        await self.app(scope, _bounded(receive, cap, deadline, self.body_timeout), send)

    async def _refusal(
        self, scope: Scope, authorization: str | None, *, partner_api: bool
    ) -> CallwrightError | None:
        client = scope.get("client")
        if self.throttle.blocking:  # the common case, nobody blocked, skips parsing the address
            wait = self.throttle.retry_after(throttled_address(client[0] if client else None))
            if wait is not None:
                return too_many_failures(wait)
        token = bearer_token(authorization or "")
        if not partner_api:
            if not self.settings.resolved_admin_token():
                return Unauthorized(
                    "the admin API is disabled: set CALLWRIGHT_ADMIN_TOKEN to enable it",
                    code="admin_disabled",
                )
            if token is None:
                return Unauthorized("missing or invalid admin token", code="invalid_admin_token")
            return None
        if token is None:
            return Unauthorized(MISSING_API_KEY, code="missing_api_key")
        if not looks_like_api_key(token):
            address = throttled_address(client[0] if client else None)
            wait = await self.throttle.failed(address, key_prefix(token))
            if wait is not None:
                return too_many_failures(wait)
            return Unauthorized("the API key is invalid or has been revoked", code="invalid_api_key")
        return None


def _too_large(cap: int) -> CallwrightError:
    return CallwrightError(
        f"the request body is larger than this route accepts ({cap} bytes)",
        code="payload_too_large",
        status_code=413,
    )


async def _answer(error: CallwrightError, scope: Scope, receive: Receive, send: Send, *, close: bool) -> None:
    headers = (error.headers or {}) | (_CLOSE if close else {})
    response = error_response(error.status_code, error.code, error.message, error.details, headers)
    await response(scope, receive, send)


def _bounded(receive: Receive, cap: int, deadline: float, timeout: float) -> Receive:
    """``receive`` that counts the body's bytes against ``cap`` and waits for them no later than
    ``deadline`` (the loop's clock); past the body's end it is ``receive`` itself."""
    received = 0
    done = False

    async def bounded_receive() -> Message:
        nonlocal received, done
        if done:
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise HTTPException(
                408, f"the request body did not arrive within {timeout:g} s", headers=_CLOSE
            ) from None
        if message["type"] != "http.request":
            done = True
            return message
        received += len(message.get("body", b""))
        if received > cap:
            raise HTTPException(
                413, f"the request body is larger than this route accepts ({cap} bytes)", headers=_CLOSE
            )
        done = not message.get("more_body", False)
        return message

    return bounded_receive
