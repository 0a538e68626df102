"""Whose preview credential was honoured a moment ago: a short cache of yes-verdicts, so a
page of many assets costs no database round trip per request.

A verdict says "this user, under this token generation, may look at this session's
previews": their account is active, they have not ended every session since, and they have
access to the session. It lasts `VERDICT_TTL` seconds at most, and ends at once, on every
server process, when what it rests on changes: it is dropped on the control channel's
messages (`auth.revocation`: logout-all, password reset, deactivation; `collab.sessions.
events`: a participant removed or their role changed, a session deleted, a workspace
membership changed), and a kept yes is used only once this process has read every message
published before the request (`VerdictFeed.still_stands`). While that channel is not
subscribed (start-up, Redis lost) or does not answer, nothing kept is used and every request
is checked in the database. Refusals are never kept: access just granted works at once.

The same channel carries the contract's `deployment:status` events; the feed passes them on
so the proxy forgets a deployment's kept row as soon as it starts stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from auth.revocation import CHANNEL as REVOCATIONS
from collab.sessions.events import CHANNEL as SESSION_EVENTS

log = logging.getLogger(__name__)

VERDICT_TTL = 2.0
# How long a request waits for the control channel to catch up before asking the database.
CATCH_UP_WITHIN = 0.5
# Session events that say nothing about who may look (every other kind drops verdicts).
_HARMLESS = frozenset({"emit", "file_gone"})
# Called with a deployment's id when its status changes.
DeploymentChanged = Callable[[uuid.UUID], None]
_MAX_VERDICTS = 10_000


@dataclass(frozen=True)
class Viewer:
    """A participant looking, and the token generation their credential was issued under."""

    user_id: uuid.UUID
    generation: int


class Verdicts:
    """The yes-verdicts, and what ends them. No I/O: `VerdictFeed` feeds it."""

    def __init__(self, ttl: float = VERDICT_TTL) -> None:
        self._ttl = ttl
        self._granted: dict[tuple[uuid.UUID, Viewer], float] = {}
        # Moves on every change, so a check that was under way when one arrived is not kept.
        self.epoch = 0
        # Whether changes reach us (the control channel is subscribed).
        self.live = False

    def stands(self, session_id: uuid.UUID, viewer: Viewer) -> bool:
        until = self._granted.get((session_id, viewer))
        return until is not None and time.monotonic() < until

    def grant(self, session_id: uuid.UUID, viewer: Viewer, checked_at_epoch: int) -> None:
        """Keep a yes from a check that started at `checked_at_epoch`, unless something
        changed since (or changes cannot reach us)."""
        if not self.live or checked_at_epoch != self.epoch:
            return
        if len(self._granted) >= _MAX_VERDICTS:
            self._granted.clear()
        self._granted[(session_id, viewer)] = time.monotonic() + self._ttl

    def user_changed(self, user_id: uuid.UUID) -> None:
        self.epoch += 1
        for key in [k for k in self._granted if k[1].user_id == user_id]:
            del self._granted[key]

    def session_changed(self, session_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
        """Someone's access to the session changed (everyone's when user_id is None)."""
        self.epoch += 1
        for key in [
            k
            for k in self._granted
            if k[0] == session_id and (user_id is None or k[1].user_id == user_id)
        ]:
            del self._granted[key]

    def forget_all(self) -> None:
        self.epoch += 1
        self._granted.clear()

    def set_live(self, live: bool) -> None:
        self.forget_all()
        self.live = live


class VerdictFeed:
    """Applies the control channel's messages to `Verdicts`, on this process, and answers
    whether a kept yes still stands now."""

    def __init__(
        self, redis: Redis, verdicts: Verdicts, deployment_changed: DeploymentChanged
    ) -> None:
        self._redis = redis
        self._verdicts = verdicts
        self._deployment_changed = deployment_changed
        self._pubsub: PubSub | None = None  # while subscribed
        self._pings = itertools.count()
        self._pongs: dict[bytes, asyncio.Future[None]] = {}
        self._subscribed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen(), name="preview:verdicts")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=5)
        self._verdicts.set_live(False)

    async def still_stands(self, session_id: uuid.UUID, viewer: Viewer) -> bool:
        """Whether a kept yes stands, with every change published before this call applied.

        A change is published before whoever made it gets their answer, but it reaches this
        process on another connection, a moment later: a request that follows the answer
        could overtake it. So a kept yes is trusted only after a PING on the subscription
        comes back: Redis answers it after every message it had for us (the changes
        published before it are applied by then). One Redis round trip, no database one.
        """
        if not self._verdicts.stands(session_id, viewer):
            return False
        return await self._caught_up() and self._verdicts.stands(session_id, viewer)

    async def _caught_up(self) -> bool:
        pubsub = self._pubsub
        if pubsub is None:
            return False
        tag = str(next(self._pings))
        pong = asyncio.get_running_loop().create_future()
        self._pongs[tag.encode()] = pong
        try:
            await pubsub.ping(tag)
            await asyncio.wait_for(pong, CATCH_UP_WITHIN)
        except (RedisError, OSError, TimeoutError):
            return False
        finally:
            self._pongs.pop(tag.encode(), None)
        return True

    async def _listen(self) -> None:
        channels = {REVOCATIONS, SESSION_EVENTS}
        while not self._stopping.is_set():
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(*channels)
                    confirmed: set[str] = set()
                    while not self._stopping.is_set():
                        message = await pubsub.get_message(timeout=1.0)
                        if message is None:
                            continue
                        if message["type"] == "pong":
                            pong = self._pongs.get(message["data"])
                            if pong is not None and not pong.done():
                                pong.set_result(None)
                        elif message["type"] == "subscribe":
                            # Live only once Redis confirms: a change published before
                            # that would not reach us.
                            confirmed.add(message["channel"].decode())
                            if confirmed == channels:
                                self._pubsub = pubsub
                                self._verdicts.set_live(True)
                                self._subscribed.set()
                        elif message["type"] == "message":
                            self._apply(message["channel"].decode(), message["data"])
            except (RedisError, OSError) as exc:
                log.warning("preview verdicts: lost Redis (%s); checking every request", exc)
            finally:
                self._pubsub = None
                self._verdicts.set_live(False)
            if not self._stopping.is_set():
                await asyncio.sleep(1)

    def _apply(self, channel: str, data: bytes) -> None:
        try:
            if channel == REVOCATIONS:
                self._verdicts.user_changed(uuid.UUID(data.decode()))
                return
            event = json.loads(data)
            if event.get("kind") == "emit" and event.get("event") == "deployment:status":
                self._deployment_changed(uuid.UUID(event["payload"]["deployment_id"]))
            if event.get("kind") in _HARMLESS:
                return
            user_id = event.get("user_id")
            self._verdicts.session_changed(
                uuid.UUID(event["session_id"]), uuid.UUID(user_id) if user_id else None
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            # Unreadable: drop every verdict rather than keep one it may have ended.
            log.warning("preview verdicts: unreadable message on %s; all dropped", channel)
            self._verdicts.forget_all()
