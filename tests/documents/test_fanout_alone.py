"""The fan-out stops publishing while a process is alone on the channel, and a process that
arrives makes the others publish again before it serves anyone (real Redis)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from collab.documents.fanout import CHANNEL, INTRODUCTION_SECONDS, UPDATE, DocumentFanout
from collab.model import DocumentKey

KEY = DocumentKey(uuid.uuid4(), "main.py")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


class Inbox:
    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    async def __call__(
        self, key: DocumentKey, kind: bytes, payload: bytes, author: uuid.UUID | None
    ) -> None:
        if key == KEY and kind == UPDATE:
            self.payloads.append(payload)

    async def wait_for(self, payload: bytes) -> None:
        for _ in range(100):
            if payload in self.payloads:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{payload!r} never arrived; got {self.payloads}")


async def until(condition: object, what: str) -> None:
    for _ in range(100):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(what)


async def test_a_lone_process_stops_publishing_and_a_newcomer_is_served(redis: Redis) -> None:
    watcher = redis.pubsub()  # counts what reaches the channel (it is a subscriber too)
    first = DocumentFanout(redis)
    await first.start(Inbox())
    try:
        # Alone: the first publish's reply says only its own subscription heard it.
        first.publish(UPDATE, KEY, b"one")
        await until(lambda: first.alone, "a lone process kept publishing")

        await watcher.subscribe(CHANNEL)
        first.publish(UPDATE, KEY, b"unheard")  # dropped: nobody was introduced
        await asyncio.sleep(0.2)
        assert await watcher.get_message(ignore_subscribe_messages=True, timeout=0.2) is None
        await watcher.unsubscribe(CHANNEL)  # a subscriber that is no process never ACKs

        # A newcomer: its start returns once the first process answered its HELLO, well
        # before the introduction's time limit, and from then on it gets every update.
        inbox = Inbox()
        second = DocumentFanout(redis)
        started = time.monotonic()
        await second.start(inbox)
        try:
            assert time.monotonic() - started < INTRODUCTION_SECONDS / 2
            assert not first.alone
            first.publish(UPDATE, KEY, b"two")
            await inbox.wait_for(b"two")
        finally:
            await second.stop()
        # The newcomer left: the next reply says so, and the first process goes quiet again.
        first.publish(UPDATE, KEY, b"three")
        first.publish(UPDATE, KEY, b"four")
        await until(lambda: first.alone, "the process did not notice it was alone again")
    finally:
        await watcher.aclose()  # type: ignore[no-untyped-call]
        await first.stop()


async def test_processes_that_start_together_hear_each_other(redis: Redis) -> None:
    inboxes = [Inbox(), Inbox()]
    fanouts = [DocumentFanout(redis), DocumentFanout(redis)]
    await asyncio.gather(*(f.start(i) for f, i in zip(fanouts, inboxes, strict=True)))
    try:
        for round_ in range(3):
            fanouts[0].publish(UPDATE, KEY, f"a{round_}".encode())
            fanouts[1].publish(UPDATE, KEY, f"b{round_}".encode())
            await inboxes[1].wait_for(f"a{round_}".encode())
            await inboxes[0].wait_for(f"b{round_}".encode())
        assert not fanouts[0].alone and not fanouts[1].alone
    finally:
        for fanout in fanouts:
            await fanout.stop()
