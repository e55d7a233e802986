"""A partner's webhook endpoints, their delivery log and redeliveries.

A signing secret is shown once, when created or rotated; at rest it is sealed with the secret box,
bound to its partner and endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.errors import Conflict, NotFound, ValidationFailed
from callwright.domain.webhook_urls import UrlPolicy, UrlRefused
from callwright.domain.webhooks import (
    DEFAULT_EVENTS,
    DEFAULT_LABEL,
    MAX_ENDPOINTS,
    label_error,
    new_secret,
    parse_events,
)
from callwright.services.webhook_outbox import iso_utc, wake_after_commit
from callwright.services.webhook_targets import validate_url
from callwright.store.models import (
    Partner,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_id,
)
from callwright.store.secretbox import SecretBox

SECRET_NOTICE = "Save this secret — it will not be shown again."


def seal_context(partner_id: str, endpoint_id: str) -> str:
    """Associated data binding a sealed secret to its partner and endpoint."""
    return f"webhook:{partner_id}:{endpoint_id}"


def open_secret(endpoint: WebhookEndpoint, *, secretbox: SecretBox) -> str:
    return secretbox.open(endpoint.sealed_secret, context=seal_context(endpoint.partner_id, endpoint.id))["secret"]


def _seal_new_secret(endpoint: WebhookEndpoint, secretbox: SecretBox) -> str:
    secret = new_secret()
    endpoint.sealed_secret = secretbox.seal(
        {"secret": secret}, context=seal_context(endpoint.partner_id, endpoint.id)
    )
    return secret


def endpoint_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as partners see it: never its secret."""
    return {
        "id": endpoint.id,
        "label": endpoint.label,
        "url": endpoint.url,
        "enabled": endpoint.enabled,
        "events": list(endpoint.events or []),
        "last_delivery_at": iso_utc(endpoint.last_delivery_at),
        "last_delivery_status": endpoint.last_delivery_status,
        "created_at": iso_utc(endpoint.created_at),
        "updated_at": iso_utc(endpoint.updated_at),
    }


async def _checked_url(url: str, policy: UrlPolicy) -> str:
    try:
        await validate_url(url, policy)
    except UrlRefused as exc:
        raise ValidationFailed("url", exc.reason) from None
    return url


def _checked_label(label: str) -> str:
    if (why := label_error(label)) is not None:
        raise ValidationFailed("label", why)
    if label == DEFAULT_LABEL:
        raise ValidationFailed("label", "label default is reserved for PUT /config/webhook")
    return label


def _checked_events(names: list[str]) -> list[str]:
    parsed = parse_events(names)
    if isinstance(parsed, str):
        raise ValidationFailed("events", parsed)
    return parsed


