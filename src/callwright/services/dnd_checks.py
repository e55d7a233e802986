"""The partner's DND check URL: setting it (``/suppressions/dnd-check``), and asking it before a
dial (``DndGate``: ``POST /calls/start`` and the campaign scheduler).

Every request goes through the one SSRF guard (``webhook_targets``): the URL's rules when it is
set, its host's addresses checked again and pinned at each request. The question is signed like
a webhook (``X-Webhook-Timestamp``, ``X-Webhook-Signature`` with the check's own secret, shown
once when the check is first set). A number's answer is remembered ``CACHE_TTL_SECS`` in this
process, so the call path pays at most one request per number in that time.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.domain.dnd import (
    ANSWER_READ_LIMIT,
    AnswerCache,
    DndConfig,
    OnError,
    Verdict,
    on_error_verdict,
    read_answer,
)
from callwright.domain.errors import NotFound, ValidationFailed
from callwright.domain.webhook_urls import UrlPolicy, UrlRefused, parse_webhook_url
from callwright.domain.webhooks import new_secret, signature
from callwright.services.webhook_outbox import iso_utc
from callwright.services.webhook_targets import checked_addresses, post_pinned, validate_url
from callwright.store.models import DndCheck, Partner, utcnow
from callwright.store.secretbox import SecretBox


def seal_context(partner_id: str) -> str:
    return f"dnd-check:{partner_id}"


def check_view(check: DndCheck) -> dict[str, Any]:
    """The check as partners see it: never its secret."""
    return {
        "url": check.url,
        "timeout_ms": check.timeout_ms,
        "on_error": check.on_error,
        "created_at": iso_utc(check.created_at),
        "updated_at": iso_utc(check.updated_at),
    }


async def get_check(*, session: AsyncSession, partner: Partner) -> DndCheck:
    check = await session.get(DndCheck, partner.id)
    if check is None:
        raise NotFound("this account has no DND check; set one with PUT /suppressions/dnd-check", code="dnd_check_not_found")
    return check


async def set_check(
    *,
    session: AsyncSession,
    partner: Partner,
    url: str,
    timeout_ms: int,
    on_error: OnError,
    policy: UrlPolicy,
    secretbox: SecretBox,
) -> tuple[DndCheck, str | None]:
    """Set (or replace) the partner's check. Returns it and, when it is new, its signing secret
    (shown this once); a replaced check keeps its secret."""
    try:
        await validate_url(url, policy)
    except UrlRefused as exc:
        raise ValidationFailed("url", exc.reason) from None
    check = await session.get(DndCheck, partner.id)
    secret = None
    now = utcnow()
    if check is None:
        secret = new_secret()
        check = DndCheck(partner_id=partner.id, sealed_secret=secretbox.seal({"secret": secret}, context=seal_context(partner.id)))
        session.add(check)
    check.url, check.timeout_ms, check.on_error = url, timeout_ms, on_error.value
    check.updated_at = now
    await session.commit()
    return check, secret


async def delete_check(*, session: AsyncSession, partner: Partner) -> None:
    check = await get_check(session=session, partner=partner)
    await session.delete(check)
    await session.commit()


def config_of(check: DndCheck | None, secretbox: SecretBox) -> DndConfig | None:
    if check is None:
        return None
    return DndConfig(
        partner_id=check.partner_id,
        url=check.url,
        timeout_ms=check.timeout_ms,
        on_error=OnError(check.on_error),
        secret=secretbox.open(check.sealed_secret, context=seal_context(check.partner_id))["secret"],
        version=check.updated_at.isoformat(),
    )


def check_row(session: Session, partner_id: str) -> DndCheck | None:
    """On a synchronous session (the start checks' reading thread)."""
    return session.get(DndCheck, partner_id)


@dataclass
class DndGate:
    """Asks partners' DND checks, remembering their answers (one per process)."""

    http: httpx.AsyncClient
    policy: UrlPolicy
    cache: AnswerCache

    async def verdict(self, config: DndConfig, phone: str) -> Verdict:
        remembered = self.cache.get(config, phone)
        if remembered is not None:
            return Verdict(allow=remembered)
        allow, error = await self._ask(config, phone)
        if allow is None:
            return on_error_verdict(config.on_error, error or "no answer")
        self.cache.put(config, phone, allow)
        return Verdict(allow=allow)

    async def _ask(self, config: DndConfig, phone: str) -> tuple[bool | None, str | None]:
        body = json.dumps({"phone": phone}, separators=(",", ":")).encode()
        timestamp = iso_utc(utcnow()) or ""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Callwright-DND/1",
            "X-Webhook-Timestamp": timestamp,
            "X-Webhook-Signature": signature(config.secret, timestamp, body),
        }
        timeout = config.timeout_ms / 1000
        try:
            target = parse_webhook_url(config.url, self.policy)
            async with asyncio.timeout(timeout):  # the whole question: resolving, connecting, reading
                addresses = await checked_addresses(target, self.policy)
                answer = await post_pinned(
                    self.http, target, addresses, body=body, headers=headers, timeout=timeout,
                    read_limit=ANSWER_READ_LIMIT, read_success_body=True,
                )
        except UrlRefused as exc:
            return None, f"not asked: {exc.reason}"
        except (TimeoutError, httpx.TimeoutException):
            return None, f"no answer within {config.timeout_ms} ms"
        except httpx.HTTPError as exc:
            return None, f"could not reach it ({exc.__class__.__name__})"
        allow = read_answer(answer.status_code, answer.body_start)
        if allow is None:
            return None, f"HTTP {answer.status_code} without a JSON {{\"allow\": true|false}} body"
        return allow, None
