"""Calls moved through their life with the platform's own services (carrier events through
``call_state.apply_events``, the media outcome through ``media_events``), and webhook endpoints
written straight into the store, for the outbox and sender tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from callwright.carriers.base import MediaStart
from callwright.domain.calls import CallEvent, CallStatus, EventKind
from callwright.domain.webhooks import ALL_EVENTS
from callwright.platform import Platform
from callwright.services import media_events
from callwright.services.call_state import apply_events, lock_call
from callwright.services.webhooks import seal_context
from callwright.store.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, new_id, utcnow
from tests.connection_rows import add_call

TRANSCRIPT = [
    {"role": "bot", "content": "Hello Asha.", "timestamp": "2026-11-25T10:00:01.000000Z", "latency_ms": None},
    {"role": "user", "content": "Hi.", "timestamp": "2026-11-25T10:00:03.000000Z", "latency_ms": None},
    {"role": "bot", "content": "See you tomorrow.", "timestamp": "2026-11-25T10:00:04.000000Z", "latency_ms": 640},
]
LATENCY = {"min_ms": 640, "max_ms": 640, "avg_ms": 640.0}


async def new_call(platform: Platform, partner_id: str) -> str:
    return await add_call(
        platform, partner_id, agent={"agent_name": "Reminder bot"}, variables={"name": "Asha"}
    )


def event(kind: EventKind, **fields: Any) -> CallEvent:
    return CallEvent(kind, at=utcnow(), **fields)


def ended() -> CallEvent:
    return event(EventKind.ENDED, outcome=CallStatus.COMPLETED, hangup_cause="NORMAL_CLEARING", duration_seconds=7)


async def carrier_says(platform: Platform, call_id: str, *events: CallEvent) -> None:
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        assert call is not None
        apply_events(session, call, events, source="carrier", payload={"test": True})
        await session.commit()


async def media_starts(platform: Platform, call_id: str) -> None:
    start = MediaStart("stream-1", "prov-1", {}, "audio/x-mulaw", 8000)
    await media_events.media_started(platform=platform, call_id=call_id, start=start)


async def media_ends(platform: Platform, call_id: str) -> None:
    from callwright.voice.session import MediaOutcome

    now = utcnow()
    outcome = MediaOutcome(
        end_reason="caller_hung_up", started_at=now - timedelta(seconds=7), ended_at=now,
        first_agent_audio_at=None, intro_spoken=True, transcript=TRANSCRIPT, latency=LATENCY,
    )
    await media_events.media_ended(platform=platform, call_id=call_id, outcome=outcome)


async def add_endpoint(
    platform: Platform,
    partner_id: str,
    url: str,
    secret: str,
    label: str = "test",
    events: list[str] | None = None,
    enabled: bool = True,
) -> str:
    """An endpoint stored as the API would store it (URL rules not applied: a test may need one
    the production rules refuse, to show the sender refuses it too), receiving every event type
    unless ``events`` says otherwise."""
    async with platform.sessions() as session:
        endpoint = WebhookEndpoint(
            id=new_id(), partner_id=partner_id, label=label, url=url, enabled=enabled,
            events=[e.value for e in ALL_EVENTS] if events is None else events,
        )
        endpoint.sealed_secret = platform.secretbox.seal(
            {"secret": secret}, context=seal_context(partner_id, endpoint.id)
        )
        session.add(endpoint)
        await session.commit()
        return endpoint.id


async def events_of(platform: Platform, call_id: str) -> list[WebhookEvent]:
    async with platform.sessions() as session:
        rows = await session.scalars(
            select(WebhookEvent).where(WebhookEvent.call_id == call_id).order_by(WebhookEvent.created_at)
        )
        return list(rows)


async def deliveries(platform: Platform, **where: Any) -> list[WebhookDelivery]:
    async with platform.sessions() as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.created_at)
        for name, value in where.items():
            query = query.where(getattr(WebhookDelivery, name) == value)
        return list(await session.scalars(query))
