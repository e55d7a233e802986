"""The sender against a real local receiver: signed requests, retries while the receiver is down,
exactly one successful request per event and endpoint (also with two senders racing), recovery
of a delivery whose sender died mid-send, dead-lettering, and the production address rules
checked again at delivery time."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from callwright.domain.calls import EventKind
from callwright.platform import Platform
from callwright.services.webhook_sender import INTERRUPTED, WebhookSender
from callwright.settings import Environment
from callwright.store.models import WebhookAttempt, WebhookDelivery, utcnow
from tests.webhook_receiver import WebhookReceiver
from tests.webhook_support import add_endpoint, carrier_says, deliveries, ended, event, new_call

FAST = {"webhook_retry_base_secs": 0.1, "webhook_retry_max_delay_secs": 0.4, "webhook_timeout_secs": 3.0}


@pytest.fixture
async def receiver():
    receiver = await WebhookReceiver(secrets=["whsec_one", "whsec_two"]).start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def fast_platform(platform, settings):
    """The test's platform store, with short retry delays."""
    fast = Platform.from_settings(settings.model_copy(update=FAST))
    yield fast
    await fast.close()


async def _finished_call(platform, partner_id) -> str:
    call_id = await new_call(platform, partner_id)
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    await carrier_says(platform, call_id, ended())  # no media: session.completed too
    return call_id


async def _until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _all_settled(platform) -> bool:
    rows = await deliveries(platform)
    return bool(rows) and all(d.status != "pending" for d in rows)


async def test_a_receiver_that_goes_down_and_comes_back_gets_each_event_once(fast_platform, partner, receiver):
    await add_endpoint(fast_platform, partner.id, receiver.url("/a"), "whsec_one", label="a")
    await add_endpoint(fast_platform, partner.id, receiver.url("/b"), "whsec_two", label="b")
    await receiver.go_down()
    calls = [await _finished_call(fast_platform, partner.id) for _ in range(3)]
    sender = WebhookSender(fast_platform, poll_interval_secs=0.05)
    sender.start()
    try:
        await _until(lambda: _attempted_at_least(fast_platform, 3))  # it kept trying while down
        await receiver.come_back()
        await _until(lambda: _all_settled(fast_platform))
    finally:
        await sender.stop()

    rows = await deliveries(fast_platform)
    assert len(rows) == 3 * 3 * 2 and {d.status for d in rows} == {"delivered"}
    for path in ("/a", "/b"):
        got = receiver.of(path=path)
        ids = [r.event_id for r in got]
        assert len(ids) == len(set(ids)) == 9, ids  # each event exactly once per endpoint
        assert {r.json["data"].get("call", {}).get("call_id") for r in got} == set(calls)
    assert all(r.signed_with == ("whsec_one" if r.path == "/a" else "whsec_two") for r in receiver.received)
    first = receiver.received[0]
    assert first.headers["content-type"] == "application/json"
    assert first.json["event_id"] == first.event_id and first.json["timestamp"].endswith("Z")
    async with fast_platform.sessions() as session:
        errors = list(await session.scalars(select(WebhookAttempt.error).where(WebhookAttempt.error.is_not(None))))
    assert errors and all(e.startswith("could not reach 127.0.0.1:") for e in errors)


async def _attempted_at_least(platform, n: int) -> bool:
    return max((d.attempt_count for d in await deliveries(platform)), default=0) >= n


async def test_two_senders_never_send_one_delivery_twice(fast_platform, settings, partner, receiver):
    await add_endpoint(fast_platform, partner.id, receiver.url("/a"), "whsec_one")
    for _ in range(10):
        await _finished_call(fast_platform, partner.id)
    other_node = Platform.from_settings(settings.model_copy(update=FAST))
    senders = [WebhookSender(fast_platform, concurrency=4), WebhookSender(other_node, concurrency=4)]
    try:
        while not await _all_settled(fast_platform):
            await asyncio.gather(*(s.send_due(wait=True) for s in senders))
    finally:
        for sender in senders:
            await sender.stop()
        await other_node.close()
    ids = [r.event_id for r in receiver.received]
    assert len(ids) == len(set(ids)) == 30


