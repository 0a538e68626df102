"""A session's files: what exists, how big, the current text; deleting and renaming.

Deleting or renaming first closes every open connection to the file on every process (so
no edit lands on the old name), then changes storage, then tells the session's members
(`file:deleted`, `file:renamed`).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from auth.audit import AuditEntry, AuditLog
from auth.context import Actor
from auth.errors import Conflict, NotFound
from collab.documents.rooms import DocumentRooms
from collab.documents.store import DocumentKey, DocumentStore
from collab.sessions.events import SessionEvents


class DocumentService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: DocumentStore,
        rooms: DocumentRooms,
        events: SessionEvents,
        audit: AuditLog,
    ) -> None:
        self._pool = pool
        self._store = store
        self.rooms = rooms
        self._events = events
        self._audit = audit

    async def files(self, session_id: uuid.UUID) -> list[dict[str, Any]]:
        files = await self._store.files(self._pool, session_id)
        result = []
        for info in files:
            room = self.rooms.loaded(DocumentKey(session_id, info.path))
            size = room.size() if room is not None else info.size  # memory is newest
            result.append(
                {"path": info.path, "size": size, "updated_at": info.updated_at.isoformat()}
            )
        return result

    async def text(self, key: DocumentKey) -> str | None:
        return await self.rooms.text(key)

    async def delete(self, actor: Actor, key: DocumentKey) -> None:
        if await self.rooms.text(key) is None:
            raise NotFound("No such file.")
        await self._events.file_gone(key.session_id, key.path)
        if not await self._store.delete(self._pool, key):
            raise NotFound("No such file.")
        await self._audit.record(
            self._pool,
            AuditEntry(
                "file.deleted",
                actor.user_id,
                None,
                "session",
                str(key.session_id),
                old_value={"path": key.path},
            ),
            actor.client,
        )
        await self._events.emit(key.session_id, "file:deleted", {"path": key.path})

    async def rename(self, actor: Actor, key: DocumentKey, new_path: str) -> dict[str, Any]:
        target = DocumentKey(key.session_id, new_path)
        if new_path == key.path:
            raise Conflict("The file already has that name.")
        if await self.rooms.text(key) is None:
            raise NotFound("No such file.")
        if await self.rooms.text(target) is not None:
            raise Conflict(f"{new_path} already exists.")
        await self._events.file_gone(key.session_id, key.path)
        try:
            moved = await self._store.rename(self._pool, key, new_path)
        except asyncpg.UniqueViolationError:
            raise Conflict(f"{new_path} already exists.") from None
        if not moved:
            raise NotFound("No such file.")
        await self._audit.record(
            self._pool,
            AuditEntry(
                "file.renamed",
                actor.user_id,
                None,
                "session",
                str(key.session_id),
                old_value={"path": key.path},
                new_value={"path": new_path},
            ),
            actor.client,
        )
        await self._events.emit(key.session_id, "file:renamed", {"from": key.path, "to": new_path})
        return {"path": new_path}
