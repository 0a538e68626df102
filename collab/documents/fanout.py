"""Document traffic between server processes, over one Redis pub/sub channel.

Each message: origin (8 bytes) | kind (1 byte: U update, A awareness) | author (16 bytes: the
user whose socket sent an update, zeros when none) | key length (2 bytes) | key (`w|s` +
`scope_id/path`, UTF-8) | payload. A process ignores its own messages. Publishing is
pipelined by one task so the edit path never waits on Redis.

A process alone on the channel publishes nothing: PUBLISH answers how many subscribers got
a message, and when that is only ourselves, publishing every edit would cost a Redis round
trip and reading our own echo back, for nobody (profiled: about a fifth of the server's
time per edit with one process). Another process that starts is noticed before it serves
anyone: once subscribed it publishes HELLO (origin | `H`), and waits (at most
INTRODUCTION_SECONDS) for an ACK (origin | `K` | the newcomer's origin) from every other
subscriber. A process that handles a HELLO publishes again from then on, before it ACKs;
so whatever it committed unpublished is in the database before the newcomer can load a
document. A reply of one that was asked before a HELLO was handled is stale and ignored.

Redis outages: whatever was published while the subscription was down is lost, so after
every (re)subscription, once introduced, `on_resubscribed` (the rooms' catch-up from
PostgreSQL) runs. The subscription is retried with a backoff from RETRY_FIRST_SECONDS
doubling to RETRY_MAX_SECONDS; a reconnect redis-py makes by itself (its retries) counts as a
resubscription too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from collab.model import DocumentKey
from kernel import metrics

log = logging.getLogger(__name__)

CHANNEL = "collab:documents"
UPDATE, AWARENESS = b"U", b"A"
HELLO, ACK = b"H", b"K"  # a process arrived; an older one heard it (see the docstring)
INTRODUCTION_SECONDS = 3.0
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.25, 2.0  # resubscription backoff (see the docstring)

Receiver = Callable[[DocumentKey, bytes, bytes, uuid.UUID | None], Awaitable[None]]
Resubscribed = Callable[[], Awaitable[None]]
NOBODY = bytes(16)
_KINDS = {UPDATE: "update", AWARENESS: "awareness"}  # metric labels


def encode(
    origin: bytes, kind: bytes, key: DocumentKey, payload: bytes, author: uuid.UUID | None = None
) -> bytes:
    name = f"{'w' if key.in_workspace else 's'}{key.scope_id}/{key.path}".encode()
    by = author.bytes if author is not None else NOBODY
    return origin + kind + by + len(name).to_bytes(2, "big") + name + payload


def decode(message: bytes) -> tuple[bytes, bytes, DocumentKey, bytes, uuid.UUID | None]:
    origin, kind, by = message[:8], message[8:9], message[9:25]
    length = int.from_bytes(message[25:27], "big")
    name = message[27 : 27 + length].decode()
    scope, _, path = name[1:].partition("/")
    key = DocumentKey(uuid.UUID(scope), path, in_workspace=name[:1] == "w")
    author = uuid.UUID(bytes=by) if by != NOBODY else None
    return origin, kind, key, message[27 + length :], author


class DocumentFanout:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.origin = os.urandom(8)
        # Each message with when it was handed over, for the lag metric.
        self._outbox: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._stopping = asyncio.Event()
        self.alone = False  # nobody else subscribes: publish nothing
        self._hellos = 0  # HELLOs handled: a generation, to tell a stale PUBLISH reply
        self._expected: int | None = None  # ACKs our HELLO is owed (None: not known yet)
        self._acked: set[bytes] = set()
        self._introduced = asyncio.Event()
        self.on_resubscribed: Resubscribed | None = None  # set by the rooms: catch up
        self._reconnected = False  # redis-py reconnected the subscription by itself
        self._catching_up: asyncio.Task[None] | None = None

    async def start(self, receive: Receiver) -> None:
        """Subscribe, handing what other processes publish to `receive` (the rooms)."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._publish_loop(), name="documents:publish"),
            loop.create_task(self._subscribe_loop(receive), name="documents:subscribe"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5)
        with contextlib.suppress(TimeoutError):  # past it, other processes may lag (README)
            await asyncio.wait_for(self._introduced.wait(), timeout=INTRODUCTION_SECONDS)

    async def stop(self) -> None:
        self._stopping.set()
        tasks = [*self._tasks, *([self._catching_up] if self._catching_up else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=5)

    def publish(
        self, kind: bytes, key: DocumentKey, payload: bytes, author: uuid.UUID | None = None
    ) -> None:
        if self.alone:
            return  # nobody to tell (and the loop would drop it): no encoding, no wake-up
        self._outbox.put_nowait(
            (encode(self.origin, kind, key, payload, author), time.perf_counter())
        )
        metrics.fanout_out(_KINDS.get(kind, "other"))

    async def _publish_loop(self) -> None:
        while True:
            first = await self._outbox.get()
            batch = [first]
            while not self._outbox.empty() and len(batch) < 500:
                batch.append(self._outbox.get_nowait())
            if self.alone:
                continue
            generation = self._hellos
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for message, _ in batch:
                        pipe.publish(CHANNEL, message)
                    received = await pipe.execute()
                metrics.fanout_lag(time.perf_counter() - first[1])  # the oldest's wait
                if max(received) <= 1 and self._hellos == generation:
                    self.alone = True  # only our own subscription heard it
            except (RedisError, OSError) as exc:
                log.warning("could not fan out %d document messages: %s", len(batch), exc)

    async def _subscribe_loop(self, receive: Receiver) -> None:
        delay = RETRY_FIRST_SECONDS
        while not self._stopping.is_set():
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    connection = pubsub.connection
                    assert connection is not None  # subscribing connected it
                    # Later reconnects by redis-py itself: see _on_reconnect.
                    connection.register_connect_callback(self._on_reconnect)
                    try:
                        self._subscribed.set()
                        await self._resubscribed()
                        delay = RETRY_FIRST_SECONDS
                        await self._read(pubsub, receive)
                    finally:  # the connection goes back to the pool
                        connection.deregister_connect_callback(self._on_reconnect)
            except (RedisError, OSError) as exc:
                log.warning("document fan-out lost Redis (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _read(self, pubsub: PubSub, receive: Receiver) -> None:
        while not self._stopping.is_set():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if self._reconnected:
                self._reconnected = False
                await self._resubscribed()
            if message is not None:
                await self._deliver(message["data"], receive)

    def _on_reconnect(self, _connection: object) -> None:
        # Called by redis-py after it reconnected (and before it resubscribes).
        self._reconnected = True

    async def _resubscribed(self) -> None:
        """Introduce ourselves, then catch up (in the background: the ACKs it waits for
        arrive through this subscription)."""
        await self._introduce()
        if self.on_resubscribed is None:
            return
        if self._catching_up is not None:
            self._catching_up.cancel()
        self._catching_up = asyncio.get_running_loop().create_task(
            self._catch_up(self.on_resubscribed), name="documents:catch-up"
        )

    async def _catch_up(self, catch_up: Resubscribed) -> None:
        # After the ACKs: a process that was alone has then published, or stored, its edits.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._introduced.wait(), timeout=INTRODUCTION_SECONDS)
        try:
            await catch_up()
        except Exception:
            log.exception("catching up after resubscribing failed")

    async def _introduce(self) -> None:
        """Tell the others we are here (on every (re)subscription: a process alone may
        have published nothing while we were away)."""
        self._acked.clear()
        self._expected = None
        self._introduced.clear()
        # Publish until a reply says we are alone (while we were away someone may have come).
        self._hellos += 1
        self.alone = False
        subscribers = await self._redis.publish(CHANNEL, self.origin + HELLO)
        self._expected = max(0, subscribers - 1)
        self._check_introduced()

    def _check_introduced(self) -> None:
        if self._expected is not None and len(self._acked) >= self._expected:
            self._introduced.set()

    async def _control(self, raw: bytes) -> None:
        origin, kind = raw[:8], raw[8:9]
        if kind == HELLO:
            self._hellos += 1
            self.alone = False
            try:
                await self._redis.publish(CHANNEL, self.origin + ACK + origin)
            except (RedisError, OSError) as exc:
                log.warning("could not answer a new process: %s", exc)
        elif raw[9:17] == self.origin:
            self._acked.add(origin)
            self._check_introduced()

    async def _deliver(self, raw: bytes, receive: Receiver) -> None:
        if raw[:8] == self.origin:
            return  # our own, echoed
        if raw[8:9] in (HELLO, ACK):
            await self._control(raw)
            return
        try:
            origin, kind, key, payload, author = decode(raw)
        except (ValueError, UnicodeDecodeError):
            log.warning("ignoring a malformed document fan-out message")
            return
        if origin != self.origin:
            metrics.fanout_in(_KINDS.get(kind, "other"))
            try:
                await receive(key, kind, payload, author)
            except Exception:  # one message must not end the subscription for the others
                log.exception("handling a document fan-out message failed")
