"""Document sync on `/yjs|{session_id}/{path}`, wire-compatible with the `y-socket.io` client.

The document is the session's file, or for a session opened on a workspace the
workspace's file (shared with its other sessions).

On connect the server asks the client for what it is missing (`sync-step-1` with our state
vector; the client acks with its diff, which is how offline edits merge) and sends the
current awareness. The client's own `sync-step-1` is acked with our diff (checked for size
and budgets as every other message is; refused, it is acked with an empty update). `sync-update`
and `awareness-update` flow both ways (renewals of unchanged awareness states are relayed
together, a little later: `collab.realtime.renewals`). Viewers' updates are refused
(`sync-error` `read_only`; so are those of a socket opened with an API key without the
`write` scope, `collab.realtime.identity`), as are undecodable ones (`invalid_update`),
oversized ones (`too_large`) and floods (`rate_limited`); none of these harm the document
or close the connection. An edit refused over the socket's budget (`rate_limited`) or by
storage (`unavailable`) stays in its author's editor and is asked back from the socket
later, without a reconnect (`collab.realtime.resync`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from typing import Any

import socketio

from collab.documents.awareness import MalformedAwareness
from collab.documents.paths import InvalidPath, normalise_path
from collab.documents.room import DocumentRoom, Member, TokenBucket
from collab.documents.rooms import (
    EMPTY_UPDATE,
    SCAN_IN_THREAD_BYTES,
    DocumentRooms,
    QuotaExceeded,
)
from collab.documents.update_scan import InvalidUpdate, state_vector_scans
from collab.model import DocumentKey, SessionRole
from collab.realtime.identity import Authenticate, SocketCredentials, capped
from collab.realtime.renewals import RenewalRelay, held_states, is_renewal
from collab.realtime.resync import RATE_LIMITED, UNAVAILABLE, Resyncs
from collab.realtime.transport import fast_events
from collab.sessions.service import SessionService
from kernel import metrics
from kernel.errors import Forbidden, ServiceError

log = logging.getLogger(__name__)

PREFIX = "/yjs|"
UNSTORED = "The update could not be stored yet; it is taken again once storage answers."
LIMITED = "Too many messages; slow down."
LIMITED_EDIT = "Too many messages; slow down. The update is taken again in a moment."
# What an edit is refused with while its socket waits to be asked (collab.realtime.resync).
WAITING = {UNAVAILABLE: UNSTORED, RATE_LIMITED: LIMITED_EDIT}

# Document namespaces are connected over an Engine.IO connection, as many as a client asks
# for, out of the handshake limit's sight; each loads a room, costs the connect's database
# queries and may hold MAX_CLIENTS_PER_SOCKET awareness states of up to 16 KiB. The
# y-socket.io client (and so the browser IDE) opens a connection of its own for each
# document, so one connection holds at most MAX_DOCUMENTS_PER_CONNECTION document sockets
# and connects at most CONNECT_BURST namespaces (`/` included) at once, CONNECTS_PER_SECOND
# after that (refused `too_many_documents`, `rate_limited`): the handshake limit per
# address then bounds them.
MAX_DOCUMENTS_PER_CONNECTION = 16
CONNECT_BURST = MAX_DOCUMENTS_PER_CONNECTION + 4
CONNECTS_PER_SECOND = 2.0
_CONNECTS = "collab.namespace_connects"  # the connection's budget, in its environ


def connect_allowed(environ: dict[str, Any]) -> bool:
    """Take one namespace connect from its Engine.IO connection's budget (the budget lives
    in the connection's environ, which python-socketio keeps as long as the connection)."""
    connects = environ.get(_CONNECTS)
    if not isinstance(connects, TokenBucket):
        connects = environ[_CONNECTS] = TokenBucket(CONNECTS_PER_SECOND, CONNECT_BURST)
    return connects.take()


def parse_namespace(namespace: str) -> tuple[uuid.UUID, str] | None:
    """`/yjs|{session_id}/{path}` → (session id, normalised path)."""
    if not namespace.startswith(PREFIX):
        return None
    session, _, path = namespace[len(PREFIX) :].partition("/")
    try:
        return uuid.UUID(session), normalise_path(path)
    except (ValueError, InvalidPath):
        return None