async def test_a_sender_that_died_mid_send_is_covered_by_the_lease(fast_platform, partner, receiver):
    await add_endpoint(fast_platform, partner.id, receiver.url("/a"), "whsec_one")
    call_id = await new_call(fast_platform, partner.id)
    await carrier_says(fast_platform, call_id, event(EventKind.RINGING))
    crashed = WebhookSender(fast_platform)
    assert len(await crashed._claim(10)) == 1  # claimed, then the process "died" before sending
    survivor = WebhookSender(fast_platform)
    try:
        assert await survivor.send_due(wait=True) == 0  # the lease still holds: nobody sends
        async with fast_platform.sessions() as session:  # …until it expires
            await session.execute(update(WebhookDelivery).values(lease_until=utcnow() - timedelta(seconds=1)))
            await session.commit()
        assert await survivor.send_due(wait=True) == 1
    finally:
        await crashed.stop()
        await survivor.stop()
    assert len(receiver.received) == 1
    (delivery,) = await deliveries(fast_platform)
    assert (delivery.status, delivery.attempt_count) == ("delivered", 2)
    async with fast_platform.sessions() as session:
        attempts = list(await session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.number)))
    assert [(a.number, a.status_code, a.error) for a in attempts] == [(1, None, INTERRUPTED), (2, 200, None)]


async def test_a_receiver_failing_for_the_whole_window_makes_the_delivery_dead(settings, platform, partner, receiver):
    short = Platform.from_settings(settings.model_copy(update=FAST | {"webhook_retry_window_secs": 0.6}))
    receiver.status = 503
    await add_endpoint(short, partner.id, receiver.url("/a"), "whsec_one")
    call_id = await new_call(short, partner.id)
    await carrier_says(short, call_id, event(EventKind.RINGING))
    sender = WebhookSender(short, poll_interval_secs=0.05)
    sender.start()
    try:
        await _until(lambda: _all_settled(short))
    finally:
        await sender.stop()
        await short.close()
    (delivery,) = await deliveries(platform)
    # How many tries fit in the window depends on how busy the machine is (the schedule's own
    # arithmetic is tested in tests/domain/test_webhook_rules.py): at least the first one did.
    assert delivery.status == "dead" and delivery.attempt_count >= 1
    assert len(receiver.received) == delivery.attempt_count
    async with platform.sessions() as session:
        attempts = list(await session.scalars(select(WebhookAttempt)))
    assert all(a.status_code == 503 and a.error == "receiver answered HTTP 503: try later" for a in attempts)
    assert all(a.latency_ms is not None and a.latency_ms >= 0 for a in attempts)


async def test_production_refuses_at_delivery_a_name_that_now_resolves_to_loopback(settings, platform, partner, receiver):
    # Registered while the name was harmless; by delivery time it resolves to 127.0.0.1 / ::1
    # (what a DNS-rebinding attacker arranges). The sender checks the addresses it connects to.
    production = Platform.from_settings(settings.model_copy(update={"env": Environment.PRODUCTION} | FAST))
    await add_endpoint(production, partner.id, f"https://localhost:{receiver.port}/a", "whsec_one")
    call_id = await new_call(production, partner.id)
    await carrier_says(production, call_id, event(EventKind.RINGING))
    sender = WebhookSender(production)
    try:
        assert await sender.send_due(wait=True) == 1
    finally:
        await sender.stop()
        await production.close()
    assert receiver.received == []
    async with platform.sessions() as session:
        (attempt,) = list(await session.scalars(select(WebhookAttempt)))
    assert attempt.error.startswith("not sent: url must point to a public address;"), attempt.error
    assert "loopback" in attempt.error and attempt.status_code is None


def test_round_robin_passes_over_a_partner_whose_deliveries_another_sender_took():
    from collections import deque

    from callwright.services.webhook_sender import _round_robin

    taken, waiting = deque[tuple[str, str]](), deque([("b", "d1"), ("b", "d2")])
    assert _round_robin([taken, waiting], 4) == [("b", "d1"), ("b", "d2")]
