"""Operator use cases: partners, API keys, allowed providers, limits. Also API-key authentication."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.api_keys import generate_api_key, hash_api_key, hashes_match, looks_like_api_key
from callwright.domain.errors import Conflict, NotFound, ValidationFailed
from callwright.domain.partners import PARTNER_STATUSES, check_limit, check_partner_name
from callwright.domain.providers import Provider
from callwright.domain.rate_limits import (
    DEFAULT_CALLS_PER_MINUTE,
    DEFAULT_REQUESTS_PER_MINUTE,
    MAX_PER_MINUTE,
    KeyRates,
)
from callwright.services.projects import add_default_project
from callwright.store.models import Agent, ApiKey, Partner, new_id, utcnow

MAX_CONCURRENCY_LIMIT = 10_000
MAX_AGENT_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    partner_id: str
    partner_name: str
    api_key: str  # plaintext, shown once
    test_mode: bool


async def create_partner(
    *,
    session: AsyncSession,
    name: str,
    display_name: str | None = None,
    providers: list[Provider] | None = None,
    concurrency_limit: int,
    agent_limit: int,
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
    calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE,
) -> tuple[Partner, IssuedKey]:
    """A new partner with its Default project and first live API key (returned in plaintext,
    once)."""
    check_partner_name(name)
    partner = Partner(
        name=name,
        display_name=(display_name or name).strip()[:200],
        allowed_providers=[p.value for p in providers or []],
        concurrency_limit=check_limit("concurrency_limit", concurrency_limit, maximum=MAX_CONCURRENCY_LIMIT),
        agent_limit=check_limit("agent_limit", agent_limit, maximum=MAX_AGENT_LIMIT),
        requests_per_minute=check_limit(
            "requests_per_minute", requests_per_minute, maximum=MAX_PER_MINUTE
        ),
        calls_per_minute=check_limit("calls_per_minute", calls_per_minute, maximum=MAX_PER_MINUTE),
    )
    session.add(partner)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"a partner named {name!r} already exists", code="partner_exists") from None
    add_default_project(session, partner)
    key = _add_key(session, partner, test_mode=False)
    await session.commit()
    return partner, key


def _add_key(session: AsyncSession, partner: Partner, *, test_mode: bool) -> IssuedKey:
    new = generate_api_key(test_mode=test_mode)
    row = ApiKey(
        id=new_id(),
        partner_id=partner.id,
        key_hash=new.key_hash,
        display_prefix=new.display_prefix,
        test_mode=test_mode,
    )
    session.add(row)
    return IssuedKey(
        key_id=row.id,
        partner_id=partner.id,
        partner_name=partner.name,
        api_key=new.plaintext,
        test_mode=test_mode,
    )


async def get_partner_by_name(*, session: AsyncSession, name: str) -> Partner:
    partner = await session.scalar(select(Partner).where(Partner.name == name))
    if partner is None:
        raise NotFound(f"no partner named {name!r}", code="partner_not_found")
    return partner


async def list_partners(*, session: AsyncSession) -> list[Partner]:
    return list(await session.scalars(select(Partner).order_by(Partner.created_at, Partner.name)))


async def create_api_key(*, session: AsyncSession, partner_name: str, test_mode: bool) -> IssuedKey:
    partner = await get_partner_by_name(session=session, name=partner_name)
    key = _add_key(session, partner, test_mode=test_mode)
    await session.commit()
    return key


async def list_api_keys(*, session: AsyncSession, partner_name: str) -> list[ApiKey]:
    partner = await get_partner_by_name(session=session, name=partner_name)
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.partner_id == partner.id).order_by(ApiKey.created_at)
    )
    return list(rows)


async def revoke_api_key(*, session: AsyncSession, key_id: str) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key with id {key_id!r}", code="api_key_not_found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.commit()
    _KEY_CACHE.pop((_store(session), row.key_hash), None)
    return row


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who an authenticated API key belongs to: the partner (a snapshot in no session) and the
    key's id, which its request budgets are counted under."""

    partner: Partner
    key_id: str

    @property
    def rates(self) -> KeyRates:
        return KeyRates(self.partner.requests_per_minute, self.partner.calls_per_minute)


# Active key hash → (holder, monotonic expiry): saves the key and partner lookups on most
# requests. A revocation, suspension or limit change made in this process drops the cache at
# once; one made elsewhere (the CLI, another worker) takes effect here within KEY_CACHE_TTL_SECS.
KEY_CACHE_TTL_SECS = 5.0
_KEY_CACHE_MAX = 10_000
_KEY_CACHE: dict[tuple[str, str], tuple[KeyHolder, float]] = {}  # (store, key hash) → …
_KEY_BY_HASH = select(ApiKey).where(ApiKey.key_hash == bindparam("digest"))
_PARTNER_COLUMNS = [column.key for column in Partner.__table__.columns]


