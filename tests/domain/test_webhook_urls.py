"""Webhook URL rules: https only and public addresses only in production, local receivers in
development; every non-global range refused, also when hidden inside an IPv6 address."""

from __future__ import annotations

import ipaddress

import pytest

from callwright.domain.webhook_urls import (
    UrlPolicy,
    UrlRefused,
    address_refusal,
    check_addresses,
    parse_webhook_url,
)

PROD = UrlPolicy.for_environment(production=True)
DEV = UrlPolicy.for_environment(production=False)

REFUSED = {
    "0.0.0.0": "unspecified",
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "10.0.0.1": "private",
    "172.16.0.1": "private",
    "172.31.255.255": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # cloud instance metadata
    "100.64.0.1": "carrier-grade NAT",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "private",  # reserved 240/4 (Python files it under private)
    "255.255.255.255": "private",
    "192.0.2.10": "private",  # TEST-NET-1, documentation
    "198.18.0.1": "private",  # benchmarking
    "::": "unspecified",
    "::1": "loopback",
    "fe80::1": "link-local",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "fec0::1": "site-local",
    "ff02::1": "multicast",
    "2001:db8::1": "private",  # documentation
    "::ffff:127.0.0.1": "IPv4-mapped 127.0.0.1, which is loopback",
    "::ffff:10.1.2.3": "IPv4-mapped 10.1.2.3, which is private",
    "::ffff:169.254.169.254": "IPv4-mapped 169.254.169.254, which is link-local",
    "2002:7f00:1::": "6to4 for 127.0.0.1, which is loopback",
    "2002:c0a8:101::1": "6to4 for 192.168.1.1, which is private",
    "64:ff9b::a9fe:a9fe": "NAT64 for 169.254.169.254, which is link-local",
    "64:ff9b::7f00:1": "NAT64 for 127.0.0.1, which is loopback",
}
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888",
          "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize(("address", "why"), sorted(REFUSED.items()))
def test_non_global_addresses_are_refused_with_their_kind(address, why):
    refusal = address_refusal(ipaddress.ip_address(address))
    assert refusal is not None and refusal.startswith(why), refusal


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_teredo_with_a_private_client_is_refused():
    # Teredo server 65.54.227.120, client 192.168.1.1 (obfuscated: bits inverted).
    server = int(ipaddress.IPv4Address("65.54.227.120"))
    client = int(ipaddress.IPv4Address("192.168.1.1")) ^ 0xFFFFFFFF
    teredo = ipaddress.IPv6Address((0x20010000 << 96) | (server << 64) | client)
    assert "192.168.1.1" in (address_refusal(teredo) or "")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://[fe80::1%25eth0]/hook",
        "https://[::ffff:127.0.0.1]:8443/hook",
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/hook",
    ],
)
def test_literal_private_urls_are_refused_in_production(url):
    with pytest.raises(UrlRefused) as refused:
        parse_webhook_url(url, PROD)
    assert refused.value.reason.startswith("url must point to a public address")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", "http://localhost:9000/x", "http://[::1]:80/"])
def test_development_allows_http_and_local_receivers(url):
    target = parse_webhook_url(url, DEV)
    assert target.scheme == "http"


def test_production_requires_https():
    with pytest.raises(UrlRefused, match="url must use https"):
        parse_webhook_url("http://93.184.216.34/hook", PROD)
    assert parse_webhook_url("https://93.184.216.34/hook", PROD).port == 443


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("ftp://example.com/x", "url must start with https://"),
        ("example.com/hook", "url must start with https://"),
        ("javascript:alert(1)", "url must start with https://"),
        ("https:///path-only", "url must name a host"),
        ("https://user:pw@example.com/", "url must not contain credentials"),
        ("https://example.com:99999/", "url is not a valid URL"),
        ("https://exa mple.com/", "url must not contain spaces"),
        ("https://example.com/" + "a" * 2100, "url must be at most 2048 characters"),
    ],
)
def test_malformed_urls_name_the_rule(url, rule):
    with pytest.raises(UrlRefused) as refused:
        parse_webhook_url(url, DEV)
    assert refused.value.reason.startswith(rule)


def test_parts_of_a_hostname_url():
    target = parse_webhook_url("https://Hooks.Example.com:8443/in/bound?x=1#frag", PROD)
    assert (target.host, target.port, target.target, target.literal_ip) == (
        "hooks.example.com", 8443, "/in/bound?x=1", None,
    )


def test_a_name_resolving_to_any_private_address_is_refused():
    mixed = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")]
    with pytest.raises(UrlRefused, match=r"10\.0\.0\.7 is private"):
        check_addresses(mixed, PROD)
    assert check_addresses(mixed, DEV) == mixed
    with pytest.raises(UrlRefused, match="resolves to no address"):
        check_addresses([], PROD)


@pytest.mark.parametrize(
    "host", ["a" * 64 + ".example.com", "hooks..example.com", ".".join(["a" * 60] * 5)]
)
@pytest.mark.parametrize("policy", [DEV, PROD], ids=["dev", "prod"])
def test_a_host_that_is_no_dns_name_is_refused_when_parsed(host, policy):
    with pytest.raises(UrlRefused, match="url host is not a valid host name"):
        parse_webhook_url(f"https://{host}/hook", policy)


@pytest.mark.parametrize("host", ["hooks.example.com", "münchen.example", "a" * 63 + ".example.com"])
def test_dns_names_pass_the_host_rule(host):
    assert parse_webhook_url(f"https://{host}/hook", DEV).host == host
