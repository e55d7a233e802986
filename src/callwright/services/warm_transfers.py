"""A warm transfer: the human is called first and hears a summary, then the caller is bridged.

The caller stays with the agent (on its media stream) until the human has heard the summary, so
a human who is busy or does not answer costs the caller nothing: the agent is still there and
says so. The path (``domain.transfers``, ``TransferMode.WARM``):

1. ``start``: the summary of the call so far is made (``make_summary``: the operator's LLM when
   one is configured and the agent is not scripted, else ``offline_summary``) and the carrier
   places a second call, the *consult* leg, to the human (``Carrier.place_call``), whose answer
   and status callbacks come back as ``CallbackKind.CONSULT`` and ``CONSULT_STATUS``.
2. The human answers (``CONSULT``): the carrier says the summary (``<Speak>``/``<Say>``), then
   requests the bridge URL (``<Redirect>``), which it reaches only once the summary was said.
3. ``BRIDGE``: the media session is told the hand-off is coming (``ControlCommand.
   TRANSFER_BRIDGING``), the caller's leg is moved (``Carrier.redirect``) to the document at its
   ``TRANSFER`` URL, and the human joins the conference.
4. The caller's carrier fetches that document (``caller_document``): the transfer is
   ``transferred`` and the caller joins the same conference. Either leaving ends it.
5. A consult leg that ends before the bridge (``CONSULT_STATUS``: busy, no answer, failed, or a
   human who hung up) types the outcome, and the media session says the agent is back
   (``ControlCommand.TRANSFER_NOT_REACHED``).

Why the carrier's own text-to-speech says the summary rather than our voice on a media stream of
the human's leg: it needs no second media session (no VAD, STT, TTS per consult), works the same
on the three carriers, and the carrier's ``<Redirect>`` after it is a plain, ordered proof that the
human heard it before the caller is bridged. The cost: the human hears the carrier's voice, not
the agent's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.carriers.base import AnswerDocument, CallbackKind, Carrier, DialRequest
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.call_commands import ControlCommand
from callwright.domain.calls import CallStatus, EventKind
from callwright.domain.errors import CallwrightError, Conflict, Forbidden
from callwright.domain.transfers import (
    CALLER_GONE_MESSAGE,
    DIAL_TIMEOUT_SECS,
    DialResult,
    TransferStatus,
    clip_summary,
    conference_name,
    consult_result,
    failed_record,
    is_pending,
    offline_summary,
    settled_record,
)
from callwright.services.call_state import lock_call, record_event
from callwright.services.call_urls import callback_url, media_parameters, stream_url
from callwright.services.carrier_accounts import account_for_call
from callwright.services.transfers import our_number
from callwright.services.webhook_outbox import iso_utc
from callwright.store.models import Call, utcnow

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.transfers")

# How long the LLM may take to write the summary before the offline one is used.
SUMMARY_TIMEOUT_SECS = 8.0
SUMMARY_PROMPT = (
    "You brief a colleague who is about to take over a phone call from an AI agent. From the "
    "transcript, say in at most three short spoken sentences who is calling if known, what they "
    "want, and what was already done. Plain text only, no lists, no greeting."
)
# Why a warm transfer failed when no carrier said so.
CALLER_LEFT = "the caller's media stream ended before the bridge"
HUMAN_LEFT = "the person hung up before the caller was connected"

WARM_KINDS = frozenset({CallbackKind.CONSULT, CallbackKind.CONSULT_STATUS, CallbackKind.BRIDGE})


async def make_summary(*, platform: Platform, call: Call, transcript: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """The summary the human hears, and who wrote it (``llm`` or ``offline``)."""
    from callwright.services.extraction import endpoint_of

    turns = [dict(turn) for turn in transcript]
    spec = AgentSpec.parse(call.agent or {})
    endpoint = endpoint_of(platform.settings)
    if spec.script is not None or endpoint is None or not turns:
        return offline_summary(turns), "offline"
    lines = "\n".join(
        f"{'Caller' if t.get('role') == 'user' else 'Agent'}: {str(t.get('content') or '').strip()}" for t in turns
    )
    body: dict[str, Any] = {
        "model": endpoint.model,
        "messages": [{"role": "system", "content": SUMMARY_PROMPT}, {"role": "user", "content": lines}],
        "stream": False,
    }
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    try:
        async with asyncio.timeout(SUMMARY_TIMEOUT_SECS):
            answer = await platform.http.post(endpoint.url, json=body, headers=headers, timeout=SUMMARY_TIMEOUT_SECS)
        answer.raise_for_status()
        content = answer.json()["choices"][0]["message"]["content"]
    except Exception as exc:  # any failure: the offline summary still briefs the human
        log.warning("call %s: the LLM could not summarise the call (%s); using the offline summary",
                    call.id, type(exc).__name__)
        return offline_summary(turns), "offline"
    text = clip_summary(str(content or ""))
    return (text, "llm") if text else (offline_summary(turns), "offline")


async def start(
    *, platform: Platform, call_id: str, to: str, transcript: Sequence[Mapping[str, Any]], carrier: Carrier
) -> bool:
    """Summarise the call and have the carrier call the human (the consult leg). False when the
    carrier refused (stored as a ``failed`` transfer with its words)."""
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        if call is None:
            return False
        account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
    # No transaction stays open while the LLM writes (it may take SUMMARY_TIMEOUT_SECS).
    summary, written_by = await make_summary(platform=platform, call=call, transcript=transcript)

    key, provider = platform.token_keys[0], carrier.provider.value
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        if call is None or not is_pending(call.transfer):
            await session.commit()
            return False
        call.transfer = dict(call.transfer or {}) | {"summary": summary}
        record_event(session, call, kind="transfer_summary", source="platform", before=call.status,
                     payload={"written_by": written_by, "chars": len(summary)})
        dial = DialRequest(
            call_id=call.id,
            to_number=to,
            from_number=our_number(call),
            answer_url=callback_url(platform.settings, key, provider, call.id, CallbackKind.CONSULT),
            status_url=callback_url(platform.settings, key, provider, call.id, CallbackKind.CONSULT_STATUS),
            stream_url="",
            ring_timeout_secs=DIAL_TIMEOUT_SECS,
        )
        await session.commit()
    try:
        placed = await carrier.place_call(dial, account, http=platform.http, endpoints=platform.endpoints)
    except CallwrightError as exc:
        log.warning("call %s: the call to the human was refused: %s", call_id, exc.message)
        await settle_failed(platform, call_id, failed=exc.message)
        return False
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        if call is not None and call.transfer is not None and not call.transfer.get("consult_call_id"):
            # A callback that came first may already have named the leg (Plivo's CallUUID).
            call.transfer = dict(call.transfer) | {"consult_call_id": placed.provider_call_id}
        await session.commit()
    return True


async def receive(
    *,
    platform: Platform,
    session: AsyncSession,
    carrier: Carrier,
    call: Call,
    kind: CallbackKind,
    params: Mapping[str, str],
) -> AnswerDocument | None:
    """A consult-leg callback (the call is locked): the document to answer, or None (status)."""
    record = call.transfer
    if record is None or record.get("summary") is None:
        await session.commit()
        raise Conflict("no warm transfer is under way on this call", code="no_transfer_pending")
    _check_consult_named(carrier, call, params)
    if kind is CallbackKind.CONSULT:
        answer = _consult_answer(platform, carrier, call, record)
        await session.commit()
        return answer
    if kind is CallbackKind.CONSULT_STATUS:
        await _consult_status(platform, session, carrier, call, params)
        return None
    return await _bridge(platform, session, carrier, call, params)


def _check_consult_named(carrier: Carrier, call: Call, params: Mapping[str, str]) -> None:
    named = carrier.callback_call_ids(params)
    known = (call.transfer or {}).get("consult_call_id")
    if not named and not carrier.signs_callbacks:
        raise Forbidden("callback refused: it must name its call", code="carrier_call_id_missing")
    if named and known and known not in named:
        raise Conflict(
            f"callback refused: it is about {carrier.display_name} call {sorted(named)[0]!r}, not this "
            "transfer's call to the human",
            code="carrier_call_id_mismatch",
        )
    if named and not known:
        call.transfer = dict(call.transfer or {}) | {"consult_call_id": carrier.callback_call_id(params)}


def _consult_answer(platform: Platform, carrier: Carrier, call: Call, record: dict[str, Any]) -> AnswerDocument:
    """The human picked up: the summary, then the bridge; a goodbye if the caller is gone."""
    if not is_pending(record) or record.get("bridged_at") or CallStatus(call.status).is_terminal:
        return carrier.goodbye_document(message=CALLER_GONE_MESSAGE)
    bridge = callback_url(platform.settings, platform.token_keys[0], carrier.provider.value, call.id, CallbackKind.BRIDGE)
    return carrier.summary_document(summary=str(record["summary"]), bridge_url=bridge)


async def _consult_status(
    platform: Platform, session: AsyncSession, carrier: Carrier, call: Call, params: Mapping[str, str]
) -> None:
    ended = [e for e in carrier.parse_callback(CallbackKind.STATUS, params, received_at=utcnow())
             if e.kind is EventKind.ENDED]
    record = dict(call.transfer or {})
    if not ended or not is_pending(record):
        await session.commit()
        return
    event = ended[-1]
    outcome = event.outcome.value if event.outcome is not None else "failed"
    # Twilio, Plivo and Vobiz all name the leg's final status CallStatus.
    words = params.get("CallStatus") or outcome
    if record.get("bridged_at"):
        result = DialResult(TransferStatus.FAILED, words, HUMAN_LEFT)
    else:
        result = consult_result(outcome, carrier_status=words, carrier_reason=event.hangup_cause)
        if outcome == "completed":  # answered, then hung up before the bridge
            result = DialResult(TransferStatus.FAILED, words, HUMAN_LEFT)
    call.transfer = settled_record(record, result, completed_at=_now())
    record_event(session, call, kind="transfer_completed", source="carrier", before=call.status,
                 payload={"status": result.status.value, "carrier_status": words, "mode": "warm"})
    tell_agent = not record.get("bridged_at") and not CallStatus(call.status).is_terminal
    await session.commit()
    if tell_agent:
        await platform.control.run(call.id, ControlCommand.TRANSFER_NOT_REACHED)


async def _bridge(
    platform: Platform, session: AsyncSession, carrier: Carrier, call: Call, params: Mapping[str, str]
) -> AnswerDocument:
    """The human heard the summary: move the caller into the conference, and the human too."""
    record = dict(call.transfer or {})
    if not is_pending(record) or record.get("bridged_at") or CallStatus(call.status).is_terminal:
        await session.commit()
        return carrier.goodbye_document(message=CALLER_GONE_MESSAGE)
    # The human leg's status in the carrier's words, kept as the transfer's once it is done.
    call.transfer = record | {"bridged_at": _now(), "carrier_status": params.get("CallStatus") or "in-progress"}
    record_event(session, call, kind="transfer_bridging", source="carrier", before=call.status, payload={})
    account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
    call_id, provider_call_id = call.id, call.provider_call_id or ""
    await session.commit()  # no lock held across the requests below
    if not await platform.control.run(call_id, ControlCommand.TRANSFER_BRIDGING):
        await settle_failed(platform, call_id, failed=CALLER_LEFT, refused=False)
        return carrier.goodbye_document(message=CALLER_GONE_MESSAGE)
    url = callback_url(platform.settings, platform.token_keys[0], carrier.provider.value, call_id, CallbackKind.TRANSFER)
    try:
        await carrier.redirect(provider_call_id, account, url=url, http=platform.http, endpoints=platform.endpoints)
    except CallwrightError as exc:
        log.warning("call %s: moving the caller to the conference was refused: %s", call_id, exc.message)
        await settle_failed(platform, call_id, failed=exc.message)
        await platform.control.run(call_id, ControlCommand.TRANSFER_NOT_REACHED)
        return carrier.goodbye_document(message=CALLER_GONE_MESSAGE)
    return carrier.conference_document(room=conference_name(call_id))


def caller_document(*, platform: Platform, session: AsyncSession, carrier: Carrier, call: Call) -> AnswerDocument:
    """The caller's leg fetches what to run after the redirect: the conference, and the transfer
    is ``transferred``. If the human left meanwhile (settled ``failed``), the call goes back to its
    agent on a fresh media stream instead."""
    record = dict(call.transfer or {})
    if is_pending(record) and record.get("bridged_at"):
        result = DialResult(TransferStatus.TRANSFERRED, str(record.get("carrier_status") or "in-progress"))
        call.transfer = settled_record(record, result, completed_at=_now())
        record_event(session, call, kind="transfer_completed", source="carrier", before=call.status,
                     payload={"status": result.status.value, "carrier_status": result.carrier_status, "mode": "warm"})
        return carrier.conference_document(room=conference_name(call.id))
    if CallStatus(call.status).is_terminal:
        return carrier.goodbye_document(message=CALLER_GONE_MESSAGE)
    return carrier.answer_document(
        stream_url=stream_url(platform.settings, carrier.provider.value, call.id),
        parameters=media_parameters(platform.token_keys[0], call.id),
    )


async def settle_failed(platform: Platform, call_id: str, *, failed: str, refused: bool = True) -> None:
    """A pending transfer failed: the carrier refused a request (``refused``, its words in
    ``failed``), or the platform saw why."""
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        if call is not None and is_pending(call.transfer):
            call.transfer = failed_record(
                dict(call.transfer or {}), failed, completed_at=_now(),
                carrier_status="request_refused" if refused else None,
            )
            record_event(session, call, kind="transfer_failed", source="platform", before=call.status,
                         payload={"reason": failed, "mode": "warm"})
        await session.commit()


def _now() -> str:
    return iso_utc(utcnow()) or ""
