"""FastAPI dependencies: the store session, the platform, and the tenant resolved from the API key."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.api.auth_throttle import ADMIN_PREFIX, key_prefix, throttled_address, too_many_failures
from callwright.domain.errors import Forbidden, NotFound, Unauthorized
from callwright.domain.providers import Provider, parse_provider
from callwright.domain.rate_limits import category_of
from callwright.platform import Platform
from callwright.services import partners
from callwright.store.models import Partner


async def get_platform(request: Request) -> Platform:
    # async: FastAPI runs a plain ``def`` dependency on its thread pool, a hop on every request.
    return request.app.state.platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def get_session(platform: PlatformDep) -> AsyncIterator[AsyncSession]:
    async with platform.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


MISSING_API_KEY = "missing API key: send the header Authorization: Bearer rg_live_…"


def bearer_token(authorization: str) -> str | None:
    """The credential of an ``Authorization: Bearer …`` header's value, or None."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _bearer(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization", ""))


async def _count_failure(request: Request, prefix: str) -> None:
    """A failed attempt counts against the client's address (``api.auth_throttle``); the one
    that blocks it is answered 429 rather than 401."""
    throttle = getattr(request.app.state, "auth_throttle", None)
    if throttle is None:
        return
    address = throttled_address(request.client.host if request.client else None)
    wait = await throttle.failed(address, prefix)
    if wait is not None:
        raise too_many_failures(wait)


async def current_partner(
    request: Request, response: Response, session: SessionDep, platform: PlatformDep
) -> Partner:
    """The partner of the request's API key, once the key's request budget has room for it
    (429 ``rate_limited`` otherwise; the ``X-RateLimit-*`` headers go on the answer either way).
    A failed key counts against the client's address (brute-force throttle)."""
    token = _bearer(request)
    if token is None:
        raise Unauthorized(MISSING_API_KEY, code="missing_api_key")
    holder = await partners.authenticate_key(session=session, api_key=token)
    if holder is None:
        await _count_failure(request, key_prefix(token))
        raise Unauthorized("the API key is invalid or has been revoked", code="invalid_api_key")
    partner = holder.partner
    if partner.status != "active":
        raise Forbidden(f"partner {partner.name} is {partner.status}", code="partner_suspended")
    headers = await platform.rate_limiter.check(
        key_id=holder.key_id, category=category_of(request.url.path), rates=holder.rates
    )
    response.headers.update(headers)
    return partner


CurrentPartner = Annotated[Partner, Depends(current_partner)]


async def require_admin(request: Request, platform: PlatformDep) -> None:
    expected = platform.settings.resolved_admin_token()
    token = _bearer(request)
    if not expected:
        raise Unauthorized(
            "the admin API is disabled: set CALLWRIGHT_ADMIN_TOKEN to enable it",
            code="admin_disabled",
        )
    if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
        if token is not None:
            await _count_failure(request, ADMIN_PREFIX)
        raise Unauthorized("missing or invalid admin token", code="invalid_admin_token")


AdminDep = Depends(require_admin)


def provider_from_path(value: str) -> Provider:
    """A ``{provider}`` path segment → Provider; an unknown name is a 404 naming the known ones."""
    provider = parse_provider(value)
    if provider is None:
        raise NotFound(
            f"unknown telephony provider {value!r}; supported: "
            + ", ".join(p.value for p in Provider),
            code="unknown_provider",
        )
    return provider
