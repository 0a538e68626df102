"""Which webhook URLs and addresses are refused (server-side request forgery). Pure.

A URL must be http(s) without credentials. Its host is refused when it names, or resolves
to, a loopback, private, link-local, shared (CGNAT), multicast, reserved or unspecified
address, or a cloud metadata address — unless the operator listed the host in
`COLLAB_WEBHOOK_ALLOWED_HOSTS`. The check is made at registration and again on each
delivery against the addresses actually dialled (see `delivery.GuardedResolver`), so a
name that later resolves elsewhere (DNS rebinding) is still refused.

The host judged is the one the HTTP client dials: yarl's, which folds Unicode spellings
(full-width digits, ideographic full stops) onto ASCII, so such a spelling of 127.0.0.1 is
judged as 127.0.0.1. A host whose last label is a number is an IPv4 address in some
spelling, and only the canonical dotted quad is accepted (`2130706433`, `0x7f.1`, `127.1`
are not).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from yarl import URL

# Metadata services that sit on ordinary-looking addresses or names.
METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata", "metadata.goog", "instance-data", "169.254.169.254"}
)
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
    }
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# A last label no top-level domain can be: the host is an IPv4 address, however spelt.
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


class RefusedUrl(ValueError):
    """A URL the server will not send to; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, no brackets
    port: int


def parse_url(url: str) -> Target:
    """The URL's target, or RefusedUrl when it is not an absolute http(s) URL we accept."""
    if len(url) > 2048:
        raise RefusedUrl("The URL is longer than 2048 characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
        dialled = URL(url)  # what aiohttp connects to (UnicodeError is a ValueError)
        host = (dialled.host or "").rstrip(".").lower()  # decoded lazily: may raise too
        host.encode("idna")  # as the resolver will: an empty or overlong label fails
    except ValueError as exc:
        raise RefusedUrl("The URL is not valid.") from exc
    if parts.scheme not in ("http", "https"):
        raise RefusedUrl("The URL must start with http:// or https://.")
    if parts.username is not None or parts.password is not None or dialled.user is not None:
        raise RefusedUrl("The URL must not carry a user name or password.")
    if not host:
        raise RefusedUrl("The URL has no host.")
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80))


def is_allowed_host(host: str, allowed: Collection[str]) -> bool:
    return host.rstrip(".").lower() in allowed


def address_refusal(address: str) -> str | None:
    """Why sending to this address is refused, or None when it is a public address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "it is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:  # 2002::/16 carries an IPv4 address: judge that one
            inner = address_refusal(str(ip.sixtofour))
            return f"it is a 6to4 address of one refused: {inner}" if inner else None
        elif ip.is_site_local:
            return "it is a site-local address"
    if ip in METADATA_ADDRESSES:
        return "it is a cloud metadata address"
    if ip.is_loopback:
        return "it is a loopback address"
    if ip.is_link_local:
        return "it is a link-local address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "it is a shared (carrier-grade NAT) address"
    if ip.is_private:
        return "it is a private address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return "it is not a public address"
    return None


def host_refusal(host: str, allowed: Collection[str]) -> str | None:
    """Why this host is refused before any lookup (a literal address or a metadata name)."""
    if is_allowed_host(host, allowed):
        return None
    if host in METADATA_HOSTS:
        return "it is a cloud metadata host"
    if host == "localhost" or host.endswith(".localhost"):
        return "it is a loopback host"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
            return "it is not a canonical IP address"
        return None
    return address_refusal(host)


def resolved_refusal(host: str, addresses: Iterable[str], allowed: Collection[str]) -> str | None:
    """Why sending to this host, resolved to these addresses, is refused (any bad one is
    enough: the connection could go to it)."""
    if is_allowed_host(host, allowed):
        return None
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            # Without the address: this is recorded where workspace admins read it, and
            # naming it would map the server's network by DNS.
            return f"{host} resolves to {reason.removeprefix('it is ')}"
    return None
