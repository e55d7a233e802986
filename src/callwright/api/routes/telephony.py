"""Carrier callbacks: answer, status/hang-up and machine detection for one call.

Every callback carries the call's token in its URL, checked before the body is read; what else a
callback must prove, and what it may change, is ``services.carrier_callbacks``. A refused
callback answers 403 (or 409 for one about another carrier call) and changes nothing, as does
one whose call id cannot be a call's (refused before any query); a body that cannot be read, or a
field with a control character, answers 400.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request, Response

from callwright.api.deps import PlatformDep, SessionDep
from callwright.carriers.base import CallbackKind
from callwright.domain.errors import BadRequest, NotFound
from callwright.domain.providers import Provider, parse_provider
from callwright.log_context import call_context
from callwright.metrics import CALLBACK_SECONDS
from callwright.services import carrier_callbacks, exotel_voicebot, inbound_calls
from callwright.settings import Settings

router = APIRouter(tags=["carrier callbacks"])


async def _callback_params(request: Request) -> dict[str, str]:
    """The callback's fields: a JSON object (MCube), a form (the others), or the query of a GET."""
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        try:
            body: Any = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("callback body is not valid JSON", code="invalid_json") from None
        if not isinstance(body, dict):
            raise BadRequest("callback body must be a JSON object", code="invalid_json")
        return {str(k): "" if v is None else str(v) for k, v in body.items()}
    if request.method == "POST":
        form = await request.form()  # a malformed form answers 400 from Starlette
        return {k: str(v) for k, v in form.items()}
    return {k: v for k, v in request.query_params.items() if k != "token"}


def _public_url(request: Request, settings: Settings) -> str:
    """The URL the carrier called, as it saw it: our public base + path + query."""
    query = request.url.query
    return settings.public_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


@router.get("/telephony/exotel/voicebot/{connection_id}/{secret}", include_in_schema=False)
@router.post(
    "/telephony/exotel/voicebot/{connection_id}/{secret}",
    summary="Exotel Voicebot applet URL (one per connection)",
    description="Set as the URL of the Voicebot applet in the partner's Exotel flow; shown as "
    "`voicebot_url` with the Exotel connection. Answers `{\"url\": \"wss://…\"}` for the call "
    "named by Exotel's `CallSid`. Called by Exotel, never by partners.",
    responses={200: {"content": {"application/json": {"example": {"url": "wss://…"}}}}},
)
async def exotel_voicebot_url(
    request: Request, connection_id: str, secret: str, platform: PlatformDep, session: SessionDep
) -> Response:
    answer = await exotel_voicebot.answer(
        platform=platform,
        session=session,
        connection_id=connection_id,
        secret=secret,
        method=request.method,
        url=_public_url(request, platform.settings),
        params=await _callback_params(request),
        headers=request.headers,
    )
    return Response(answer.body, media_type=answer.media_type or "application/json")


@router.get("/inbound/{provider}/{connection_id}", include_in_schema=False)
@router.post(
    "/inbound/{provider}/{connection_id}",
    summary="Inbound call to a partner's number (one URL per connection: Twilio, Plivo, Vobiz)",
    description="The voice URL a bound number points at (Twilio's VoiceUrl, a Plivo or Vobiz "
    "application's answer_url), set by `PUT /api/v2/phone-numbers/{id}`. Authenticated by the "
    "carrier's signature; answers the document that opens the media stream to the number's agent, "
    "or a spoken refusal and a hang-up. Exotel's inbound calls come through the connection's "
    "`voicebot_url`. Called by the carrier, never by partners.",
    responses={200: {"content": {"application/xml": {"example": "<Response>…</Response>"}}}},
)
async def inbound_call(
    request: Request, provider: str, connection_id: str, platform: PlatformDep, session: SessionDep
) -> Response:
    began = time.perf_counter()
    try:
        answer = await inbound_calls.answer(
            platform=platform,
            session=session,
            provider=provider,
            connection_id=connection_id,
            method=request.method,
            url=_public_url(request, platform.settings),
            params=await _callback_params(request),
            headers=request.headers,
        )
    finally:
        if (parsed := parse_provider(provider)) is not None:
            CALLBACK_SECONDS.labels(parsed.value).observe(time.perf_counter() - began)
    return Response(answer.body, media_type=answer.media_type or "application/xml")


@router.get("/telephony/{provider}/{call_id}/{kind}", include_in_schema=False)
@router.post(
    "/telephony/{provider}/{call_id}/{kind}",
    summary="Carrier callback (answer, status, machine detection, transfer dial)",
    description="Called by the partner's carrier, never by partners. Authenticated by the per-call "
    "token in the URL and, where the carrier signs callbacks, by its signature.",
    responses={200: {"content": {"application/xml": {"example": "<Response>…</Response>"}}}},
)
async def carrier_callback(
    request: Request, provider: str, call_id: str, kind: str, platform: PlatformDep, session: SessionDep
) -> Response:
    return await _callback(request, provider, call_id, kind, request.query_params.get("token"), platform, session)


@router.get("/telephony/{provider}/{call_id}/{kind}/{token}", include_in_schema=False)
@router.post(
    "/telephony/{provider}/{call_id}/{kind}/{token}",
    summary="Carrier callback, its token in the path",
    description="As above, for carriers that may not keep a callback URL's query string (MCube).",
    responses={200: {"content": {"application/xml": {"example": "<Response>…</Response>"}}}},
)
async def carrier_callback_token_in_path(
    request: Request, provider: str, call_id: str, kind: str, token: str, platform: PlatformDep, session: SessionDep
) -> Response:
    return await _callback(request, provider, call_id, kind, token, platform, session)


async def _callback(
    request: Request,
    provider: str,
    call_id: str,
    kind: str,
    token: str | None,
    platform: PlatformDep,
    session: SessionDep,
) -> Response:
    began = time.perf_counter()
    parsed = parse_provider(provider)
    callback = next((k for k in CallbackKind if k.value == kind), None)
    if parsed is None or callback is None:
        raise NotFound(f"no callback {kind!r} for provider {provider!r}", code="unknown_callback")
    call_id = carrier_callbacks.check_token(platform=platform, call_id=call_id, token=token)
    with call_context(call_id):
        try:
            return await _answer(request, parsed, call_id, callback, platform, session)
        finally:
            CALLBACK_SECONDS.labels(parsed.value).observe(time.perf_counter() - began)


async def _answer(
    request: Request,
    parsed: Provider,
    call_id: str,
    callback: CallbackKind,
    platform: PlatformDep,
    session: SessionDep,
) -> Response:
    answer = await carrier_callbacks.receive(
        platform=platform,
        session=session,
        provider=parsed,
        call_id=call_id,
        kind=callback,
        method=request.method,
        url=_public_url(request, platform.settings),
        params=await _callback_params(request),
        headers=request.headers,
    )
    if answer.media_type is None:
        return Response(status_code=200)
    return Response(answer.body, media_type=answer.media_type)

