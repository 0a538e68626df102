"""Document traffic between server processes, over one Redis pub/sub channel.

Each message: origin (8 bytes) | kind (1 byte: U update, A awareness) | author (16 bytes: the
user whose socket sent an update, zeros when none) | key length (2 bytes) | key (`w|s` +
`scope_id/path`, UTF-8) | payload. A process ignores its own messages. Publishing is
pipelined by one task so the edit path never waits on Redis.
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
from redis.exceptions import RedisError

from collab.model import DocumentKey
from kernel import metrics

log = logging.getLogger(__name__)

CHANNEL = "collab:documents"
UPDATE, AWARENESS = b"U", b"A"

Receiver = Callable[[DocumentKey, bytes, bytes, uuid.UUID | None], Awaitable[None]]
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

    async def start(self, receive: Receiver) -> None:
        """Subscribe, handing what other processes publish to `receive` (the rooms)."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._publish_loop(), name="documents:publish"),
            loop.create_task(self._subscribe_loop(receive), name="documents:subscribe"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5)

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=5)

    def publish(
        self, kind: bytes, key: DocumentKey, payload: bytes, author: uuid.UUID | None = None
    ) -> None:
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
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for message, _ in batch:
                        pipe.publish(CHANNEL, message)
                    await pipe.execute()
                metrics.fanout_lag(time.perf_counter() - first[1])  # the oldest's wait
            except (RedisError, OSError) as exc:
                log.warning("could not fan out %d document messages: %s", len(batch), exc)

    async def _subscribe_loop(self, receive: Receiver) -> None:
        while not self._stopping.is_set():
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._subscribed.set()
                    while not self._stopping.is_set():
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is not None:
                            await self._deliver(message["data"], receive)
            except (RedisError, OSError) as exc:
                log.warning("document fan-out lost Redis (%s); retrying", exc)
                await asyncio.sleep(0.5)

    async def _deliver(self, raw: bytes, receive: Receiver) -> None:
        try:
            origin, kind, key, payload, author = decode(raw)
        except (ValueError, UnicodeDecodeError):
            log.warning("ignoring a malformed document fan-out message")
            return
        if origin != self.origin:
            metrics.fanout_in(_KINDS.get(kind, "other"))
            await receive(key, kind, payload, author)
