"""The Voicebot applet's URL for an Exotel connection: one https endpoint per connection, for the
calls we place through a flow and for the calls to the connection's ExoPhones (``inbound_calls``).

An Exotel flow's Voicebot applet holds one fixed URL, the same for every call through the flow, so
it cannot carry a per-call URL or token. Its URL may instead be an https endpoint answering
``{"url": "wss://…"}`` for each call (developer.exotel.com/docs/agentstream/stream-voicebot-applet:
"an HTTPS endpoint that dynamically returns the WSS URL"). Ours is
``/telephony/exotel/voicebot/{connection_id}/{secret}``: the secret is HMAC(platform token key,
connection id) (``domain.call_tokens``, purpose ``voicebot``), so no column or migration is needed
and a master-key rotation keeps the old URL working while the old key is kept. The call is found
by the ``CallSid`` Exotel sends, among this connection's calls; what it answers is the call's
answer document, served once, by ``services.carrier_callbacks`` (the call's media token is in it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.carriers import get_carrier
from callwright.carriers.base import CallbackKind
from callwright.domain.call_tokens import TokenPurpose, call_token, verify_call_token
from callwright.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from callwright.domain.providers import Provider
from callwright.services import carrier_callbacks, inbound_calls
from callwright.store.models import Call, TelephonyConnection

if TYPE_CHECKING:
    from callwright.platform import Platform


def voicebot_url(platform: Platform, connection_id: str) -> str:
    secret = call_token(platform.token_keys[0], connection_id, TokenPurpose.VOICEBOT)
    base = platform.settings.public_url.rstrip("/")
    return f"{base}/telephony/exotel/voicebot/{connection_id}/{secret}"


def connection_links(platform: Platform, provider: Provider, connection: TelephonyConnection | None) -> dict[str, Any]:
    """What a partner needs to wire a connection up on the carrier's side, beyond its fields:
    for Exotel, the URL to paste into the flow's Voicebot applet (once configured)."""
    if provider is not Provider.EXOTEL or connection is None:
        return {}
    return {"voicebot_url": voicebot_url(platform, connection.id)}


async def answer(
    *,
    platform: Platform,
    session: AsyncSession,
    connection_id: str,
    secret: str,
    method: str,
    url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
) -> carrier_callbacks.CallbackAnswer:
    """The stream URL for the call Exotel names, or a refusal that changes nothing."""
    if not verify_call_token(platform.token_keys, connection_id, TokenPurpose.VOICEBOT, secret):
        raise Forbidden("voicebot request refused: unknown connection or wrong secret", code="invalid_voicebot_secret")
    connection = await session.get(TelephonyConnection, connection_id)
    if connection is None or connection.provider != Provider.EXOTEL.value:
        raise Forbidden("voicebot request refused: unknown connection or wrong secret", code="invalid_voicebot_secret")
    call_sid = (params.get("CallSid") or "").strip()
    if not call_sid:
        raise ValidationFailed("CallSid", "CallSid is required: the Voicebot applet names the call it connects")
    call_id = await session.scalar(
        select(Call.id).where(
            Call.connection_id == connection.id,
            Call.provider == Provider.EXOTEL.value,
            Call.provider_call_id == call_sid,
        )
    )
    if call_id is None:
        carrier = get_carrier(Provider.EXOTEL)
        if carrier.parse_inbound(params) is not None:
            # An ExoPhone's call (Direction=incoming, CallTo the ExoPhone): its number's agent.
            return await inbound_calls.connect(
                platform=platform, session=session, carrier=carrier, connection=connection, params=params
            )
        raise NotFound(f"no call of this connection has Exotel CallSid {call_sid!r}", code="call_not_found")
    answer = await carrier_callbacks.receive(
        platform=platform,
        session=session,
        provider=Provider.EXOTEL,
        call_id=call_id,
        kind=CallbackKind.ANSWER,
        method=method,
        url=url,
        params=params,
        headers=headers,
    )
    if answer.media_type != "application/json":
        # The call ended before Exotel asked (the answer would be an XML hang-up): nothing to join.
        raise Conflict("voicebot request refused: the call has already ended", code="call_already_ended")
    return answer