def _snapshot(partner: Partner) -> Partner:
    """A copy in no session, for read-only use by the partner API's routes."""
    return Partner(**{key: getattr(partner, key) for key in _PARTNER_COLUMNS})


def forget_cached_partners() -> None:
    """Drop every cached key and partner (after a change to a partner or a key in this process)."""
    _KEY_CACHE.clear()


def _store(session: AsyncSession) -> str:
    """Which database a session talks to: one process may serve more than one (tests do)."""
    bind = session.get_bind()
    return str(bind.engine.url)


async def authenticate(*, session: AsyncSession, api_key: str) -> Partner | None:
    """The partner owning an active key, or None. The stored hash is compared in constant time."""
    holder = await authenticate_key(session=session, api_key=api_key)
    return holder.partner if holder is not None else None


async def authenticate_key(*, session: AsyncSession, api_key: str) -> KeyHolder | None:
    """The partner owning an active key and the key's id, or None."""
    if not looks_like_api_key(api_key):
        return None
    digest = hash_api_key(api_key)
    slot = (_store(session), digest)
    cached = _KEY_CACHE.get(slot)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        return cached[0]
    row = await session.scalar(_KEY_BY_HASH, {"digest": digest})
    if row is None or row.revoked_at is not None or not hashes_match(row.key_hash, digest):
        _KEY_CACHE.pop(slot, None)
        return None
    partner = await session.get(Partner, row.partner_id)
    if partner is None:
        return None
    if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
        _KEY_CACHE.clear()
    holder = KeyHolder(_snapshot(partner), row.id)
    _KEY_CACHE[slot] = (holder, now + KEY_CACHE_TTL_SECS)
    return holder


async def set_provider_allowed(
    *, session: AsyncSession, partner_name: str, provider: Provider, allowed: bool
) -> Partner:
    partner = await get_partner_by_name(session=session, name=partner_name)
    current = [p for p in partner.allowed_providers if p != provider.value]
    if allowed:
        current.append(provider.value)
    # Keep a stable, canonical order.
    partner.allowed_providers = [p.value for p in Provider if p.value in current]
    await session.commit()
    forget_cached_partners()
    return partner


async def update_partner(
    *,
    session: AsyncSession,
    partner_name: str,
    display_name: str | None = None,
    status: str | None = None,
    concurrency_limit: int | None = None,
    agent_limit: int | None = None,
    requests_per_minute: int | None = None,
    calls_per_minute: int | None = None,
) -> Partner:
    partner = await get_partner_by_name(session=session, name=partner_name)
    if display_name is not None:
        partner.display_name = display_name.strip()[:200]
    if status is not None:
        if status not in PARTNER_STATUSES:
            raise ValidationFailed("status", "status must be one of active, suspended")
        partner.status = status
    if concurrency_limit is not None:
        partner.concurrency_limit = check_limit(
            "concurrency_limit", concurrency_limit, maximum=MAX_CONCURRENCY_LIMIT
        )
    if agent_limit is not None:
        partner.agent_limit = check_limit("agent_limit", agent_limit, maximum=MAX_AGENT_LIMIT)
    if requests_per_minute is not None:
        partner.requests_per_minute = check_limit(
            "requests_per_minute", requests_per_minute, maximum=MAX_PER_MINUTE
        )
    if calls_per_minute is not None:
        partner.calls_per_minute = check_limit(
            "calls_per_minute", calls_per_minute, maximum=MAX_PER_MINUTE
        )
    await session.commit()
    forget_cached_partners()
    return partner


async def agent_count(*, session: AsyncSession, partner_id: str) -> int:
    return await session.scalar(
        select(func.count()).select_from(Agent).where(Agent.partner_id == partner_id)
    ) or 0


def partner_summary(partner: Partner) -> dict[str, object]:
    return {
        "partner_id": partner.id,
        "name": partner.name,
        "display_name": partner.display_name,
        "status": partner.status,
        "allowed_telephony_providers": list(partner.allowed_providers),
        "concurrency_limit": partner.concurrency_limit,
        "agent_limit": partner.agent_limit,
        "requests_per_minute": partner.requests_per_minute,
        "calls_per_minute": partner.calls_per_minute,
        "created_at": _iso(partner.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
