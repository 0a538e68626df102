"""python-socketio's Redis client manager, recovering from a Redis outage like the fan-out.

`/`-namespace events (presence, terminals, anything emitted without `ignore_queue`) reach
the other processes through this manager. The stock `socketio.AsyncRedisManager`:

- retries its subscription after an outage with a backoff doubling up to 60 s, so after a
  long outage those events could lag up to a minute behind Redis's return;
- tries every publish twice while Redis is down, logging an ERROR for each try, with no
  connect timeout (a host that does not refuse holds the emitting handler for the OS's);
- builds a new Redis client on every retry and never closes the old ones, nor the last one
  at shutdown: its listener stays subscribed after the app stopped, and the garbage
  collector closed the socket (a ResourceWarning in the tests).

This one keeps one client for its life (its pool reconnects), resubscribes after
RETRY_FIRST_SECONDS doubling to RETRY_MAX_SECONDS (the document fan-out's), publishes with
one reconnect at most and, once a publish failed, drops what is published for
PUBLISH_PAUSE_SECONDS, logging one warning per outage: these events are best-effort (edits
travel the document fan-out, which catches up from PostgreSQL). `close()`, at shutdown,
ends the listener and closes the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import socketio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from collab.documents.fanout import RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS

log = logging.getLogger(__name__)

PUBLISH_PAUSE_SECONDS = 1.0  # after a failed publish, drop without asking Redis again

_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,  # not while listening: redis-py blocks without one there
    "health_check_interval": 30,
    # One reconnect (a connection Redis closed while idle), not redis-py's ten with backoff.
    "retry": Retry(NoBackoff(), 1),
}


class RedisClientManager(socketio.AsyncRedisManager):  # type: ignore[misc]  # untyped
    redis: Any  # redis.asyncio.Redis once connected (python-socketio leaves it untyped)
    pubsub: Any
    thread: asyncio.Task[None] | None  # the listener, started on the first connection

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel=channel, redis_options=dict(_OPTIONS))
        self._closed = False
        self._paused_until = 0.0  # publishes are dropped until then (monotonic)
        self._dropped = 0  # publishes dropped in the current outage (0: none failing)
        self._listening_failed = False

    def initialize(self) -> None:
        # Called by the first connection's request: start the listener outside its context,
        # or that request's id would label every line the listener logs.
        contextvars.Context().run(super().initialize)

    def _redis_connect(self) -> None:
        # Once: the stock manager builds a new client on every retry and leaks the old one.
        if self.redis is None:
            super()._redis_connect()
        self.connected = True

    async def _publish(self, data: Any) -> Any:
        if self._closed:
            return None
        if time.monotonic() < self._paused_until:
            self._dropped += 1
            return None
        try:
            self._redis_connect()
            received = await self.redis.publish(self.channel, self.json.dumps(data))
        except (RedisError, OSError) as exc:
            self._paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
            if not self._dropped:
                log.warning("Socket.IO events to other processes are dropped: Redis: %s", exc)
            self._dropped += 1
            return None
        if self._dropped:
            log.info("Socket.IO events reach other processes again (%d dropped)", self._dropped)
            self._dropped = 0
        return received

    async def _listen(self) -> AsyncIterator[Any]:
        channel = self.channel.encode()
        async for message in self._redis_listen_with_retries():
            if message["channel"] == channel and message["type"] == "message":
                yield message["data"]
        # Closed while a cancel was swallowed: end `_thread` the way a cancel does, quietly
        # (it logs an error for a listener that just returns).
        raise asyncio.CancelledError

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        delay = RETRY_FIRST_SECONDS
        while not self._closed:
            try:
                await self._close_pubsub()  # the previous attempt's, if any
                self._redis_connect()
                self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                await self.pubsub.subscribe(self.channel)
                if self._listening_failed:
                    self._listening_failed = False
                    log.info("Socket.IO's Redis channel resubscribed")
                delay = RETRY_FIRST_SECONDS
                async for message in self.pubsub.listen():
                    yield message
            except (RedisError, OSError) as exc:
                self._listening_failed = True
                log.warning(
                    "Socket.IO's Redis channel lost Redis (%s); retrying in %.2fs", exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _close_pubsub(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def close(self) -> None:
        """At shutdown, once nothing emits any more: end the listener, close the client."""
        self._closed = True
        listener = getattr(self, "thread", None)
        if listener is not None:
            listener.cancel()
            # redis-py can swallow a cancel that lands mid-connect; `_closed` ends the loop.
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(listener, timeout=5)
        await self._close_pubsub()
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None
