"""The outbox: webhook events are written in the transaction of the call change that causes them,
fanned out to the partner's endpoints of that moment, and session.completed is written exactly
once per call, when it is terminal and its media has ended (so the transcript is in it)."""

from __future__ import annotations

import asyncio

from callwright.domain.calls import CallStatus, EventKind
from callwright.services.call_state import apply_events, lock_call
from callwright.services.webhook_outbox import iso_utc
from callwright.store.models import Call
from tests.webhook_support import (
    TRANSCRIPT,
    add_endpoint,
    carrier_says,
    deliveries,
    ended,
    event,
    events_of,
    media_ends,
    media_starts,
    new_call,
)


async def test_a_call_without_media_fires_each_typed_event_and_one_session_completed(platform, partner):
    first = await add_endpoint(platform, partner.id, "http://127.0.0.1:9/a", "whsec_a", label="a")
    second = await add_endpoint(platform, partner.id, "http://127.0.0.1:9/b", "whsec_b", label="b")
    call_id = await new_call(platform, partner.id)
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    await carrier_says(platform, call_id, event(EventKind.RINGING))  # a duplicate changes nothing
    await carrier_says(
        platform, call_id, event(EventKind.ENDED, outcome=CallStatus.NO_ANSWER, hangup_cause="NO_ANSWER")
    )

    events = await events_of(platform, call_id)
    assert [e.type for e in events] == ["call.ringing", "call.ended", "session.completed"]
    completed = events[-1].data
    assert completed["call"] == {
        "call_id": call_id, "from_number": "+918011223344", "to_number": "+919876543210",
        "direction": "outbound", "status": "no_answer", "disposition": "no_answer",
        "answered_by": "not_answered",
    }
    assert completed["transcript"] == [] and completed["variables"] == {"name": "Asha"}
    assert completed["agent_name"] == "Reminder bot"
    assert events[1].data["previous_status"] == "ringing" and events[1].data["call"]["status"] == "no_answer"
    # One delivery per (event, endpoint), pending and due at once.
    rows = await deliveries(platform)
    assert sorted((d.event_id, d.endpoint_id) for d in rows) == sorted(
        (e.id, ep) for e in events for ep in (first, second)
    )
    assert {d.status for d in rows} == {"pending"} and {d.attempt_count for d in rows} == {0}


async def test_session_completed_waits_for_the_media_to_end_and_carries_the_transcript(platform, partner):
    await add_endpoint(platform, partner.id, "http://127.0.0.1:9/a", "whsec_a")
    call_id = await new_call(platform, partner.id)
    await carrier_says(platform, call_id, event(EventKind.ANSWERED))
    await media_starts(platform, call_id)
    await carrier_says(platform, call_id, ended())  # the carrier's hang-up before our stream closed
    assert [e.type for e in await events_of(platform, call_id)] == ["call.answered", "call.ended"]

    await media_ends(platform, call_id)
    await media_ends(platform, call_id)  # a repeated media end emits nothing more
    events = await events_of(platform, call_id)
    assert [e.type for e in events] == ["call.answered", "call.ended", "session.completed"]
    data = events[-1].data
    assert data["transcript"] == TRANSCRIPT
    assert data["latency"] == {"min_ms": 640, "max_ms": 640, "avg_ms": 640.0}
    assert data["duration_seconds"] == 7 and data["call"]["status"] == "completed"


async def test_media_that_ends_first_leaves_session_completed_to_the_hang_up(platform, partner):
    call_id = await new_call(platform, partner.id)
    await media_starts(platform, call_id)  # the stream opening answers the call
    await media_ends(platform, call_id)
    assert [e.type for e in await events_of(platform, call_id)] == ["call.answered"]
    await carrier_says(platform, call_id, ended())
    events = await events_of(platform, call_id)
    assert [e.type for e in events] == ["call.answered", "call.ended", "session.completed"]
    assert events[-1].data["transcript"] == TRANSCRIPT


async def test_a_rolled_back_change_leaves_no_event_and_no_delivery(platform, partner):
    await add_endpoint(platform, partner.id, "http://127.0.0.1:9/a", "whsec_a")
    call_id = await new_call(platform, partner.id)
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        apply_events(session, call, [event(EventKind.RINGING)], source="carrier")
        await session.flush()  # the event and its delivery reach the database…
        await session.rollback()  # …and leave with the change that caused them
    assert await events_of(platform, call_id) == []
    assert await deliveries(platform) == []


