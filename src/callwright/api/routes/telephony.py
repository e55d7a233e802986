"""Carrier callbacks: answer, status/hang-up and machine detection for one call.

Every callback carries the call's token in its URL; carriers that sign their callbacks (Twilio,
Plivo, Vobiz) must also carry a valid signature for the URL as they requested it (our public URL,
not the address a proxy forwarded to). Anything else is refused with 403 and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response

from callwright.api.deps import PlatformDep, SessionDep
from callwright.carriers import get_carrier
from callwright.carriers.base import CallbackKind
from callwright.domain.call_tokens import TokenPurpose, verify_call_token
from callwright.domain.calls import CallStatus
from callwright.domain.errors import Forbidden, NotFound, ValidationFailed
from callwright.domain.ids import parse_call_id
from callwright.domain.providers import parse_provider
from callwright.domain.text import params_problem
from callwright.services import voicemail
from callwright.services.call_state import apply_events, explain_missing_media, lock_call
from callwright.services.call_urls import media_parameters, stream_url
from callwright.services.carrier_accounts import account_for_call
from callwright.store.models import Call, utcnow

log = logging.getLogger("callwright.telephony")
router = APIRouter(tags=["carrier callbacks"])

# What an XML carrier gets when it asks to connect a call that has already ended.
_HANGUP_XML = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'


async def _callback_params(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        body: Any = await request.json()
        items = body.items() if isinstance(body, dict) else []
        return {str(k): "" if v is None else str(v) for k, v in items}
    if request.method == "POST":
        form = await request.form()
        return {k: str(v) for k, v in form.items()}
    return {k: v for k, v in request.query_params.items() if k != "token"}


def _public_url(request: Request, settings) -> str:  # type: ignore[no-untyped-def]
    """The URL the carrier called, as it saw it: our public base + path + query."""
    query = request.url.query
    return settings.public_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


@router.get("/telephony/{provider}/{call_id}/{kind}", include_in_schema=False)
@router.post(
    "/telephony/{provider}/{call_id}/{kind}",
    summary="Carrier callback (answer, status, machine detection)",
    description="Called by the partner's carrier, never by partners. Authenticated by the per-call "
    "token in the URL and, where the carrier signs callbacks, by its signature.",
    responses={200: {"content": {"application/xml": {"example": "<Response>…</Response>"}}}},
)
async def carrier_callback(
    request: Request, provider: str, call_id: str, kind: str, platform: PlatformDep, session: SessionDep
) -> Response:
    parsed = parse_provider(provider)
    try:
        callback = CallbackKind(kind)
    except ValueError:
        callback = None
    if parsed is None or callback is None:
        raise NotFound(f"no callback {kind!r} for provider {provider!r}", code="unknown_callback")
    if (known_id := parse_call_id(call_id)) is None:
        raise Forbidden("callback refused: unknown call", code="invalid_callback_token")
    call_id = known_id
    token = request.query_params.get("token")
    if not verify_call_token(platform.token_keys, call_id, TokenPurpose.CALLBACK, token):
        raise Forbidden("callback refused: missing or invalid call token", code="invalid_callback_token")
    params = await _callback_params(request)
    call = await session.get(Call, call_id)
    if call is None or call.provider != parsed.value:
        raise Forbidden("callback refused: unknown call", code="invalid_callback_token")
    carrier = get_carrier(parsed)
    if carrier.signs_callbacks:
        account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
        if not carrier.validate_signature(
            method=request.method,
            url=_public_url(request, platform.settings),
            params=params,
            headers=request.headers,
            account=account,
        ):
            log.warning("refused %s %s callback for call %s: bad signature", parsed.value, kind, call_id)
            raise Forbidden(
                f"callback refused: missing or invalid {carrier.display_name} signature",
                code="invalid_signature",
            )

    if (problem := params_problem(params)) is not None:
        raise ValidationFailed(*problem)
    events = carrier.parse_callback(callback, params, received_at=utcnow())
    call = await lock_call(session, call_id)
    assert call is not None
    applied = apply_events(session, call, events, source="carrier", payload={"callback": kind} | params)
    if applied and CallStatus(call.status).is_terminal:
        explain_missing_media(call, carrier.display_name)
    await session.commit()

    if any(e.kind.value == "machine_detected" for e in applied):
        await voicemail.on_machine_detected(platform=platform, session=session, call=call, params=params)

    if callback is CallbackKind.ANSWER:
        if CallStatus(call.status).is_terminal:
            return Response(_HANGUP_XML, media_type="application/xml")
        document = carrier.answer_document(
            stream_url=stream_url(platform.settings, parsed.value, call.id),
            parameters=media_parameters(platform.token_keys[0], call.id),
        )
        return Response(document.body, media_type=document.media_type)
    return Response(status_code=200)
