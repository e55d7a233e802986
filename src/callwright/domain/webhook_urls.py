"""Which webhook URLs the platform may call: the scheme rule and the address rules against SSRF.

A partner's webhook URL makes our server send requests where the partner says. In production only
``https`` is accepted and only globally routable addresses: never loopback, private (RFC 1918, ULA),
link-local (cloud metadata lives at 169.254.169.254), carrier-grade NAT, multicast, reserved or
documentation ranges — including such an IPv4 address hidden inside an IPv6 one (IPv4-mapped,
6to4, Teredo, NAT64). Hostnames are checked on the addresses they resolve to, by the caller,
at registration and again at each delivery (see ``services.webhook_targets``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
_NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UrlRefused(ValueError):
    """The URL breaks a rule; ``reason`` is one sentence naming it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    https_only: bool
    public_addresses_only: bool

    @classmethod
    def for_environment(cls, *, production: bool) -> UrlPolicy:
        """Production: https to public addresses only. Development: also http and local receivers."""
        return cls(https_only=production, public_addresses_only=production)


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A parsed webhook URL. ``host`` is lower-case, without IPv6 brackets."""

    url: str
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent on the request line
    literal_ip: IPAddress | None


def parse_webhook_url(url: str, policy: UrlPolicy) -> WebhookTarget:
    """The URL's parts, or ``UrlRefused`` naming the rule it breaks. A literal IP is checked here;
    a hostname must still be resolved and its addresses checked with ``check_addresses``."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"url must be at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() for ch in url):
        raise UrlRefused("url must not contain spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("url is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("url must start with https://")
    if policy.https_only and scheme != "https":
        raise UrlRefused("url must use https (plain http is refused in production)")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("url must not contain credentials (user:password@)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("url must name a host")
    literal = _literal_ip(host)
    if literal is not None:
        check_addresses([literal], policy)
    elif (problem := host_name_problem(host)) is not None:
        raise UrlRefused(f"url host {problem}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(
        url=url,
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        target=target,
        literal_ip=literal,
    )


def host_name_problem(host: str) -> str | None:
    """Why ``host`` cannot be looked up in DNS, or None (labels of 1-63 characters once
    IDNA-encoded, 253 in all: RFC 1035 §2.3.4)."""
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        return "is not a valid host name: each dot-separated label must be 1-63 characters"
    if len(encoded) > 253:
        return "is not a valid host name: it must be at most 253 characters"
    return None


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # a zone id (fe80::1%eth0) is dropped
    except ValueError:
        return None


def check_addresses(addresses: list[IPAddress], policy: UrlPolicy) -> list[IPAddress]:
    """The addresses, if the policy lets us connect to every one of them; else ``UrlRefused``.
    All must pass: a name that resolves to one public and one private address is refused."""
    if not addresses:
        raise UrlRefused("url host resolves to no address")
    if policy.public_addresses_only:
        for address in addresses:
            if (why := address_refusal(address)) is not None:
                raise UrlRefused(f"url must point to a public address; {address} is {why}")
    return addresses


def address_refusal(address: IPAddress) -> str | None:
    """Why the platform must not connect to ``address`` in production, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            kind, inner = embedded
            why = address_refusal(inner)
            return f"{kind} {inner}, which is {why}" if why else None
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "carrier-grade NAT (shared address space)"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """An IPv4 address this IPv6 address reaches, with the mechanism's name."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        return "6to4 for", address.sixtofour
    if address.teredo is not None:
        server, client = address.teredo
        return "Teredo for", client if address_refusal(client) else server
    for prefix in _NAT64_PREFIXES:
        if address in prefix:
            return "NAT64 for", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
