"""The Socket.IO server (protocol v5) on the aiohttp app.

Owns the handshake on `/`: the `auth` payload's access token must name an active user
(else `connect_error` "unauthorized"), and a browser's `Origin` must be allowed
(COLLAB_ALLOWED_ORIGINS, by default the public URL's origin; clients that send no Origin,
such as Node or Python ones, are not browsers and pass). Document namespaces check the
same token plus session membership (`collab.realtime.sync`).

One Redis control channel reaches every process: session events from the REST side
(emit to a session's members, a participant's role changed or they were removed) and
revocations (logout-all, password reset, deactivation drop every socket of that user).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

import socketio
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from auth.revocation import CHANNEL as REVOCATIONS
from collab.documents.rooms import DocumentRooms
from collab.model import DocumentKey, SessionRole
from collab.realtime.broadcast import send_event
from collab.realtime.identity import Authenticate
from collab.realtime.presence import Presence, room_of
from collab.realtime.sync import DocumentSync
from collab.realtime.transport import tune_websockets
from collab.sessions.events import CHANNEL as SESSION_EVENTS
from collab.sessions.service import SessionService
from config import Settings
from kernel.errors import ServiceError

log = logging.getLogger(__name__)


class RealtimeServer:
    def __init__(self, settings: Settings) -> None:
        origins = list(settings.allowed_origins) or [settings.public_origin]
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            cors_allowed_origins=origins,
            namespaces="*",
            # Events of one socket are handled in order; a slow commit holds back only
            # that socket (natural back-pressure), never the others.
            async_handlers=False,
            # Room for framing above our own per-message limit, which answers `too_large`.
            max_http_buffer_size=2 * settings.max_message_bytes + 4096,
        )
        tune_websockets(self.sio)
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.presence = Presence(self.sio)
        self.sync = DocumentSync(
            self.sio,
            max_message_bytes=settings.max_message_bytes,
            messages_per_second=settings.socket_messages_per_second,
        )
        self._authenticate: Authenticate | None = None
        self._users: dict[str, uuid.UUID] = {}
        self._listener: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app)

    async def send(self, namespace: str, event: str, payload: bytes, eio_sids: list[str]) -> None:
        await send_event(self.sio, namespace, event, payload, eio_sids)

    async def start(
        self,
        *,
        authenticate: Authenticate,
        redis: Redis,
        redis_url: str,
        sessions: SessionService,
        rooms: DocumentRooms,
        pool: Any,
    ) -> None:
        # `/` events reach every process through python-socketio's Redis manager. It is
        # swapped in here, before any client connects, because the URL is only known now.
        manager = socketio.AsyncRedisManager(redis_url, channel="collab:socketio")
        manager.set_server(self.sio)
        self.sio.manager = manager
        self._authenticate = authenticate
        self.presence.sessions, self.presence.redis, self.presence.pool = sessions, redis, pool
        self.sync.sessions, self.sync.rooms, self.sync.authenticate = sessions, rooms, authenticate
        self._listener = asyncio.get_running_loop().create_task(
            self._listen(redis), name="realtime:control"
        )

    async def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            # redis-py can swallow a cancel that lands mid-connect; the event ends the loop
            # within one poll either way.
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._listener, timeout=5)
        await self.sync.close()

    # -- `/` handshake ---------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or self._authenticate is None:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        try:
            user = await self._authenticate(token)
        except ServiceError:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized") from None
        await self.sio.save_session(sid, {"user_id": user.user_id})
        self._users[sid] = user.user_id

    async def _disconnect(self, sid: str, *reason: Any) -> None:
        await self.presence.socket_gone(sid, self._users.pop(sid, None))

    async def drop_user(self, user_id: uuid.UUID) -> None:
        for sid, owner in list(self._users.items()):
            if owner == user_id:
                await self.sio.disconnect(sid)
        await self.sync.drop_user(user_id)

    # -- the control channel -------------------------------------------------------------

    async def _listen(self, redis: Redis) -> None:
        while not self._stopping.is_set():
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(REVOCATIONS, SESSION_EVENTS)
                    while not self._stopping.is_set():
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is not None:
                            await self._handle(message["channel"].decode(), message["data"])
            except (RedisError, OSError) as exc:
                log.warning("real-time control channel lost Redis (%s); retrying", exc)
                await asyncio.sleep(1)

    async def _handle(self, channel: str, data: bytes) -> None:
        try:
            if channel == REVOCATIONS:
                await self.drop_user(uuid.UUID(data.decode()))
            else:
                await self._session_event(json.loads(data))
        except (ValueError, KeyError):
            log.warning("ignoring a malformed message on %s", channel)
        except Exception:  # one failed message must not end the listener for all the others
            log.exception("handling a message on %s failed", channel)

    async def _session_event(self, message: dict[str, Any]) -> None:
        session_id = uuid.UUID(message["session_id"])
        user_id = uuid.UUID(message["user_id"]) if message.get("user_id") else None
        kind = message["kind"]
        if kind == "emit":
            # Every process got this message: each emits to its own sockets only.
            await self.sio.emit(
                message["event"], message["payload"], room=room_of(session_id), ignore_queue=True
            )
        elif kind == "role" and user_id is not None:
            self.sync.set_role(session_id, user_id, SessionRole(message["role"]))
        elif kind == "file_gone":
            key = DocumentKey(session_id, message["path"], bool(message.get("in_workspace")))
            await self.sync.close_document(key)
        elif kind == "removed":
            await self.sync.disconnect(session_id, user_id)
            await self.presence.evict(session_id, user_id)