async def create_endpoint(
    *,
    session: AsyncSession,
    partner: Partner,
    label: str,
    url: str,
    secretbox: SecretBox,
    policy: UrlPolicy,
    enabled: bool = True,
    events: list[str] | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (returned once). At most ``MAX_ENDPOINTS`` per partner.
    ``events``: what it receives; ``session.completed`` alone unless it names more."""
    _checked_label(label)
    chosen = _checked_events(events) if events is not None else [e.value for e in DEFAULT_EVENTS]
    await _checked_url(url, policy)
    return await _insert(session, partner, label, url, secretbox, enabled=enabled, events=chosen)


async def _insert(
    session: AsyncSession,
    partner: Partner,
    label: str,
    url: str,
    secretbox: SecretBox,
    *,
    enabled: bool = True,
    events: list[str] | None = None,
) -> tuple[WebhookEndpoint, str]:
    partner_id = partner.id  # read now: a rollback below expires the partner object
    # Serialise creations per partner so the limit holds (the same pattern as calls.start_call):
    # PostgreSQL locks the partner row; on SQLite the INSERT takes the write lock before the count.
    await session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update())
    endpoint = WebhookEndpoint(
        id=new_id(), partner_id=partner_id, label=label, url=url, enabled=enabled,
        events=events or [e.value for e in DEFAULT_EVENTS],
    )
    secret = _seal_new_secret(endpoint, secretbox)
    session.add(endpoint)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"a webhook endpoint labelled {label!r} already exists", code="webhook_label_taken") from None
    count = await session.scalar(
        select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.partner_id == partner_id)
    )
    if (count or 0) > MAX_ENDPOINTS:
        await session.rollback()
        raise Conflict(
            f"at most {MAX_ENDPOINTS} webhook endpoints per partner; delete one before adding another",
            code="webhook_limit_reached",
        )
    await session.commit()
    return endpoint, secret


async def list_endpoints(*, session: AsyncSession, partner: Partner) -> list[WebhookEndpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.partner_id == partner.id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return list(rows)


async def get_endpoint(*, session: AsyncSession, partner: Partner, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.partner_id == partner.id)
    )
    if endpoint is None:
        raise NotFound(f"no webhook endpoint with id {endpoint_id!r}", code="webhook_not_found")
    return endpoint


@dataclass(frozen=True, slots=True)
class EndpointChanges:
    """``PATCH /config/webhooks/{id}``: the fields sent; None leaves a field as it is."""

    url: str | None = None
    label: str | None = None
    enabled: bool | None = None
    events: list[str] | None = None


async def update_endpoint(
    *,
    session: AsyncSession,
    partner: Partner,
    endpoint_id: str,
    changes: EndpointChanges,
    policy: UrlPolicy,
) -> WebhookEndpoint:
    """Change an endpoint's URL, label, enabled flag or events; its secret stays. A disabled
    endpoint gets no new deliveries; those already queued are still sent."""
    endpoint = await get_endpoint(session=session, partner=partner, endpoint_id=endpoint_id)
    url = await _checked_url(changes.url, policy) if changes.url is not None else None
    if changes.label is not None and changes.label != endpoint.label:
        endpoint.label = _checked_label(changes.label)
    if changes.events is not None:
        endpoint.events = _checked_events(changes.events)
    if url is not None:
        endpoint.url = url
    if changes.enabled is not None:
        endpoint.enabled = changes.enabled
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            f"a webhook endpoint labelled {changes.label!r} already exists", code="webhook_label_taken"
        ) from None
    return endpoint


async def delete_endpoint(*, session: AsyncSession, partner: Partner, endpoint_id: str) -> None:
    """Removes the endpoint with its delivery log; its pending deliveries are never sent."""
    endpoint = await get_endpoint(session=session, partner=partner, endpoint_id=endpoint_id)
    await session.delete(endpoint)
    await session.commit()


async def rotate_secret(
    *, session: AsyncSession, partner: Partner, endpoint_id: str, secretbox: SecretBox
) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned once); every request from now on, retries included, is signed with it."""
    endpoint = await get_endpoint(session=session, partner=partner, endpoint_id=endpoint_id)
    secret = _seal_new_secret(endpoint, secretbox)
    await session.commit()
    return endpoint, secret


async def set_default_url(
    *, session: AsyncSession, partner: Partner, url: str, secretbox: SecretBox, policy: UrlPolicy
) -> tuple[WebhookEndpoint, str]:
    """Legacy ``PUT /config/webhook``: create or replace the ``default`` endpoint, with a new secret.
    A replaced endpoint is enabled again and keeps the events it had."""
    await _checked_url(url, policy)
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.partner_id == partner.id, WebhookEndpoint.label == DEFAULT_LABEL
        )
    )
    if endpoint is None:
        return await _insert(session, partner, DEFAULT_LABEL, url, secretbox)
    endpoint.url = url
    endpoint.enabled = True
    secret = _seal_new_secret(endpoint, secretbox)
    await session.commit()
    return endpoint, secret


