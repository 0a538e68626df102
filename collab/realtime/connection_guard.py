"""Who may open a Socket.IO connection, and how long one may stay without authenticating.

- Handshakes (an Engine.IO request without `sid`) are counted per client address (the peer,
  or X-Forwarded-For from a trusted proxy) in a token bucket: a burst, refilled at a steady
  rate. Beyond it the handshake answers 429 `rate_limited` with Retry-After before
  Engine.IO allocates anything. The table of addresses is bounded (least recently seen
  go first), so a spray of addresses cannot grow it without limit.
- An Engine.IO connection with no Socket.IO namespace connected (it never sent a CONNECT,
  or its token was refused, or it was disconnected from its last namespace) is closed once
  it has been so for `auth_timeout` seconds, swept every second. Engine.IO's own pings end
  connections whose peer vanished (ping interval + timeout, 45 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

from collab.realtime.connections import Connections
from config import Settings
from kernel.errors import RateLimited

log = logging.getLogger(__name__)

MAX_ADDRESSES = 100_000

# The client's address of a request (the HTTP edge's rule: X-Forwarded-For from trusted
# proxies only), passed in by the composition root.
AddressOf = Callable[[web.Request], str | None]


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at


class HandshakeLimiter:
    """A token bucket per client address, in this process (it needs no Redis, so it holds
    while Redis is down; behind a load balancer each process limits its own share)."""

    def __init__(self, burst: int, per_second: float, max_addresses: int = MAX_ADDRESSES) -> None:
        self.burst, self.rate = float(burst), per_second
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._max = max_addresses

    def admit(self, address: str, now: float | None = None) -> None:
        """Take one handshake for `address`, or raise RateLimited naming when to retry."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.pop(address, None)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        self._buckets[address] = bucket  # most recently seen last
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1:
            raise RateLimited(math.ceil((1 - bucket.tokens) / self.rate))
        bucket.tokens -= 1


def is_handshake(request: web.Request) -> bool:
    return "sid" not in request.query


class ConnectionGuard:
    def __init__(
        self,
        limiter: HandshakeLimiter,
        address_of: AddressOf,
        auth_timeout: float,
        sweep_every: float = 1.0,
    ) -> None:
        self.limiter = limiter
        self._address_of = address_of
        self.auth_timeout = auth_timeout
        self._sweep_every = sweep_every
        self._unauthenticated_since: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, address_of: AddressOf) -> ConnectionGuard:
        return cls(
            HandshakeLimiter(
                settings.socket_connections_burst, settings.socket_connections_per_second
            ),
            address_of,
            settings.socket_auth_timeout_seconds,
        )

    def admit(self, request: web.Request) -> None:
        """Count a handshake against its address (raises RateLimited beyond the limit)."""
        if is_handshake(request):
            self.limiter.admit(self._address_of(request) or "unknown")

    def start(self, connections: Connections) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._sweep_forever(connections), name="realtime:auth-deadline"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sweep_forever(self, connections: Connections) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            try:
                await self.sweep(connections)
            except Exception:  # the sweep must outlive any one bad socket
                log.exception("the unauthenticated-connection sweep failed")

    async def sweep(self, connections: Connections, now: float | None = None) -> int:
        """End the connections that have had no namespace for `auth_timeout`; how many."""
        now = time.monotonic() if now is None else now
        sio = connections.sio
        manager = sio.manager
        authenticated = {
            eio_sid
            for namespace in list(manager.get_namespaces())
            for _, eio_sid in manager.get_participants(namespace, None)
        }
        since = self._unauthenticated_since
        expired = []
        for eio_sid, socket in list(sio.eio.sockets.items()):
            if socket.closed:
                continue  # ended already; Engine.IO forgets it soon
            if eio_sid in authenticated:
                since.pop(eio_sid, None)
            elif now - since.setdefault(eio_sid, now) >= self.auth_timeout:
                expired.append(eio_sid)
        for eio_sid in set(since) - set(sio.eio.sockets):
            del since[eio_sid]  # gone on its own
        for eio_sid in expired:
            since.pop(eio_sid, None)
            await connections.end(eio_sid)
        if expired:
            log.info("closed %d connection(s) that did not authenticate in time", len(expired))
        return len(expired)
