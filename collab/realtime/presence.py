"""Presence on the `/` namespace: `session:join` / `session:leave` and the events members see.

A user counts as present in a session while any of their sockets, on any server process,
has joined it: the count lives in Redis, and `participant:joined` / `participant:left` go
out when it goes from 0 to 1 and back. `/` events reach every process through
python-socketio's Redis manager.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import socketio
from redis.asyncio import Redis

from collab.documents.room import TokenBucket
from collab.documents.store import DocumentStore
from collab.sessions.service import SessionService
from kernel.errors import Forbidden

PRESENCE_KEY = "collab:presence:{}"
# `session:join` costs a handful of database queries: a socket's joins are budgeted, as
# every document message and terminal event is. A page joins its session once, and again
# to check its access when the server closes one of its files (the burst covers a page
# whose every tab was closed at once).
JOIN_BURST = 30
JOINS_PER_SECOND = 5.0


def room_of(session_id: uuid.UUID) -> str:
    return f"session:{session_id}"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


# A session's starting and running deployments, as clients see them.
LiveDeployments = Callable[[uuid.UUID], Awaitable[list[dict[str, Any]]]]


class Presence:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        sessions: SessionService,
        redis: Redis,
        pool: asyncpg.Pool,
        live_deployments: LiveDeployments,
    ) -> None:
        self.sio = sio
        self._joined: dict[str, set[uuid.UUID]] = defaultdict(set)
        self._joins: dict[str, TokenBucket] = {}  # per socket
        self.sessions = sessions
        self.documents = DocumentStore()
        self.redis = redis
        self.pool = pool
        self._live_deployments = live_deployments
        sio.on("session:join", self._join)
        sio.on("session:leave", self._leave)

    async def _user_id(self, sid: str) -> uuid.UUID | None:
        session = await self.sio.get_session(sid)
        user_id = session.get("user_id")
        return user_id if isinstance(user_id, uuid.UUID) else None

    @staticmethod
    def _session_id(data: Any) -> uuid.UUID | None:
        try:
            return uuid.UUID(str(data["session_id"]))
        except (TypeError, KeyError, ValueError):
            return None

    async def _join(self, sid: str, data: Any = None, *_extra: Any) -> dict[str, Any]:
        session_id, user_id = self._session_id(data), await self._user_id(sid)
        if session_id is None:
            return _error("validation_failed", "Send {session_id: <uuid>}.")
        budget = self._joins.get(sid)
        if budget is None:
            budget = self._joins[sid] = TokenBucket(JOINS_PER_SECOND, JOIN_BURST)
        if not budget.take():
            return _error("rate_limited", "Too many joins; wait a moment.")
        try:
            role = await self.sessions.role_of(session_id, user_id) if user_id else None
        except Forbidden as exc:  # e.g. a workspace that requires two-factor login
            return _error(exc.code, exc.message)
        if user_id is None or role is None:
            return _error("not_found", "No such session.")
        await self.sio.enter_room(sid, room_of(session_id))
        first_here = session_id not in self._joined[sid]
        self._joined[sid].add(session_id)
        if first_here:
            await self._arrive(session_id, user_id, sid)
        participants = await self.sessions.participants_for(session_id, user_id)
        # A workspace session's files are the workspace's.
        scope = await self.sessions.document_key(session_id)
        files = await self.documents.files(self.pool, scope.scope_id)
        return {
            "ok": True,
            "role": role.value,
            "participants": participants,
            "files": [
                {"path": f.path, "size": f.size, "updated_at": f.updated_at.isoformat()}
                for f in files
            ],
            "deployments": await self._live_deployments(session_id),
        }

    async def _arrive(self, session_id: uuid.UUID, user_id: uuid.UUID, sid: str) -> None:
        count = await self.redis.hincrby(PRESENCE_KEY.format(session_id), str(user_id), 1)
        if count == 1:
            await self.sessions.present(session_id, user_id, True)
            # Sent to every member: without the email, which only owners see.
            me = await self.sessions.seen_by_members(session_id, user_id)
            if me is not None:
                await self.sio.emit(
                    "participant:joined", me, room=room_of(session_id), skip_sid=sid
                )

    async def _depart(
        self, session_id: uuid.UUID, user_id: uuid.UUID, *, announce: bool = True
    ) -> None:
        key = PRESENCE_KEY.format(session_id)
        count = await self.redis.hincrby(key, str(user_id), -1)
        if count <= 0:
            await self.redis.hdel(key, str(user_id))
            await self.sessions.present(session_id, user_id, False)
            if announce:
                await self.sio.emit(
                    "participant:left",
                    {"user_id": str(user_id), "session_id": str(session_id)},
                    room=room_of(session_id),
                )

    async def _leave(self, sid: str, data: Any = None, *_extra: Any) -> dict[str, Any]:
        session_id, user_id = self._session_id(data), await self._user_id(sid)
        if session_id is None:
            return _error("validation_failed", "Send {session_id: <uuid>}.")
        if user_id is not None and session_id in self._joined.get(sid, set()):
            self._joined[sid].discard(session_id)
            await self.sio.leave_room(sid, room_of(session_id))
            await self._depart(session_id, user_id)
        return {"ok": True}

    async def socket_gone(self, sid: str, user_id: uuid.UUID | None) -> None:
        # A closed tab says goodbye like a `session:leave` (the last of a person's sockets).
        # Sockets evicted by a removal were taken out of `_joined` first, so nothing here
        # announces a departure twice.
        self._joins.pop(sid, None)
        for session_id in self._joined.pop(sid, set()):
            if user_id is not None:
                await self._depart(session_id, user_id)

    async def evict(self, session_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
        """Take sockets out of a session they may no longer see (removed, or it was deleted)."""
        for sid, joined in list(self._joined.items()):
            if session_id not in joined:
                continue
            if user_id is not None and await self._user_id(sid) != user_id:
                continue
            joined.discard(session_id)
            if user_id is not None:
                # The room hears of the removal after this socket has left it: tell the
                # removed person directly, so their page can say so at once.
                await self.sio.emit(
                    "participant:left",
                    {"user_id": str(user_id), "session_id": str(session_id), "removed": True},
                    to=sid,
                )
            await self.sio.leave_room(sid, room_of(session_id))
            if user_id is not None:
                # The session service already announced the removal to the others.
                await self._depart(session_id, user_id, announce=False)
