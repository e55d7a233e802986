"""A carrier's callback for one call (answer, status/hang-up, machine detection), checked and applied.

Who may say what about a call:

- Every callback carries the call's token in its URL (``domain.call_tokens``); carriers that sign
  (Twilio, Plivo, Vobiz) must also sign the URL as they requested it. A signature's nonces are
  spent by its first use (``services.callback_nonces``), and a signed time must be recent. Anything
  else is refused with 403 and changes nothing.
- Once the carrier has named the call (its CallSid / CallUUID / callid), a callback naming another
  is refused with 409; a terminal status never moves, a status never goes backwards, and the
  carrier's machine/human verdict is given once (``domain.calls``).
- Exotel and MCube sign nothing: the URL token alone authenticates them, so their callbacks must
  name the carrier call, and may only move it forward (a hang-up only with the call's own id).
- The answer document carries the media token, so it is served once per call: again only to a
  carrier that retries its answer URL (Plivo, Vobiz), for the same carrier call, and never once
  the call's stream has started (409 otherwise, without the document).

Twilio signs no nonce: a replayed Twilio request can only repeat what its signature covers, which
the rules above apply at most once; its status callbacks' signed ``Timestamp`` bounds how long a
captured one is accepted at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.carriers import get_carrier
from callwright.carriers.base import CallbackKind, CallbackProof, Carrier
from callwright.domain.call_tokens import TokenPurpose, verify_call_token
from callwright.domain.calls import CallStatus, EventKind
from callwright.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from callwright.domain.ids import parse_call_id
from callwright.domain.providers import Provider
from callwright.domain.text import params_problem
from callwright.domain.transfers import TransferMode, mode_of
from callwright.services import callback_nonces, transfers, voicemail, warm_transfers
from callwright.services.call_state import (
    apply_events,
    carrier_confirmed,
    explain_missing_media,
    lock_call,
    provider_call_id_final,
)
from callwright.services.call_urls import media_parameters, stream_url
from callwright.services.carrier_accounts import account_for_call
from callwright.store.models import Call, utcnow

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.telephony")

# What an XML carrier gets when it asks to connect a call that has already ended.
HANGUP_XML = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'
# How old a signed callback time may be (Twilio sends status callbacks as events happen), and how
# far ahead of our clock it may run.
SIGNED_TIME_MAX_AGE = timedelta(minutes=15)
SIGNED_TIME_MAX_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """What the carrier gets back: a document (the answer request), or an empty 200."""

    body: str = ""
    media_type: str | None = None


def check_token(*, platform: Platform, call_id: str, token: str | None) -> str:
    """The call's callback token from the URL, checked before the body is read; the call's
    canonical id. An id that cannot be a call's (not a UUID) is refused before any query."""
    known_id = parse_call_id(call_id)
    if known_id is None:
        raise Forbidden("callback refused: unknown call", code="invalid_callback_token")
    if not verify_call_token(platform.token_keys, known_id, TokenPurpose.CALLBACK, token):
        raise Forbidden("callback refused: missing or invalid call token", code="invalid_callback_token")
    return known_id


async def receive(
    *,
    platform: Platform,
    session: AsyncSession,
    provider: Provider,
    call_id: str,
    kind: CallbackKind,
    method: str,
    url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
) -> CallbackAnswer:
    """Check a callback whose token was checked, apply what it says, and say what to answer.

    ``url`` is the URL as the carrier requested it (our public URL), which is what it signs. A
    field with a control character (a NUL, which PostgreSQL refuses) is refused with 400 before
    any query: it changes nothing."""
    if (problem := params_problem(params)) is not None:
        raise ValidationFailed(*problem)
    carrier = get_carrier(provider)
    call = await session.get(Call, call_id)
    if call is None or call.provider != provider.value:
        raise Forbidden("callback refused: unknown call", code="invalid_callback_token")
    now = utcnow()
    if carrier.signs_callbacks:
        account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
        proof = carrier.verify_callback(method=method, url=url, params=params, headers=headers, account=account)
        await check_proof(platform, session, carrier, f"{kind.value} callback for call {call_id}", proof, now)

    named = carrier.callback_call_id(params)
    locked = await lock_call(session, call_id)
    if locked is None:
        raise NotFound(f"no call with id {call_id!r}", code="call_not_found")
    call = locked
    if kind in warm_transfers.WARM_KINDS:
        # About the warm transfer's call to the human, not the caller's: its own id rules.
        document = await warm_transfers.receive(
            platform=platform, session=session, carrier=carrier, call=call, kind=kind, params=params
        )
        return CallbackAnswer() if document is None else CallbackAnswer(document.body, document.media_type)
    _check_call_named(carrier, call, named)
    if kind is CallbackKind.ANSWER:
        check_answer_servable(carrier, call, named)
    carrier_confirmed(call)
    if kind in (CallbackKind.TRANSFER, CallbackKind.DIAL):
        answer = _transfer_answer(platform, session, carrier, call, kind, dict(params))
        await session.commit()
        return answer
    events = carrier.parse_callback(kind, params, received_at=now)
    applied = apply_events(session, call, events, source="carrier", payload={"callback": kind.value} | dict(params))
    if applied and CallStatus(call.status).is_terminal:
        explain_missing_media(call, carrier.display_name)
    answer = CallbackAnswer()
    if kind is CallbackKind.ANSWER:
        answer = answer_for(platform, carrier, call, now)
    await session.commit()

    if any(event.kind is EventKind.MACHINE_DETECTED for event in applied):
        await voicemail.on_machine_detected(platform=platform, session=session, call=call, params=params)
    return answer


