"""Headers every HTTP response carries, as a pure ASGI layer.

- ``X-Content-Type-Options: nosniff``: a browser never guesses a type other than the one we send
  (a transcript or a carrier payload rendered as HTML).
- ``Cache-Control: no-store`` unless the route set its own: nothing the platform answers may be
  kept by a browser or a shared cache. The rule is blanket rather than per route on purpose: the
  Partner and admin APIs answer with tenant data (numbers, transcripts) and some with secrets
  (new API keys, webhook signing secrets, signed recording URLs that open a recording for days),
  carrier answer documents carry the call's media token, and the rest (health, docs) gains
  nothing from caching. A route added later cannot forget it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NO_STORE = (b"cache-control", b"no-store")
_NOSNIFF = (b"x-content-type-options", b"nosniff")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                if b"cache-control" not in names:
                    headers.append(_NO_STORE)
                if b"x-content-type-options" not in names:
                    headers.append(_NOSNIFF)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
