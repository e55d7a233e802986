"""Browser sessions: a partner talks to one of its agents from a browser over WebRTC.

``start_session`` records the session (the agent as it is now) and hands back where to post the
offer; ``answer_offer`` answers the browser's SDP offer with aiortc (Pipecat's SmallWebRTC
connection) and starts the session's runtime in this process: once the peer connection is up, the
same ``CallMediaSession`` a phone call runs, with the browser's peer as its far end
(``voice.browser_leg``). When it ends, the transcript and latency are stored and
``session.completed`` is written (without ``call``), in one transaction.

The peer connection lives in the process that answered the offer; with several processes behind a
balancer that is simply the one the offer reached (WebRTC media goes to the address in the answer).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.agent_spec import AgentSpec
from callwright.domain.browser_sessions import (
    CONNECT_TIMEOUT_SECS,
    LIVE_STATUSES,
    OFFER_WINDOW_SECS,
    SessionStatus,
    offer_deadline,
    offer_problem,
    shown_status,
)
from callwright.domain.end_reasons import EndReason
from callwright.domain.errors import CallwrightError, Conflict, LimitExceeded, NotFound, ValidationFailed
from callwright.domain.ids import parse_id
from callwright.services import agents as agent_service
from callwright.services import dictionaries, media_events, session_setup, voice_config, webhook_outbox
from callwright.store.models import BrowserSession, Partner, utcnow

if TYPE_CHECKING:
    from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

    from callwright.platform import Platform
    from callwright.voice.session import AgentScript, MediaOutcome

log = logging.getLogger("callwright.browser_sessions")

CONCURRENCY_RETRY_AFTER_SECS = 5
# How long aiortc may take to answer an offer (it gathers its host candidates first).
ANSWER_TIMEOUT_SECS = 10.0


async def start_session(
    *, session: AsyncSession, partner: Partner, agent_id: str, now: datetime | None = None
) -> BrowserSession:
    """A new session with the partner's agent, waiting for the browser's offer. Live browser
    sessions count against the partner's concurrency limit (a separate count from its calls)."""
    now = now or utcnow()
    agent = await agent_service.get_agent(session=session, partner=partner, agent_id=agent_id)
    live = await session.scalar(
        select(func.count())
        .select_from(BrowserSession)
        .where(
            BrowserSession.partner_id == partner.id,
            BrowserSession.status.in_([s.value for s in LIVE_STATUSES]),
            or_(
                BrowserSession.status != SessionStatus.CREATED.value,
                BrowserSession.created_at > now - _offer_window(),
            ),
        )
    )
    if (live or 0) >= partner.concurrency_limit:
        raise LimitExceeded(
            f"concurrency limit reached: {partner.concurrency_limit} browser sessions are already "
            "live; retry when one ends",
            code="concurrency_limit",
            details={"limit": partner.concurrency_limit, "active": live},
            headers={"Retry-After": str(CONCURRENCY_RETRY_AFTER_SECS)},
        )
    row = BrowserSession(
        partner_id=partner.id,
        agent_id=agent.id,
        agent=agent_service.agent_spec(agent).snapshot(),
        status=SessionStatus.CREATED.value,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.commit()
    return row


def prepare(platform: Platform, row: BrowserSession) -> None:
    """Render the session's intro while the browser asks for the microphone and gathers its
    candidates, so the greeting starts the moment the peer connects (as a call's does while the
    phone rings); pronounced as the agent's dictionaries say, as the session will."""
    session_id, partner_id, agent = row.id, row.partner_id, dict(row.agent)

    async def render() -> None:
        try:
            script = await dictionaries.with_dictionaries(
                platform=platform, partner_id=partner_id, spec=AgentSpec.parse(agent), script=_script(platform, agent)
            )
            await media_events.prerender_intro(script)
        except Exception:  # the session renders it itself when it runs
            log.warning("browser session %s: the intro could not be pre-rendered", session_id, exc_info=True)

    task = asyncio.create_task(render(), name=f"browser-session-intro-{session_id}")
    platform.browser_tasks.add(task)
    task.add_done_callback(platform.browser_tasks.discard)


def _script(platform: Platform, agent: dict[str, Any]) -> AgentScript:
    script = media_events.script_for_agent(agent, {}, voice_config.call_rules(platform.settings))
    return replace(script, detect_voicemail=False)  # a browser has no mailbox greeting to judge


async def find_session(*, session: AsyncSession, partner: Partner, session_id: str) -> BrowserSession | None:
    """The partner's browser session with this id; None for an unknown or another partner's."""
    canonical = parse_id(session_id)
    if canonical is None:
        return None
    return await session.scalar(
        select(BrowserSession).where(BrowserSession.id == canonical, BrowserSession.partner_id == partner.id)
    )


async def answer_offer(
    *, platform: Platform, partner: Partner, session_id: str, sdp: str, type_: str
) -> dict[str, str]:
    """Answer the browser's offer and start the session's runtime; ``{sdp, type}``.

    One offer per session: a second is 409 ``offer_already_answered``; one after the offer
    window is 409 ``session_expired``; another partner's session is 404 like a missing one."""
    if (problem := offer_problem(sdp=sdp, type_=type_)) is not None:
        raise ValidationFailed(*problem)
    if platform.draining:
        # A draining node takes no new media (as its carrier sockets); the browser may retry.
        raise CallwrightError(
            "this server is shutting down and takes no new session; retry in a few seconds",
            code="draining", status_code=503, headers={"Retry-After": str(CONCURRENCY_RETRY_AFTER_SECS)},
        )
    now = utcnow()
    async with platform.sessions() as session:
        row = await find_session(session=session, partner=partner, session_id=session_id)
        if row is None:
            raise NotFound(f"no session with id {session_id[:64]!r}", code="session_not_found")
        status = shown_status(row.status, created_at=row.created_at, now=now)
        if status is SessionStatus.EXPIRED:
            raise Conflict(
                f"session {row.id} expired: its offer did not come within {OFFER_WINDOW_SECS} s of "
                "the start; start a new session",
                code="session_expired",
            )
        # Claimed with a conditional update, so two offers racing for one session get one answer.
        claimed = await session.execute(
            update(BrowserSession)
            .where(BrowserSession.id == row.id, BrowserSession.status == SessionStatus.CREATED.value)
            .values(status=SessionStatus.CONNECTING.value, offer_received_at=now, updated_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(
                f"session {row.id} already answered an offer; start a new session to connect again",
                code="offer_already_answered",
            )
        await session.commit()
        agent = dict(row.agent)
        partner_id, agent_id = row.partner_id, row.agent_id

    from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection  # aiortc: loaded here

    # No STUN or TURN server: the answer carries this host's own addresses, so nothing leaves
    # for a third party (the browser must reach this host directly).
    connection = SmallWebRTCConnection(ice_servers=[], connection_timeout_secs=int(CONNECT_TIMEOUT_SECS))
    try:
        await asyncio.wait_for(connection.initialize(sdp=sdp, type=type_), ANSWER_TIMEOUT_SECS)
        answer = connection.get_answer()
        if answer is None:
            raise RuntimeError("aiortc produced no answer")
    except Exception as exc:
        await connection.disconnect()
        reason = f"the offer could not be answered: {exc.__class__.__name__}: {exc}"[:500]
        await _finish(platform, row.id, status=SessionStatus.FAILED, end_reason=reason)
        raise ValidationFailed("sdp", f"sdp could not be negotiated ({exc.__class__.__name__})") from exc
    task = asyncio.create_task(
        _carry(platform, row.id, partner_id=partner_id, agent_id=agent_id, agent=agent, connection=connection),
        name=f"browser-session-{row.id}",
    )
    platform.browser_tasks.add(task)
    task.add_done_callback(platform.browser_tasks.discard)
    return {"sdp": answer["sdp"], "type": answer["type"]}


async def _carry(
    platform: Platform,
    session_id: str,
    *,
    partner_id: str,
    agent_id: str,
    agent: dict[str, Any],
    connection: SmallWebRTCConnection,
) -> None:
    """Wait for the peer, run the agent on it until it ends, store what happened. The agent's
    dictionaries, background audio and documents come in as on a phone call
    (``session_setup``)."""
    from callwright.voice.browser_leg import BrowserPeerLeg
    from callwright.voice.session import CallMediaSession

    setup: session_setup.SessionSetup | None = None
    try:
        if not await _connected(connection):
            await connection.disconnect()
            await _finish(
                platform, session_id, status=SessionStatus.FAILED,
                end_reason=f"the browser did not connect within {CONNECT_TIMEOUT_SECS:.0f} s of the answer",
            )
            return
        async with platform.sessions() as session:
            await session.execute(
                update(BrowserSession)
                .where(BrowserSession.id == session_id)
                .values(status=SessionStatus.IN_PROGRESS.value, started_at=utcnow(), updated_at=utcnow())
            )
            await session.commit()

        async def first_audio(at: datetime) -> None:
            async with platform.sessions() as session:
                await session.execute(
                    update(BrowserSession)
                    .where(BrowserSession.id == session_id, BrowserSession.first_agent_audio_at.is_(None))
                    .values(first_agent_audio_at=at)
                )
                await session.commit()

        leg = BrowserPeerLeg(connection)
        setup = await session_setup.setup_session(
            platform=platform, partner_id=partner_id, agent_id=agent_id, agent=agent,
            script=_script(platform, agent), output_sample_rate=leg.output_sample_rate,
        )
        media = CallMediaSession(
            leg,
            script=setup.script,
            background=setup.background,
            knowledge=setup.knowledge,
            on_first_agent_audio=first_audio,
            llm_defaults=voice_config.llm_defaults(platform.settings),
        )
        platform.browser_media[session_id] = media
        try:
            outcome = await media.run()
        finally:
            platform.browser_media.pop(session_id, None)
        await _store_outcome(platform, session_id, outcome)
    except asyncio.CancelledError:
        await connection.disconnect()
        await _finish(platform, session_id, status=SessionStatus.FAILED, end_reason=EndReason.PLATFORM_SHUTTING_DOWN.words)
        raise
    except Exception as exc:
        log.exception("browser session %s failed", session_id)
        await connection.disconnect()
        await _finish(platform, session_id, status=SessionStatus.FAILED, end_reason=f"error: {exc}"[:500])
    finally:
        if setup is not None:
            setup.release()


async def _connected(connection: SmallWebRTCConnection) -> bool:
    """Whether the peer connection came up within ``CONNECT_TIMEOUT_SECS`` of the answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CONNECT_TIMEOUT_SECS
    while loop.time() < deadline:
        state = connection.pc.connectionState
        if state == "connected":
            return True
        if state in ("failed", "closed"):
            return False
        await asyncio.sleep(0.02)
    return False


async def _store_outcome(platform: Platform, session_id: str, outcome: MediaOutcome) -> None:
    status = SessionStatus.FAILED if outcome.end_reason is EndReason.ERROR else SessionStatus.COMPLETED
    await _finish(
        platform, session_id, status=status, end_reason=outcome.description,
        transcript=outcome.transcript, latency=outcome.latency,
    )


async def _finish(
    platform: Platform,
    session_id: str,
    *,
    status: SessionStatus,
    end_reason: str,
    transcript: list[dict[str, Any]] | None = None,
    latency: dict[str, float] | None = None,
) -> None:
    """The session's end, stored with its ``session.completed`` event in one transaction."""
    async with platform.sessions() as session:
        row = await session.get(BrowserSession, session_id, with_for_update=True)
        if row is None or row.session_completed_at is not None:
            return
        now = utcnow()
        row.status, row.end_reason, row.ended_at, row.updated_at = status.value, end_reason, now, now
        if row.started_at is not None:
            row.duration_seconds = max(0, round((now - row.started_at).total_seconds()))
        if transcript is not None:
            row.transcript = transcript
        row.latency = latency
        webhook_outbox.browser_session_completed(session, row)
        await session.commit()


async def end_all(platform: Platform) -> None:
    """End this process's browser sessions (shutdown): each is stored as ended by the platform."""
    for media in list(platform.browser_media.values()):
        await media.end(EndReason.PLATFORM_SHUTTING_DOWN)
    tasks = list(platform.browser_tasks)
    for task in tasks:
        if not task.done():
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _offer_window() -> timedelta:
    return timedelta(seconds=OFFER_WINDOW_SECS)


def session_public(
    row: BrowserSession, *, platform: Platform | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """``GET /sessions/{id}`` for a browser session: Vocobase's session fields, plus ``type``,
    ``end_reason``, ``latency`` and the offer's deadline. While the session runs in this process
    (``platform`` given), its transcript so far; otherwise the one stored when it ended."""
    now = now or utcnow()
    transcript = list(row.transcript or [])
    media = platform.browser_media.get(row.id) if platform is not None else None
    if media is not None and row.session_completed_at is None:
        transcript = media.conversation.wire()
    return {
        "session_id": row.id,
        "type": "webrtc",
        "agent_id": row.agent_id,
        "agent_name": row.agent.get("agent_name"),
        "status": shown_status(row.status, created_at=row.created_at, now=now).value,
        "duration_seconds": row.duration_seconds,
        "credits_used": 0.0,
        "transcript": transcript,
        "latency": row.latency,
        "recording_url": None,
        "variables": {},
        "end_reason": row.end_reason,
        "offer_expires_at": webhook_outbox.iso_utc(offer_deadline(row.created_at)),
        "first_agent_audio_at": webhook_outbox.iso_utc(row.first_agent_audio_at),
        "created_at": webhook_outbox.iso_utc(row.created_at),
        "started_at": webhook_outbox.iso_utc(row.started_at),
        "ended_at": webhook_outbox.iso_utc(row.ended_at),
    }
