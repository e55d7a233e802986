"""The webhook sender: claims due deliveries from the outbox, signs and POSTs them, records each try.

Delivery is at least once. A delivery is claimed with a lease (``lease_until``, ``lease_token``)
in a committed transaction before its request leaves, and the claim writes the attempt row; the
outcome is written afterwards, only by the holder of the lease. If the process dies mid-send the
lease expires and another pass (here or on another node) sends it again, with the same
``X-Webhook-Id``; an attempt whose outcome never got written keeps the error ``INTERRUPTED``.
Two senders never hold the same delivery: the claim is a conditional UPDATE that only one wins.

Failed attempts (no 2xx within the timeout, including redirects) are retried on the schedule of
``domain.webhooks.RetrySchedule``; past its window the delivery is marked dead.

No partner can use up what all partners share. Each attempt has one deadline for all of it
(``webhook_timeout_secs``: resolving, connecting, sending and the answer), so a receiver that
trickles its answer a byte at a time holds a slot no longer than one that never answers; at most
``RESPONSE_READ_LIMIT`` bytes of an answer are read. And a partner holds at most
``webhook_partner_concurrency`` of this sender's slots: each pass claims round-robin across the
partners with due deliveries, oldest due first, skipping those at their share.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import httpx
from sqlalchemy import CursorResult, func, or_, select, update

from callwright.domain.webhook_urls import UrlRefused, parse_webhook_url
from callwright.domain.webhooks import DeliveryStatus, RetrySchedule, is_success, signature
from callwright.metrics import WEBHOOK_DELIVERY_SECONDS
from callwright.services.webhook_outbox import envelope, iso_utc
from callwright.services.webhook_targets import checked_addresses, policy_for, post_pinned
from callwright.services.webhooks import open_secret
from callwright.store.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_id,
    utcnow,
)

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.webhooks")

INTERRUPTED = "no outcome recorded: the sender stopped during this attempt; it is retried"
_ERROR_SNIPPET = 200
# Bytes of an answer's body read at most (of a non-2xx answer: for the attempt's error text).
RESPONSE_READ_LIMIT = 4096
# How long stopping waits for the sends in flight before cutting them.
STOP_GRACE_SECS = 5.0


@dataclass(frozen=True, slots=True)
class _Claim:
    delivery_id: str
    partner_id: str
    token: str
    attempt_id: str
    number: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    status_code: int | None
    latency_ms: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and is_success(self.status_code)


def schedule_from(settings) -> RetrySchedule:
    return RetrySchedule(
        base_secs=settings.webhook_retry_base_secs,
        max_delay_secs=settings.webhook_retry_max_delay_secs,
        window_secs=settings.webhook_retry_window_secs,
    )


class WebhookSender:
    def __init__(
        self, platform: Platform, *, poll_interval_secs: float = 1.0, concurrency: int = 16
    ) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.poll_interval_secs = poll_interval_secs
        self.schedule = schedule_from(platform.settings)
        self.lease = timedelta(
            seconds=platform.settings.webhook_timeout_secs + platform.settings.webhook_lease_margin_secs
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._partner_share = platform.settings.webhook_partner_concurrency
        self._busy: Counter[str] = Counter()  # sends in flight (claimed, not yet recorded) per partner
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Its own client: no connection reuse (each request is pinned to a checked address, and
        # a pooled TLS connection must not serve another host name), no proxies from the
        # environment, no redirects followed.
        self.http = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="callwright-webhook-sender")

    async def stop(self) -> None:
        self._stopping.set()
        self.platform.webhook_wakeup.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._in_flight:
            # Sends that outlast the grace are cut: their attempts stay INTERRUPTED and their
            # leases let them be sent again.
            _, late = await asyncio.wait(self._in_flight, timeout=STOP_GRACE_SECS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.http.aclose()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.send_due()
            except Exception:  # the loop must survive a store hiccup; the next pass retries
                log.exception("webhook sender pass failed")
            wakeup = self.platform.webhook_wakeup
            try:
                await asyncio.wait_for(wakeup.wait(), timeout=self.poll_interval_secs)
            except TimeoutError:
                pass
            wakeup.clear()

    async def send_due(self, *, wait: bool = False) -> int:
        """Claim what is due (as many as there are free sending slots) and send it; with ``wait``,
        return only when those sends have finished."""
        free = self._concurrency - len(self._in_flight)
        claims = await self._claim(free) if free > 0 else []
        tasks = [self._spawn(self._send(claim)) for claim in claims]
        if wait and tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return len(claims)

    def _spawn(self, coroutine) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return task

    async def _claim(self, limit: int) -> list[_Claim]:
        now = utcnow()
        unleased = or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)
        due = (
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            WebhookDelivery.next_attempt_at <= now,
            unleased,
        )
        claims: list[_Claim] = []
        async with self.platform.sessions() as session:
            # The partners with due deliveries, the longest waiting first: a partner passed over in
            # this pass waits longest in the next.
            waiting = await session.execute(
                select(WebhookDelivery.partner_id)
                .where(*due)
                .group_by(WebhookDelivery.partner_id)
                .order_by(func.min(WebhookDelivery.next_attempt_at))
            )
            queues: list[deque[tuple[str, str]]] = []
            for (partner_id,) in waiting:
                room = min(self._partner_share - self._busy[partner_id], limit)
                if room <= 0:
                    continue
                ids = await session.scalars(
                    select(WebhookDelivery.id)
                    .where(WebhookDelivery.partner_id == partner_id, *due)
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(room)
                )
                queue = deque((partner_id, delivery_id) for delivery_id in ids)
                if queue:  # empty when another sender claimed them since the partners were read
                    queues.append(queue)
                if len(queues) >= limit:  # enough partners to fill every free slot round-robin
                    break
            for partner_id, delivery_id in _round_robin(queues, limit):
                token = new_id()
                won = await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending", unleased)
                    .values(
                        lease_until=now + self.lease,
                        lease_token=token,
                        attempt_count=WebhookDelivery.attempt_count + 1,
                    )
                )
                if cast(CursorResult[Any], won).rowcount != 1:  # another sender claimed it first
                    continue
                number = await session.scalar(
                    select(WebhookDelivery.attempt_count).where(WebhookDelivery.id == delivery_id)
                )
                attempt = WebhookAttempt(
                    id=new_id(), delivery_id=delivery_id, number=number, started_at=now, error=INTERRUPTED
                )
                session.add(attempt)
                claims.append(_Claim(delivery_id, partner_id, token, attempt.id, int(number or 0)))
            await session.commit()
        self._busy.update(claim.partner_id for claim in claims)
        return claims

    async def _send(self, claim: _Claim) -> None:
        try:
            async with self._slots:
                outcome = await self._attempt(claim)
                if outcome is not None:
                    await self._record(claim, outcome)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", claim.delivery_id)
        finally:
            self._busy[claim.partner_id] -= 1
            if self._busy[claim.partner_id] <= 0:
                del self._busy[claim.partner_id]

    async def _attempt(self, claim: _Claim) -> _Outcome | None:
        """One signed POST; None when the delivery or its endpoint no longer exists."""
        async with self.platform.sessions() as session:
            row = (
                await session.execute(
                    select(WebhookEvent, WebhookEndpoint)
                    .join(WebhookDelivery, WebhookDelivery.event_id == WebhookEvent.id)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(WebhookDelivery.id == claim.delivery_id)
                )
            ).first()
            if row is None:
                return None
            event, endpoint = row
            secret = open_secret(endpoint, secretbox=self.platform.secretbox)
            url = endpoint.url
        body = json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = iso_utc(utcnow()) or ""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Callwright-Webhooks/1",
            "X-Webhook-Id": event.id,
            "X-Webhook-Event": event.type,
            "X-Webhook-Timestamp": timestamp,
            "X-Webhook-Signature": signature(secret, timestamp, body),
        }
        policy = policy_for(self.settings)
        timeout = self.settings.webhook_timeout_secs
        started = time.monotonic()
        try:
            target = parse_webhook_url(url, policy)
            async with asyncio.timeout(timeout):  # the whole attempt, not each read
                addresses = await checked_addresses(target, policy)
                answer = await post_pinned(
                    self.http, target, addresses, body=body, headers=headers, timeout=timeout,
                    read_limit=RESPONSE_READ_LIMIT,
                )
        except UrlRefused as exc:
            return _Outcome(None, None, f"not sent: {exc.reason}")
        except (TimeoutError, httpx.TimeoutException):
            return _Outcome(None, _ms_since(started), f"no complete answer within {timeout:g} s")
        except httpx.HTTPError as exc:
            words = f"could not reach {target.host}:{target.port} ({exc.__class__.__name__})"
            return _Outcome(None, _ms_since(started), words)
        latency = _ms_since(started)
        if is_success(answer.status_code):
            return _Outcome(answer.status_code, latency, None)
        snippet = answer.body_start.decode("utf-8", "replace")[:_ERROR_SNIPPET].strip()
        return _Outcome(
            answer.status_code,
            latency,
            f"receiver answered HTTP {answer.status_code}" + (f": {snippet}" if snippet else ""),
        )

    async def _record(self, claim: _Claim, outcome: _Outcome) -> None:
        now = utcnow()
        settled: str | None = None  # delivered or dead: the delivery's end
        queued_at: datetime | None = None
        async with self.platform.sessions() as session:
            await session.execute(
                update(WebhookAttempt)
                .where(WebhookAttempt.id == claim.attempt_id)
                .values(
                    finished_at=now,
                    status_code=outcome.status_code,
                    latency_ms=outcome.latency_ms,
                    error=outcome.error,
                )
            )
            delivery = await session.get(WebhookDelivery, claim.delivery_id)
            if delivery is None or delivery.lease_token != claim.token:
                await session.commit()  # the lease was lost (we were too slow): the holder decides
                return
            if outcome.delivered:
                delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED.value, now
                settled = "delivered"
            else:
                retry_at = self.schedule.next_attempt_at(
                    delivery.attempt_count, now=now, queued_at=delivery.created_at, rand=random.random()
                )
                if retry_at is None:
                    delivery.status = DeliveryStatus.DEAD.value
                    settled = "dead"
                    log.warning("webhook delivery %s is dead after %d attempts", delivery.id, delivery.attempt_count)
                else:
                    delivery.next_attempt_at = retry_at
            delivery.lease_until = delivery.lease_token = None
            queued_at = delivery.created_at
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == delivery.endpoint_id)
                .values(
                    last_delivery_at=now,
                    last_delivery_status="success" if outcome.delivered else "failed",
                    updated_at=WebhookEndpoint.updated_at,  # a delivery is not an edit of the endpoint
                )
            )
            await session.commit()
        if settled is not None and queued_at is not None:
            WEBHOOK_DELIVERY_SECONDS.labels(settled).observe(max(0.0, (now - _aware(queued_at)).total_seconds()))


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _round_robin(queues: list[deque[tuple[str, str]]], limit: int) -> list[tuple[str, str]]:
    """One from each queue in turn, until ``limit`` or all are empty."""
    picked: list[tuple[str, str]] = []
    queues = [queue for queue in queues if queue]
    while queues and len(picked) < limit:
        for queue in list(queues):
            if len(picked) == limit:
                break
            picked.append(queue.popleft())
            if not queue:
                queues.remove(queue)
    return picked


def _aware(at: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
