"""One partner's webhook receivers cannot starve the others': each delivery has a total deadline,
reads at most a few KB of any answer, and a partner holds at most its share of the sending slots.

The hostile receivers are real local servers (``hostile_receivers``); loopback is allowed because
these platforms run in development mode (the production address rules are tested elsewhere)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from callwright.domain.calls import EventKind
from callwright.platform import Platform
from callwright.services.webhook_sender import WebhookSender
from callwright.store.models import WebhookAttempt, WebhookDelivery
from tests.conftest import make_partner
from tests.security.hostile_receivers import HugeReceiver, TricklingReceiver
from tests.webhook_receiver import WebhookReceiver
from tests.webhook_support import add_endpoint, carrier_says, ended, event, new_call

FAST_RETRIES = {"webhook_retry_base_secs": 0.1, "webhook_retry_max_delay_secs": 0.4}
GUARD_SECS = 30.0  # only so a broken sender fails the test instead of hanging it


@pytest.fixture
async def make_platform(platform, settings):
    """Platforms on the test's (emptied) store with their own settings."""
    made: list[Platform] = []

    def make(**update: object) -> Platform:
        made.append(Platform.from_settings(settings.model_copy(update=FAST_RETRIES | update)))
        return made[-1]

    yield make
    for each in made:
        await each.close()


async def _finished_call(platform: Platform, partner_id: str) -> str:
    call_id = await new_call(platform, partner_id)
    await carrier_says(platform, call_id, event(EventKind.RINGING))
    await carrier_says(platform, call_id, ended())  # ringing, ended, session.completed
    return call_id


async def _until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + GUARD_SECS
    while not await condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.05)


async def _deliveries_of(platform: Platform, partner_id: str) -> list[WebhookDelivery]:
    async with platform.sessions() as session:
        return list(await session.scalars(select(WebhookDelivery).where(WebhookDelivery.partner_id == partner_id)))


async def _attempts_of(platform: Platform, partner_id: str) -> list[WebhookAttempt]:
    async with platform.sessions() as session:
        return list(
            await session.scalars(
                select(WebhookAttempt)
                .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
                .where(WebhookDelivery.partner_id == partner_id)
            )
        )


async def test_a_partner_with_trickling_endpoints_cannot_hold_back_another_partners_delivery(make_platform):
    # A long deadline, so the hostile requests are still in flight when the good one lands.
    fair = make_platform(webhook_timeout_secs=60.0, webhook_partner_concurrency=2)
    hostile, good = await make_partner(fair, "hostile"), await make_partner(fair, "good")
    trickler = await TricklingReceiver().start()
    receiver = await WebhookReceiver(secrets=["whsec_good"]).start()
    sender = WebhookSender(fair, poll_interval_secs=0.05, concurrency=4)
    try:
        for n in range(6):
            await add_endpoint(fair, hostile.id, trickler.url(f"/slow{n}"), "whsec_hostile", label=f"slow{n}")
        await _finished_call(fair, hostile.id)  # 18 deliveries, all due before the good partner's
        await add_endpoint(fair, good.id, receiver.url("/good"), "whsec_good")
        await _finished_call(fair, good.id)
        sender.start()

        async def good_ones_delivered() -> bool:
            rows = await _deliveries_of(fair, good.id)
            return len(rows) == 3 and all(d.status == "delivered" for d in rows)

        await _until(good_ones_delivered, "the good partner's three deliveries were delivered")
        # …while the hostile partner's share of the slots is still held by its trickling receivers.
        assert trickler.connections == 2 and trickler.requests == 2
        hostile_attempts = await _attempts_of(fair, hostile.id)
        assert len(hostile_attempts) == 2 and all(a.finished_at is None for a in hostile_attempts)
        assert len(receiver.of(path="/good")) == 3
    finally:
        await asyncio.wait_for(sender.stop(), GUARD_SECS)
        await trickler.stop()
        await receiver.stop()


async def test_a_trickling_receiver_is_cut_off_at_the_delivery_deadline(make_platform):
    platform = make_platform(webhook_timeout_secs=1.0)
    partner = await make_partner(platform, "slow-partner")
    trickler = await TricklingReceiver(interval=0.05).start()
    sender = WebhookSender(platform)
    try:
        await add_endpoint(platform, partner.id, trickler.url(), "whsec_slow")
        call_id = await new_call(platform, partner.id)
        await carrier_says(platform, call_id, event(EventKind.RINGING))
        sent = await asyncio.wait_for(sender.send_due(wait=True), GUARD_SECS)
    finally:
        await asyncio.wait_for(sender.stop(), GUARD_SECS)
        await trickler.stop()
    assert sent == 1
    (attempt,) = await _attempts_of(platform, partner.id)
    assert attempt.finished_at is not None and attempt.status_code is None
    assert attempt.error == "no complete answer within 1 s"
    (delivery,) = await _deliveries_of(platform, partner.id)
    assert delivery.status == "pending" and delivery.lease_until is None  # retried later


@pytest.mark.parametrize("status", [200, 500])
async def test_a_huge_answer_is_not_read_whole(make_platform, status):
    platform = make_platform()
    partner = await make_partner(platform, "chatty-partner")
    huge = await HugeReceiver(status=status).start()
    sender = WebhookSender(platform)
    try:
        await add_endpoint(platform, partner.id, huge.url(), "whsec_chatty")
        call_id = await new_call(platform, partner.id)
        await carrier_says(platform, call_id, event(EventKind.RINGING))
        assert await asyncio.wait_for(sender.send_due(wait=True), GUARD_SECS) == 1

        async def receiver_done() -> bool:
            return huge.requests == 1 and huge.connections == 0

        await _until(receiver_done, "the receiver's handler ended")
    finally:
        await asyncio.wait_for(sender.stop(), GUARD_SECS)
        await huge.stop()
    assert not huge.finished and huge.written < huge.size  # the sender hung up long before the end
    (attempt,) = await _attempts_of(platform, partner.id)
    assert attempt.status_code == status
    if status == 200:
        assert attempt.error is None
    else:
        assert attempt.error == "receiver answered HTTP 500: " + "x" * 200
