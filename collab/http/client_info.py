"""The caller's address and user agent, believing X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import ipaddress
from functools import cache

from aiohttp import web

from kernel.context import ClientInfo

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_info(request: web.Request, trusted_proxies: tuple[str, ...]) -> ClientInfo:
    networks = _networks(trusted_proxies)
    peer = request.remote or ""
    address = _valid_ip(peer)
    if address and networks and _is_trusted(address, networks):
        # Walk X-Forwarded-For from the right: the first hop we do not trust is the client.
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            hop_ip = _valid_ip(hop)
            if hop_ip is None:
                break
            address = hop_ip
            if not _is_trusted(hop_ip, networks):
                break
    user_agent = _text(request.headers.get("User-Agent"))
    return ClientInfo(ip=address, user_agent=user_agent[:1000] if user_agent else None)


def _text(value: str | None) -> str | None:
    """A header as storable text: bytes that are not UTF-8 (which aiohttp hands on as lone
    surrogates, which PostgreSQL cannot store) become U+FFFD."""
    if value is None or value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
