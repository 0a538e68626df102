"""The Socket.IO server (protocol v5) on the aiohttp app.

Owns the handshake on `/`: the `auth` payload's access token must name an active user
(else `connect_error` "unauthorized"), and a browser's `Origin` must be allowed
(COLLAB_ALLOWED_ORIGINS, by default the public URL's origin; clients that send no Origin,
such as Node or Python ones, are not browsers and pass). Document namespaces check the
same token plus session membership (`collab.realtime.sync`).

One Redis control channel reaches every process: session events from the REST side
(emit to a session's members, a participant's role changed or they were removed) and
revocations (logout-all, password reset, deactivation drop every socket of that user;
ending one login or revoking one API key drops the sockets opened with it).

Connection limits (`connection_guard`): handshakes per client address, and a deadline to
authenticate. On SIGTERM, `drain` ends every connection so its client reconnects elsewhere
(`connections`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from auth.revocation import CHANNEL as REVOCATIONS
from auth.revocation import CREDENTIAL_CHANNEL as CREDENTIALS_ENDED
from collab.dependency_failures import is_dependency_failure
from collab.model import DocumentKey, SessionRole
from collab.realtime.connection_guard import ConnectionGuard, is_handshake
from collab.realtime.connections import Connections
from collab.realtime.identity import Authenticate, SocketCredentials
from collab.realtime.presence import Presence, room_of
from collab.realtime.sync import DocumentSync, connect_allowed
from collab.realtime.transport import tune_websockets
from collab.sessions.events import CHANNEL as SESSION_EVENTS
from config import Settings
from kernel.errors import ServiceError, Unavailable

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


SOCKETIO_PATH = "/socket.io/"


class _Server(socketio.AsyncServer):  # type: ignore[misc]  # socketio is untyped
    """A connect handler that meets a failing dependency (PostgreSQL or Redis down) refuses
    with `connect_error` "unavailable", for every namespace: python-socketio would log the
    error and leave the client waiting for an answer that never comes."""

    async def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        try:
            return await super()._trigger_event(event, namespace, *args)
        except Exception as exc:
            if event != "connect" or not is_dependency_failure(exc):
                raise
            log.warning("refused a connect to %s: %s: %s", namespace, type(exc).__name__, exc)
            raise socketio.exceptions.ConnectionRefusedError("unavailable") from None


def socket_server(
    settings: Settings, client_manager: socketio.AsyncManager
) -> socketio.AsyncServer:
    """The Socket.IO server, its WebSockets tuned (`transport`), with its client manager."""
    trusted = {o.rstrip("/").lower() for o in (settings.public_origin, *settings.allowed_origins)}

    def origin_allowed(origin: str | None, environ: dict[str, Any]) -> bool:
        """The public origin, the allowed origins, and the page's own host (a person may open
        http://localhost:PORT while the public URL says 127.0.0.1), as the REST API does."""
        if not origin:
            return True  # not a browser: the handshake token decides
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin.rstrip("/").lower() in trusted | {own.lower()}

    sio = _Server(
        client_manager=client_manager,
        async_mode="aiohttp",
        cors_allowed_origins=origin_allowed,
        namespaces="*",
        # Events of one socket are handled in order; a slow commit holds back only
        # that socket (natural back-pressure), never the others.
        async_handlers=False,
        # Room for framing above our own per-message limit, which answers `too_large`.
        max_http_buffer_size=2 * settings.max_message_bytes + 4096,
    )
    tune_websockets(sio)
    return sio


def add_socketio_routes(app: web.Application, handler: Handler) -> None:
    """The routes `AsyncServer.attach(app)` adds, to a handler that finds the server at
    request time: the server is built at start-up, once the Redis URL is known (the guard
    test checks these stay what python-socketio would add)."""
    app.router.add_get(SOCKETIO_PATH, handler)
    app.router.add_post(SOCKETIO_PATH, handler)
    app.router.add_route("OPTIONS", SOCKETIO_PATH, handler)


class RealtimeServer:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        presence: Presence,
        sync: DocumentSync,
        authenticate: Authenticate,
        redis: Redis,
        guard: ConnectionGuard | None = None,
    ) -> None:
        self.sio = sio
        self.connections = Connections(sio)
        self._guard = guard
        self.presence = presence
        self.sync = sync
        self._authenticate = authenticate
        self._redis = redis
        self._users: dict[str, uuid.UUID] = {}
        self._credentials = SocketCredentials()
        self._listener: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        sio.on("connect", self._connect)
        sio.on("disconnect", self._disconnect)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if is_handshake(request):
            if self.connections.draining:
                raise Unavailable("This server is shutting down; connect again.")
            if self._guard is not None:
                self._guard.admit(request)  # RateLimited: 429 with Retry-After
        with self.connections.track(request):
            response: web.StreamResponse = await self.sio.handle_request(request)
        return response

    async def start(self) -> None:
        self._listener = asyncio.get_running_loop().create_task(
            self._listen(self._redis), name="realtime:control"
        )
        if self._guard is not None:
            self._guard.start(self.connections)

    async def drain(self, within: float) -> int:
        """SIGTERM, once the listener is closed: end every connection so that each client
        reconnects to another process (a transport close, which socket.io-client retries)."""
        return await self.connections.drain(within)

    async def stop(self) -> None:
        self._stopping.set()
        if self._guard is not None:
            await self._guard.stop()
        if self._listener is not None:
            # redis-py can swallow a cancel that lands mid-connect; the event ends the loop
            # within one poll either way.
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._listener, timeout=5)
        await self.sync.close()

    # -- `/` handshake ---------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        if not connect_allowed(environ):  # connected, left, connected again, ...
            raise socketio.exceptions.ConnectionRefusedError("rate_limited")
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        try:
            user = await self._authenticate(token)
        except ServiceError:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized") from None
        if not user.has_scope("read"):
            # A key for deploying or administering only: everything on `/` reads a session
            # (or, for the terminal, writes), as REST refuses it (403 insufficient_scope).
            raise socketio.exceptions.ConnectionRefusedError("forbidden")
        await self.sio.save_session(sid, {"user_id": user.user_id})
        self._users[sid] = user.user_id
        self._credentials.remember(sid, "/", user)

    async def _disconnect(self, sid: str, *reason: Any) -> None:
        self._credentials.forget(sid)
        await self.presence.socket_gone(sid, self._users.pop(sid, None))

    def role_cap(self, sid: str, role: SessionRole) -> SessionRole:
        """The role this `/` socket acts with: at most viewer for a key without `write`."""
        return self._credentials.cap(sid, role)

    async def drop_user(self, user_id: uuid.UUID) -> None:
        for sid, owner in list(self._users.items()):
            if owner == user_id:
                await self.sio.disconnect(sid)
        await self.sync.drop_user(user_id)

    async def drop_credential(self, credential_id: uuid.UUID) -> None:
        for sid, _ in self._credentials.opened_with(credential_id):
            await self.sio.disconnect(sid)
        await self.sync.drop_credential(credential_id)

    # -- the control channel -------------------------------------------------------------

    async def _listen(self, redis: Redis) -> None:
        while not self._stopping.is_set():
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(REVOCATIONS, CREDENTIALS_ENDED, SESSION_EVENTS)
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
            elif channel == CREDENTIALS_ENDED:
                await self.drop_credential(uuid.UUID(data.decode()))
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
