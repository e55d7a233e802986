"""The carrier's media WebSocket for one call: ``/media/{provider}/{call_id}``.

The call's media token comes as the URL's last path segment (``/media/{provider}/{call_id}/{token}``,
Plivo and Vobiz, which promise nothing about a stream URL's query string), as the ``token`` query
parameter (Exotel), or in the stream's start message (Twilio).

One socket per call, opened by its carrier: the rules are ``services.media_sockets``. A socket
refused before it is accepted gets HTTP 403 on its upgrade; one refused after (no start in time,
a bad token, another socket holds the call) is closed with 1008 (policy violation) before
anything is spoken.

A draining node (``services.drain``) takes no new socket: the upgrade is answered HTTP 503 with
``Retry-After``, which a proxy in front of several nodes (nginx's ``proxy_next_upstream http_503``,
see deploy/) retries on another node before the carrier sees it; a server without the
WebSocket denial-response extension closes it with 1013 (try again later) instead.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket
from starlette.responses import PlainTextResponse

from callwright import collector
from callwright.log_context import call_context
from callwright.platform import Platform
from callwright.services import media_sockets

router = APIRouter()

POLICY_VIOLATION = media_sockets.POLICY_VIOLATION
TRY_AGAIN_LATER = 1013  # RFC 6455 close code registry: "Try Again Later"


@router.websocket("/media/{provider}/{call_id}")
async def media_stream(websocket: WebSocket, provider: str, call_id: str) -> None:
    await _counted(websocket, provider, call_id, websocket.query_params.get("token"))


@router.websocket("/media/{provider}/{call_id}/{token}")
async def media_stream_with_token(websocket: WebSocket, provider: str, call_id: str, token: str) -> None:
    await _counted(websocket, provider, call_id, token)


async def _counted(websocket: WebSocket, provider: str, call_id: str, url_token: str | None) -> None:
    platform: Platform = websocket.app.state.platform
    if platform.draining:
        await _refuse_while_draining(websocket)
        return
    # Counted from the handshake, not from the session: a balanced `callwright serve` steers new
    # connections by it, and a call whose session is still starting is load already.
    platform.media_sockets += 1
    platform.media_sockets_changed.set()
    platform.no_media_sockets.clear()
    try:
        await _media_stream(websocket, platform, provider, call_id, url_token)
    finally:
        platform.media_sockets -= 1
        platform.media_sockets_changed.set()
        if not platform.media_sockets:
            platform.no_media_sockets.set()
        if not platform.media_sockets and getattr(websocket.app.state, "settle_collector_when_idle", False):
            # No call up in this process: the moment to collect what calls left behind.
            collector.settle_when_idle()


async def _refuse_while_draining(websocket: WebSocket) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        denial = PlainTextResponse(
            "this node is shutting down; connect to another", status_code=503, headers={"Retry-After": "1"}
        )
        await websocket.send_denial_response(denial)
    else:
        await websocket.close(code=TRY_AGAIN_LATER, reason="node shutting down")


async def _media_stream(
    websocket: WebSocket, platform: Platform, provider: str, call_id: str, url_token: str | None
) -> None:
    with call_context(call_id):
        await _admitted_stream(websocket, platform, provider, call_id, url_token)


async def _admitted_stream(
    websocket: WebSocket, platform: Platform, provider: str, call_id: str, url_token: str | None
) -> None:
    query = websocket.url.query
    admission = await media_sockets.admit(
        platform=platform,
        provider=provider,
        call_id=call_id,
        url_token=url_token,
        # The URL as the carrier requested it (our public base), which is what Twilio signs.
        url=platform.settings.public_ws_url + websocket.url.path + (f"?{query}" if query else ""),
        headers=websocket.headers,
    )
    if admission is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    await websocket.accept()
    stream = await media_sockets.open_stream(platform=platform, websocket=websocket, admission=admission)
    if stream is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    await media_sockets.carry(platform=platform, websocket=websocket, stream=stream)