async def check_proof(
    platform: Platform,
    session: AsyncSession,
    carrier: Carrier,
    what: str,
    proof: CallbackProof | None,
    now: datetime,
) -> None:
    """A carrier's signature checked (``proof`` None: missing or invalid), its signed time recent
    and its nonces spent by this first use; 403 otherwise. ``what`` names the request in logs."""
    name = carrier.display_name
    if proof is None:
        log.warning("refused %s %s: bad signature", carrier.provider.value, what)
        raise Forbidden(f"callback refused: missing or invalid {name} signature", code="invalid_signature")
    if proof.signed_at is not None and not now - SIGNED_TIME_MAX_AGE <= proof.signed_at <= now + SIGNED_TIME_MAX_SKEW:
        log.warning("refused %s %s: signed at %s", carrier.provider.value, what, proof.signed_at)
        raise Forbidden(
            f"callback refused: its {name} signature is for a time more than "
            f"{int(SIGNED_TIME_MAX_AGE.total_seconds() // 60)} minutes from now",
            code="stale_callback",
        )
    spent = await callback_nonces.spend(
        platform=platform, session=session, provider=carrier.provider.value, nonces=proof.nonces, now=now
    )
    if not spent:
        log.warning("refused %s %s: replayed signature", carrier.provider.value, what)
        raise Forbidden(
            f"callback refused: its {name} signature was already used (a replayed request)",
            code="replayed_callback",
        )


def _check_call_named(carrier: Carrier, call: Call, named: str | None) -> None:
    name = carrier.display_name
    if named is None and not carrier.signs_callbacks:
        # The URL token is all that authenticates an unsigned carrier: it must name its call too.
        raise Forbidden(
            f"callback refused: a {name} callback must name its call ({name}'s call id)",
            code="carrier_call_id_missing",
        )
    if named is not None and provider_call_id_final(call) and named != call.provider_call_id:
        raise Conflict(
            f"callback refused: it is about {name} call {named!r}, not this call's",
            code="carrier_call_id_mismatch",
        )


def check_answer_servable(carrier: Carrier, call: Call, named: str | None) -> None:
    """The answer document (and the media token in it) is served once per call; see the module."""
    if CallStatus(call.status).is_terminal or call.answer_served_at is None:
        return
    name = carrier.display_name
    if call.media_started_at is not None or call.media_socket_id is not None:
        why = "the call's media stream has already started"
    elif not carrier.retries_answer_url:
        why = f"{name} requests it once per call"
    elif named is None or named != call.provider_call_id:
        why = f"a retry must come from the same {name} call"
    else:
        return  # the carrier retrying its answer URL for this call
    raise Conflict(f"answer refused: this call's answer was already served and {why}", code="answer_already_served")


def _transfer_answer(
    platform: Platform, session: AsyncSession, carrier: Carrier, call: Call, kind: CallbackKind, params: dict[str, str]
) -> CallbackAnswer:
    """The dial document (Plivo's and Vobiz's aleg_url), or the reply to the dial's report."""
    if kind is CallbackKind.TRANSFER and mode_of(call.transfer) is TransferMode.WARM:
        document = warm_transfers.caller_document(platform=platform, session=session, carrier=carrier, call=call)
    elif kind is CallbackKind.TRANSFER:
        document = transfers.dial_document(platform=platform, carrier=carrier, call=call)
    else:
        document = transfers.dial_reported(platform=platform, session=session, carrier=carrier, call=call, params=params)
    return CallbackAnswer(document.body, document.media_type)


def answer_for(platform: Platform, carrier: Carrier, call: Call, now: datetime) -> CallbackAnswer:
    """The answer document that opens the call's media stream (with its media token), or a
    hang-up for a call already over; notes when it was first served."""
    if CallStatus(call.status).is_terminal:
        return CallbackAnswer(HANGUP_XML, "application/xml")
    call.answer_served_at = call.answer_served_at or now
    document = carrier.answer_document(
        stream_url=stream_url(platform.settings, carrier.provider.value, call.id),
        parameters=media_parameters(platform.token_keys[0], call.id),
    )
    return CallbackAnswer(document.body, document.media_type)