async def test_endpoints_added_after_an_event_do_not_receive_it(platform, partner):
    call_id = await new_call(platform, partner.id)
    await carrier_says(platform, call_id, event(EventKind.RINGING))  # no endpoint yet: logged only
    endpoint = await add_endpoint(platform, partner.id, "http://127.0.0.1:9/a", "whsec_a")
    await carrier_says(platform, call_id, event(EventKind.ANSWERED))
    events = await events_of(platform, call_id)
    assert [d.event_id for d in await deliveries(platform, endpoint_id=endpoint)] == [events[1].id]


async def test_racing_hang_up_and_media_end_write_session_completed_once(platform, partner):
    await add_endpoint(platform, partner.id, "http://127.0.0.1:9/a", "whsec_a")
    calls = [await new_call(platform, partner.id) for _ in range(6)]
    for call_id in calls:
        await carrier_says(platform, call_id, event(EventKind.ANSWERED))
        await media_starts(platform, call_id)
    await asyncio.gather(
        *(step for c in calls for step in (carrier_says(platform, c, ended()), media_ends(platform, c)))
    )
    for call_id in calls:
        completed = [e for e in await events_of(platform, call_id) if e.type == "session.completed"]
        assert len(completed) == 1, call_id
        assert completed[0].data["transcript"] == TRANSCRIPT


async def test_events_are_the_partners_own(platform, partner, other_partner):
    mine = await add_endpoint(platform, partner.id, "http://127.0.0.1:9/a", "whsec_a")
    await add_endpoint(platform, other_partner.id, "http://127.0.0.1:9/b", "whsec_b")
    call_id = await new_call(platform, partner.id)
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    assert [d.endpoint_id for d in await deliveries(platform)] == [mine]


async def test_master_key_rotation_reseals_webhook_secrets(platform, partner):
    from callwright.services import master_keys
    from callwright.services.webhooks import open_secret
    from callwright.store.models import WebhookEndpoint
    from callwright.store.secretbox import SecretBox
    from tests.conftest import TEST_SECRET_KEY

    new_key = "new-master-key-" + "n" * 32
    endpoint_id = await add_endpoint(platform, partner.id, "http://127.0.0.1:9/a", "whsec_kept")
    async with platform.sessions() as session:
        result = await master_keys.rotate_master_key(session=session, secretbox=SecretBox([new_key, TEST_SECRET_KEY]))
    assert result.resealed == 1
    async with platform.sessions() as session:
        row = await session.get(WebhookEndpoint, endpoint_id)
        assert open_secret(row, secretbox=SecretBox([new_key])) == "whsec_kept"
        assert await master_keys.unreadable_connections(session=session, secretbox=SecretBox(["x" * 40])) == [
            f"{partner.name}/webhook test (sealed with key {SecretBox([new_key]).current_key_id}, "
            "which is not among the configured master keys)"
        ]


async def test_each_endpoint_gets_the_events_it_chose_and_a_disabled_one_none(platform, partner):
    """Vocobase's default (session.completed alone), an opt-in list, and a disabled endpoint: every
    event is still written, but only the endpoints that take it get a delivery."""
    default = await add_endpoint(platform, partner.id, "http://127.0.0.1:9/d", "whsec_d", label="d", events=["session.completed"])
    ended_only = await add_endpoint(platform, partner.id, "http://127.0.0.1:9/e", "whsec_e", label="e", events=["call.ended"])
    await add_endpoint(platform, partner.id, "http://127.0.0.1:9/x", "whsec_x", label="x", enabled=False)
    call_id = await new_call(platform, partner.id)
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    await carrier_says(platform, call_id, ended())

    by_id = {e.id: e.type for e in await events_of(platform, call_id)}
    assert sorted(by_id.values()) == ["call.ended", "call.ringing", "session.completed"]
    got = sorted((d.endpoint_id, by_id[d.event_id]) for d in await deliveries(platform))
    assert got == sorted([(default, "session.completed"), (ended_only, "call.ended")])


async def test_pipeline_completed_at_is_when_session_completed_was_written(platform, partner):
    call_id = await new_call(platform, partner.id)
    await carrier_says(platform, call_id, ended())
    (completed,) = [e for e in await events_of(platform, call_id) if e.type == "session.completed"]
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        assert completed.data["pipeline_completed_at"] == iso_utc(call.session_completed_at)
        assert completed.data["processing_complete"] is True
