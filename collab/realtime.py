"""The Socket.IO server (protocol v5) on the aiohttp app.

Owns the handshake: the `auth` payload's access token must name an active user (else
`connect_error` "unauthorized"), and a browser's `Origin` must be allowed
(COLLAB_ALLOWED_ORIGINS, by default the public URL's origin; clients that send no Origin,
such as Node or Python ones, are not browsers and pass). It also drops every live socket of
a user whose sessions were revoked (logout-all, password reset, deactivation), on whichever
server process holds them: the revocation arrives over Redis pub/sub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from auth.errors import AuthError
from auth.revocation import CHANNEL
from auth.users import User
from config import Settings

log = logging.getLogger(__name__)

Authenticate = Callable[[str], Awaitable[User]]


class RealtimeServer:
    def __init__(self, settings: Settings) -> None:
        origins = list(settings.allowed_origins) or [settings.public_origin]
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp", cors_allowed_origins=origins, transports=["polling", "websocket"]
        )
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self._authenticate: Authenticate | None = None
        self._sockets: dict[uuid.UUID, set[str]] = defaultdict(set)
        self._listener: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app)

    async def start(self, authenticate: Authenticate, redis: Redis) -> None:
        self._authenticate = authenticate
        self._listener = asyncio.get_running_loop().create_task(
            self._listen_for_revocations(redis), name="realtime:revocations"
        )

    async def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            # redis-py can swallow a cancel that lands mid-connect; the event ends the loop
            # within one poll either way.
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._listener, timeout=5)
        for sids in list(self._sockets.values()):
            for sid in list(sids):
                await self.sio.disconnect(sid)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or self._authenticate is None:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        try:
            user = await self._authenticate(token)
        except AuthError:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized") from None
        await self.sio.save_session(sid, {"user_id": user.user_id})
        self._sockets[user.user_id].add(sid)

    async def _disconnect(self, sid: str, *args: Any) -> None:
        with contextlib.suppress(KeyError):
            user_id = (await self.sio.get_session(sid))["user_id"]
            self._sockets[user_id].discard(sid)
            if not self._sockets[user_id]:
                del self._sockets[user_id]

    async def drop_user(self, user_id: uuid.UUID) -> None:
        for sid in list(self._sockets.get(user_id, ())):
            await self.sio.disconnect(sid)

    async def _listen_for_revocations(self, redis: Redis) -> None:
        while not self._stopping.is_set():
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    while not self._stopping.is_set():
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is not None:
                            with contextlib.suppress(ValueError):
                                await self.drop_user(uuid.UUID(message["data"].decode()))
            except (RedisError, OSError) as exc:
                log.warning("revocation listener lost Redis (%s); retrying", exc)
                await asyncio.sleep(1)