async def config_view(*, session: AsyncSession, partner: Partner) -> dict[str, Any]:
    """``webhooks`` and the legacy ``webhook`` of ``GET /config``. The legacy block's ``secret``
    is always null: a secret is shown once, when it is made."""
    endpoints = await list_endpoints(session=session, partner=partner)
    default = next((e for e in endpoints if e.label == DEFAULT_LABEL), None)
    return {
        "webhook": {"configured": default is not None, "url": default.url if default else None, "secret": None},
        "webhooks": [endpoint_view(e) for e in endpoints],
    }


def _delivery_view(delivery: WebhookDelivery, event: WebhookEvent, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "event_id": event.id,
        "event_type": event.type,
        "call_id": event.call_id,
        "status": delivery.status,
        "attempt_count": delivery.attempt_count,
        "next_attempt_at": iso_utc(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "delivered_at": iso_utc(delivery.delivered_at),
        "redelivery_of": delivery.redelivery_of,
        "created_at": iso_utc(delivery.created_at),
        "attempts": [
            {
                "number": a.number,
                "started_at": iso_utc(a.started_at),
                "finished_at": iso_utc(a.finished_at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in attempts
        ],
    }


async def list_deliveries(
    *, session: AsyncSession, partner: Partner, endpoint_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The endpoint's delivery log, newest first, each delivery with its attempts."""
    await get_endpoint(session=session, partner=partner, endpoint_id=endpoint_id)
    where = (WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.partner_id == partner.id)
    total = await session.scalar(select(func.count()).select_from(WebhookDelivery).where(*where)) or 0
    rows = (
        await session.execute(
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(*where)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return await _with_attempts(session, rows), total


async def list_call_deliveries(*, session: AsyncSession, partner: Partner, call_id: str) -> list[dict[str, Any]]:
    """Every delivery of the call's events to any of the partner's endpoints, newest first (a
    call has a handful of events, so no paging)."""
    rows = (
        await session.execute(
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookEvent.call_id == call_id, WebhookDelivery.partner_id == partner.id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(200)
        )
    ).all()
    return await _with_attempts(session, rows)


async def _with_attempts(
    session: AsyncSession, rows: Sequence[Row[WebhookDelivery, WebhookEvent]]
) -> list[dict[str, Any]]:
    attempts: dict[str, list[WebhookAttempt]] = {delivery.id: [] for delivery, _ in rows}
    if attempts:
        for attempt in await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.number)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return [_delivery_view(d, e, attempts[d.id]) for d, e in rows]


async def redeliver(*, session: AsyncSession, partner: Partner, delivery_id: str) -> dict[str, Any]:
    """Queue a fresh delivery of that delivery's event to its endpoint (same event id)."""
    found = (
        await session.execute(
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.partner_id == partner.id)
        )
    ).first()
    if found is None:
        raise NotFound(f"no webhook delivery with id {delivery_id!r}", code="webhook_delivery_not_found")
    original, event = found
    fresh = WebhookDelivery(
        partner_id=partner.id, event_id=event.id, endpoint_id=original.endpoint_id, redelivery_of=original.id
    )
    session.add(fresh)
    await session.flush()
    wake_after_commit(session)
    await session.commit()
    return _delivery_view(fresh, event, [])


async def rotate_sealed_secrets(*, session: AsyncSession, secretbox: SecretBox) -> tuple[int, int]:
    """Master-key rotation: re-seal every endpoint secret under the current key → (re-sealed, current)."""
    resealed = current = 0
    for endpoint in await session.scalars(select(WebhookEndpoint).with_for_update()):
        if secretbox.key_id_of(endpoint.sealed_secret) == secretbox.current_key_id:
            current += 1
            continue
        context = seal_context(endpoint.partner_id, endpoint.id)
        endpoint.sealed_secret = secretbox.seal(secretbox.open(endpoint.sealed_secret, context=context), context=context)
        resealed += 1
    await session.commit()
    return resealed, current
