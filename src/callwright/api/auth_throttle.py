"""Throttling of failed authentication: API keys and the admin token cannot be guessed at speed.

Only failures count; a success is never counted and never clears a count (one valid key must not
buy an address unlimited guesses at others).

- **By address.** ``auth_failure_limit`` failures (default 20 a minute, a moving window) from one
  client address block it: every authentication attempt from it, a valid key included, is answered
  429 with ``Retry-After`` until its oldest counted failure leaves the window. A blocked address's
  keys are not looked up at all, so it learns nothing more and costs nothing. Refusing valid keys
  too is deliberate: to answer them we would have to keep checking the address's guesses. The
  real key holder is only caught if they share the address (a NAT) with whoever is failing;
  behind a load balancer, ``CALLWRIGHT_TRUSTED_PROXIES`` makes the address the client's own.
  IPv6 addresses count by their /64, which one host can otherwise rotate through at will.
- **By key prefix.** A prefix (``rg_live_`` plus four characters, the part shown in key lists, or
  ``admin`` for the admin token) that collects ``auth_prefix_failure_limit`` failures across all
  addresses (default 100 a minute) is under a spread-out attack: from then on an address blocks
  at its first failure with that prefix. Addresses that have not failed are never refused, so
  nobody can lock a partner out by spraying its prefix.

Counts live in Redis when ``CALLWRIGHT_REDIS_URL`` is set (every node sees every failure), in
process memory otherwise. Blocks are kept in each process, so a request's only cost on the
success path is one dictionary lookup; a node learns of a block at the next failure it sees
from that address, so across N nodes an address gets at most N - 1 extra guesses a window.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from callwright.domain.errors import LimitExceeded
from callwright.settings import Settings

log = logging.getLogger("callwright.auth")

ADMIN_PREFIX = "admin"
_MAX_BLOCKED = 100_000  # addresses remembered as blocked; expired ones are dropped first


def too_many_failures(retry_after: int) -> LimitExceeded:
    return LimitExceeded(
        f"too many failed authentication attempts from this address; try again in {retry_after} s",
        code="too_many_auth_failures",
        headers={"Retry-After": str(retry_after)},
    )


def throttled_address(client_host: str | None) -> str:
    """The address failures are counted by: an IPv4 address, or an IPv6 address's /64."""
    if not client_host:
        return "unknown"
    try:
        address = ipaddress.ip_address(client_host)
    except ValueError:
        return client_host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def key_prefix(credential: str) -> str:
    """The prefix a presented API key is counted under: what key lists show of it."""
    head, sep, rest = credential.partition("_")
    mode, sep2, random_part = rest.partition("_")
    if sep and sep2:
        return f"{head}_{mode}_{random_part[:4]}"
    return credential[:12]


@dataclass
class AuthThrottle:
    storage: Storage
    per_address: RateLimitItem
    per_prefix: RateLimitItem
    namespace: str = "callwright"
    _blocked: dict[str, float] = field(default_factory=dict)  # address → time.monotonic() until

    def __post_init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(self.storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthThrottle:
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=f"{settings.redis_namespace}:auth-failures",
            )
        else:
            storage = MemoryStorage()
        return cls(
            storage,
            parse(settings.auth_failure_limit),
            parse(settings.auth_prefix_failure_limit),
            settings.redis_namespace,
        )

    async def reset(self) -> None:
        """Forget every failure counted and every block (one app serving successive test cases;
        an operator clearing a false alarm)."""
        await self.storage.reset()
        self._blocked.clear()

    @property
    def blocking(self) -> bool:
        """Whether any address is (or was lately) blocked in this process."""
        return bool(self._blocked)

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it is not blocked. Cheap: it
        runs before every authenticated request."""
        until = self._blocked.get(address)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            del self._blocked[address]
            return None
        return max(1, math.ceil(left))

    async def failed(self, address: str, prefix: str) -> int | None:
        """Count one failed attempt from ``address`` with a credential of ``prefix``; the
        seconds to wait when the address is now blocked, else None."""
        try:
            address_ok = await self._limiter.hit(self.per_address, "address", address)
            prefix_ok = await self._limiter.hit(self.per_prefix, "prefix", prefix)
            if address_ok and prefix_ok:
                return None
            if address_ok:  # a prefix under attack: blocked at the first failure
                wait = float(self.per_address.get_expiry())
            else:
                stats = await self._limiter.get_window_stats(self.per_address, "address", address)
                wait = stats.reset_time - time.time()
        except Exception as exc:  # the store of counts is down: authentication must go on
            log.warning("failed-authentication throttle unavailable: %s", exc.__class__.__name__)
            return None
        self._block(address, max(1.0, wait))
        log.warning("authentication failures: %s is blocked for %.0f s", address, wait)
        return max(1, math.ceil(wait))

    def _block(self, address: str, seconds: float) -> None:
        now = time.monotonic()
        if len(self._blocked) >= _MAX_BLOCKED:
            self._blocked = {a: until for a, until in self._blocked.items() if until > now}
            if len(self._blocked) >= _MAX_BLOCKED:
                self._blocked.pop(next(iter(self._blocked)))
        self._blocked[address] = now + seconds
