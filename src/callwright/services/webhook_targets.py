"""Reaching a webhook URL safely: resolve its host, check every address, connect to a checked one.

The request goes to the resolved address itself (the URL's host kept in ``Host`` and, for https,
in TLS SNI and certificate verification), so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot steer it to another address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from callwright.domain.webhook_urls import (
    IPAddress,
    UrlPolicy,
    UrlRefused,
    WebhookTarget,
    check_addresses,
    parse_webhook_url,
)
from callwright.settings import Settings

RESOLVE_TIMEOUT_SECS = 5.0


def policy_for(settings: Settings) -> UrlPolicy:
    return UrlPolicy.for_environment(production=settings.is_production)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The host's addresses, in the resolver's order, without duplicates."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def checked_addresses(target: WebhookTarget, policy: UrlPolicy) -> list[IPAddress]:
    """The addresses we may connect to for ``target``, or ``UrlRefused``."""
    if target.literal_ip is not None:
        return check_addresses([target.literal_ip], policy)
    try:
        addresses = await asyncio.wait_for(resolve(target.host, target.port), RESOLVE_TIMEOUT_SECS)
    except (OSError, TimeoutError, UnicodeError):  # UnicodeError: a name the IDNA codec refuses
        raise UrlRefused(f"url host {target.host} could not be resolved") from None
    return check_addresses(addresses, policy)


async def validate_url(url: str, policy: UrlPolicy) -> WebhookTarget:
    """At registration: the URL's rules and, where addresses are restricted, its host's addresses."""
    target = parse_webhook_url(url, policy)
    if policy.public_addresses_only:
        await checked_addresses(target, policy)
    return target


@dataclass(frozen=True, slots=True)
class Answer:
    """A receiver's answer: its status and at most the first ``read_limit`` bytes of its body."""

    status_code: int
    body_start: bytes
    content_type: str | None = None


async def post_pinned(
    http: httpx.AsyncClient,
    target: WebhookTarget,
    addresses: list[IPAddress],
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    read_limit: int,
    read_success_body: bool = False,
) -> Answer:
    """POST to the first of ``addresses`` that accepts a connection; read at most ``read_limit``
    bytes of the answer's body (none of a 2xx's unless ``read_success_body``: a question's
    answer, like the DND check's), then hang up.

    ``timeout`` bounds each network operation; the caller bounds the whole request, since a
    receiver that trickles a byte at a time never trips a per-read timeout. The body is read raw
    and asked for uncompressed (``Accept-Encoding: identity``), so a compressed answer cannot
    expand in memory either."""

    async def send(url: str, pinned: dict[str, str], extensions: dict[str, str]) -> Answer:
        async with http.stream(
            "POST", url, content=body, headers=headers | pinned, timeout=timeout, extensions=extensions
        ) as response:
            if 200 <= response.status_code < 300 and not read_success_body:
                return Answer(response.status_code, b"")
            return Answer(response.status_code, await _read_at_most(response, read_limit))

    return await _to_first_connecting(target, addresses, send)


async def get_pinned(
    http: httpx.AsyncClient,
    target: WebhookTarget,
    addresses: list[IPAddress],
    *,
    timeout: float,
    read_limit: int,
) -> Answer:
    """GET a page (a knowledge-base web link) the way ``post_pinned`` POSTs: to a checked
    address, reading at most ``read_limit`` bytes of the body, uncompressed. Redirects are not
    followed (the next hop would be unchecked). The caller bounds the whole request."""

    async def send(url: str, pinned: dict[str, str], extensions: dict[str, str]) -> Answer:
        async with http.stream(
            "GET",
            url,
            headers=pinned | {"Accept": "text/html, text/plain"},
            timeout=timeout,
            extensions=extensions,
        ) as response:
            body = await _read_at_most(response, read_limit)
            return Answer(response.status_code, body, response.headers.get("content-type"))

    return await _to_first_connecting(target, addresses, send)


async def _to_first_connecting(
    target: WebhookTarget,
    addresses: list[IPAddress],
    send: Callable[[str, dict[str, str], dict[str, str]], Awaitable[Answer]],
) -> Answer:
    """``send`` to the first of ``addresses`` that accepts a connection, with the headers that pin
    the request to ``target`` (its Host, no compression) and, over TLS, its name for SNI."""
    default_port = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" and target.literal_ip is None else {}
    pinned = {"Host": host_header, "Accept-Encoding": "identity"}
    last: httpx.ConnectError | None = None
    for address in addresses:
        literal = f"[{address}]" if address.version == 6 else str(address)
        url = f"{target.scheme}://{literal}:{target.port}{target.target}"
        try:
            return await send(url, pinned, extensions)
        except httpx.ConnectError as exc:
            last = exc
    assert last is not None
    raise last


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    start = bytearray()
    async for chunk in response.aiter_raw():
        start += chunk[: limit - len(start)]
        if len(start) >= limit:
            break
    return bytes(start)