class DocumentSync:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        rooms: DocumentRooms,
        sessions: SessionService,
        authenticate: Authenticate,
        *,
        max_message_bytes: int,
        messages_per_second: float,
        bytes_per_second: int,
    ) -> None:
        self.sio = sio
        self._max_bytes = max_message_bytes
        self._rate = messages_per_second
        self._byte_rate = bytes_per_second
        self._sockets: dict[str, tuple[DocumentRoom, Member]] = {}
        # Engine.IO sid → its document sockets, connected or connecting.
        self._held: dict[str, int] = {}
        self.credentials = SocketCredentials()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.rooms = rooms
        self.sessions = sessions
        self.authenticate = authenticate
        self.resyncs = Resyncs(self._ask_for_diff)
        self.renewals = RenewalRelay(
            lambda room, update: self.rooms.relay_awareness(room, update, None)
        )
        sio.on("connect", self._connect, namespace="*")
        sio.on("disconnect", self._disconnect, namespace="*")
        sio.on("sync-step-1", self._client_sync_step_1, namespace="*")
        sio.on("sync-update", self._sync_update, namespace="*")
        sio.on("awareness-update", self._awareness_update, namespace="*")
        # The same two handlers, for these events read straight off WebSockets.
        fast_events(
            sio, {"sync-update": self._sync_update, "awareness-update": self._awareness_update}
        )

    # -- connection --------------------------------------------------------------------------

    async def _connect(self, namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        parsed = parse_namespace(namespace)
        if parsed is None:
            raise socketio.exceptions.ConnectionRefusedError("not_found")
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
        if self._held.get(eio_sid, 0) >= MAX_DOCUMENTS_PER_CONNECTION:
            raise socketio.exceptions.ConnectionRefusedError("too_many_documents")
        if not connect_allowed(environ):
            raise socketio.exceptions.ConnectionRefusedError(RATE_LIMITED)
        # Taken now, given back if this connect is refused, else when the socket goes
        # (`_forget`, `_disconnect`).
        self._held[eio_sid] = self._held.get(eio_sid, 0) + 1
        try:
            session_id, path = parsed
            token = auth.get("token") if isinstance(auth, dict) else None
            try:
                user = await self.authenticate(token if isinstance(token, str) else "")
            except ServiceError:
                raise socketio.exceptions.ConnectionRefusedError("unauthorized") from None
            if not user.has_scope("read"):  # a key for deploying or administering only
                raise socketio.exceptions.ConnectionRefusedError("forbidden")
            role = await self._role_of(session_id, user.user_id)
            if role is None:
                raise socketio.exceptions.ConnectionRefusedError("forbidden")
            room = await self.rooms.open(await self.sessions.document_key(session_id, path))
        except BaseException:
            self._release(eio_sid)
            raise
        member = Member(
            sid,
            eio_sid,
            namespace,
            session_id,
            user.user_id,
            user.username,
            capped(role, user),
            limiter=TokenBucket(self._rate, self._rate * 2),
            byte_budget=TokenBucket(self._byte_rate, 2 * max(self._max_bytes, self._byte_rate)),
        )
        room.add(member)
        self._sockets[sid] = (room, member)
        # A role change published while this socket was being set up found no socket to
        # update: read the role again now that later changes will reach it.
        # No disconnect event follows a refused connect: forget the socket here.
        try:
            fresh = await self._role_of(session_id, user.user_id)
        except BaseException:
            self._forget(sid, room)
            raise
        if fresh is None:
            self._forget(sid, room)
            raise socketio.exceptions.ConnectionRefusedError("forbidden")
        member.role = capped(fresh, user)
        self.credentials.remember(sid, namespace, user)
        # Runs once the CONNECT packet is queued: events sent before it would be dropped.
        self._spawn(self._start_sync(room, member))

    async def _role_of(self, session_id: uuid.UUID, user_id: uuid.UUID) -> SessionRole | None:
        """The socket's role; a refusal with a reason (a workspace that requires two-factor
        login: `mfa_required`) becomes the connect_error's message."""
        try:
            return await self.sessions.role_of(session_id, user_id)
        except Forbidden as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.code) from None

    def _release(self, eio_sid: str) -> None:
        held = self._held.get(eio_sid, 0) - 1
        if held > 0:
            self._held[eio_sid] = held
        else:
            self._held.pop(eio_sid, None)

    def _forget(self, sid: str, room: DocumentRoom) -> None:
        entry = self._sockets.pop(sid, None)
        if entry is not None:
            self._release(entry[1].eio_sid)
        self.credentials.forget(sid)
        self.resyncs.forget(sid)
        room.remove(sid)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_sync(self, room: DocumentRoom, member: Member) -> None:
        await self.sio.emit(
            "sync-step-1",
            room.state_vector(),
            to=member.sid,
            namespace=member.namespace,
            callback=functools.partial(self._client_diff, member.sid),
            ignore_queue=True,
        )
        if room.awareness:
            await self.sio.emit(
                "awareness-update",
                room.awareness_snapshot(),
                to=member.sid,
                namespace=member.namespace,
                ignore_queue=True,
            )

    async def _disconnect(self, namespace: str, sid: str, *reason: Any) -> None:
        entry = self._sockets.pop(sid, None)
        self.credentials.forget(sid)
        self.resyncs.forget(sid)
        if entry is None:
            return
        room, member = entry
        self._release(member.eio_sid)
        removal = room.remove(sid)
        if removal is not None:
            await self.rooms.relay_awareness(room, removal, None)

    # -- incoming ------------------------------------------------------------------------------

    async def _refuse(self, sid: str, namespace: str, code: str, message: str) -> None:
        metrics.update_refused(code)
        await self.sio.emit(
            "sync-error",
            {"code": code, "message": message},
            to=sid,
            namespace=namespace,
            ignore_queue=True,
        )

    async def _admit(
        self, sid: str, namespace: str, data: Any, *, edit: bool = False
    ) -> tuple[DocumentRoom, Member, bytes] | None:
        """The socket's room and member if this message may proceed; refuse it otherwise.
        `edit`: a `sync-update`, which its author keeps even when refused over the budget."""
        entry = self._sockets.get(sid)
        if entry is None:
            return None
        room, member = entry
        if not isinstance(data, bytes | bytearray):
            await self._refuse(sid, namespace, "invalid_update", "Expected binary data.")
            return None
        if len(data) > self._max_bytes:
            await self._refuse(
                sid, namespace, "too_large", f"Messages are limited to {self._max_bytes} bytes."
            )
            return None
        if not member.limiter.take() or not member.byte_budget.take(len(data)):
            if edit and member.role.can_write:
                if self.resyncs.asked(sid):
                    return None  # its answer carries this edit
                # Later edits continue this one: ask for it back (collab.realtime.resync).
                taken_back = self.resyncs.limited(sid)
                await self._refuse(
                    sid, namespace, RATE_LIMITED, LIMITED_EDIT if taken_back else LIMITED
                )
            else:
                await self._refuse(sid, namespace, RATE_LIMITED, LIMITED)
            return None
        return room, member, bytes(data)

    async def _write(
        self,
        sid: str,
        namespace: str,
        room: DocumentRoom,
        member: Member,
        update: bytes,
        *,
        live: bool = True,
    ) -> str | None:
        """`live`: a `sync-update`; otherwise the client's reconnect diff, which may carry
        other people's changes and so claims no Yjs client id for this member. Returns the
        code it was refused with, if it was."""
        if not member.role.can_write:
            await self._refuse(sid, namespace, "read_only", "Viewers cannot edit this file.")
            return "read_only"
        try:
            await self.rooms.submit(room, update, sid, member.user_id, claims=live)
            self.resyncs.stored(sid)
            return None
        except InvalidUpdate as exc:
            await self._refuse(sid, namespace, "invalid_update", f"That update was refused: {exc}.")
            return "invalid_update"
        except QuotaExceeded as exc:
            await self._refuse(
                sid, namespace, "quota_exceeded", f"The file was not created: {exc}."
            )
            return "quota_exceeded"
        except Exception:
            log.exception("could not store an update for %s", room.key)
            await self._refuse(sid, namespace, UNAVAILABLE, UNSTORED)
            self.resyncs.refused(sid)  # taken back once storage answers: collab.realtime.resync
            return "unavailable"

    async def _ask_for_diff(self, sid: str) -> bool:
        entry = self._sockets.get(sid)
        if entry is None:
            return False
        room, member = entry
        await self.sio.emit(
            "sync-step-1",
            room.state_vector(),
            to=sid,
            namespace=member.namespace,
            callback=functools.partial(self._resync_answer, sid),
            ignore_queue=True,
        )
        return True

    async def _resync_answer(self, sid: str, data: Any = None, *_extra: Any) -> None:
        asked = self.resyncs.answered(sid)  # what the socket's edits had been refused with
        refused = await self._client_diff(sid, data)
        if asked is not None and refused not in (None, UNAVAILABLE):
            # Asked again later, a few times at most; over the byte budget: once it refilled.
            self.resyncs.unusable(sid, RATE_LIMITED if refused == RATE_LIMITED else asked)

    async def _sync_update(self, namespace: str, sid: str, data: Any = None, *_extra: Any) -> None:
        admitted = await self._admit(sid, namespace, data, edit=True)
        if admitted is None:
            return
        if self.resyncs.pending(sid) and admitted[1].role.can_write:
            # It continues a refused edit; the socket's diff will carry it.
            code = self.resyncs.waiting(sid)
            if code is not None:
                await self._refuse(sid, namespace, code, WAITING[code])
            return
        await self._write(sid, namespace, *admitted)

    async def _client_diff(self, sid: str, data: Any = None, *_extra: Any) -> str | None:
        """The client's answer to our sync-step-1: what it has that we do not. Returns the
        code it was refused with, if it was."""
        entry = self._sockets.get(sid)
        if entry is None or not isinstance(data, bytes | bytearray) or len(data) <= 2:
            return None  # an empty Yjs update is two zero bytes
        room, member = entry
        if not member.role.can_write:
            return None  # a viewer's local edits are not taken
        if len(data) > self._max_bytes:
            await self._refuse(
                sid,
                member.namespace,
                "too_large",
                f"Updates are limited to {self._max_bytes} bytes",
            )
            return "too_large"
        if not member.byte_budget.take(len(data)):
            await self._refuse(sid, member.namespace, RATE_LIMITED, "Too much data; slow down.")
            return RATE_LIMITED
        return await self._write(sid, member.namespace, room, member, bytes(data), live=False)

    async def _client_sync_step_1(
        self, namespace: str, sid: str, data: Any = None, *_extra: Any
    ) -> bytes:
        """Our diff against the client's state vector. Checked as every document message is
        (size cap, message and byte budgets: scanning a state vector costs time in
        proportion to its size); a refused one is answered with an empty update and a
        `sync-error`. A big one is scanned off the event loop, as big updates are."""
        entry = self._sockets.get(sid)
        if entry is None:
            return EMPTY_UPDATE
        room, member = entry
        state_vector = bytes(data) if isinstance(data, bytes | bytearray) else b""
        if len(state_vector) > self._max_bytes:
            await self._refuse(
                sid, namespace, "too_large", f"Messages are limited to {self._max_bytes} bytes."
            )
            return EMPTY_UPDATE
        if not member.limiter.take() or not member.byte_budget.take(len(state_vector)):
            await self._refuse(sid, namespace, RATE_LIMITED, LIMITED)
            return EMPTY_UPDATE
        if len(state_vector) < SCAN_IN_THREAD_BYTES:
            return room.diff_since(state_vector)
        scans = await asyncio.to_thread(state_vector_scans, state_vector)
        return room.diff_since(state_vector if scans else b"", scanned=True)

    async def _awareness_update(
        self, namespace: str, sid: str, data: Any = None, *_extra: Any
    ) -> None:
        admitted = await self._admit(sid, namespace, data)
        if admitted is None:
            return
        room, member, update = admitted
        before = held_states(room, member)
        try:
            stamped = room.accept_awareness(update, member)
        except MalformedAwareness as exc:
            await self._refuse(
                sid, namespace, "invalid_update", f"That awareness update was refused: {exc}."
            )
            return
        if stamped is None:
            return  # only echoes of what everyone has
        if is_renewal(stamped, before):
            self.renewals.defer(room, stamped)  # relayed with the room's others, soon
        else:
            await self.rooms.relay_awareness(room, stamped, sid)

    # -- changes from the session service ------------------------------------------------

    def sockets_of(
        self, session_id: uuid.UUID, user_id: uuid.UUID | None
    ) -> list[tuple[str, Member]]:
        return [
            (sid, member)
            for sid, (_, member) in self._sockets.items()
            if member.session_id == session_id and (user_id is None or member.user_id == user_id)
        ]

    def set_role(self, session_id: uuid.UUID, user_id: uuid.UUID, role: SessionRole) -> None:
        for sid, member in self.sockets_of(session_id, user_id):
            member.role = self.credentials.cap(sid, role)

    async def disconnect(self, session_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
        for sid, member in self.sockets_of(session_id, user_id):
            await self.sio.disconnect(sid, namespace=member.namespace)

    async def close_document(self, key: DocumentKey) -> None:
        for sid, (room, member) in list(self._sockets.items()):
            if room.key == key:
                await self.sio.disconnect(sid, namespace=member.namespace)
        self.rooms.forget(key)

    async def drop_user(self, user_id: uuid.UUID) -> None:
        for sid, (_, member) in list(self._sockets.items()):
            if member.user_id == user_id:
                await self.sio.disconnect(sid, namespace=member.namespace)

    async def drop_credential(self, credential_id: uuid.UUID) -> None:
        """Close the sockets opened with one login or API key (it was ended)."""
        for sid, namespace in self.credentials.opened_with(credential_id):
            await self.sio.disconnect(sid, namespace=namespace)

    async def close(self) -> None:
        await self.resyncs.close()
        await self.renewals.close()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
