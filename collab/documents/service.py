"""Reading a session's files: what exists, how big, and the current text."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from collab.documents.rooms import DocumentRooms
from collab.documents.store import DocumentKey, DocumentStore


class DocumentService:
    def __init__(self, pool: asyncpg.Pool, store: DocumentStore, rooms: DocumentRooms) -> None:
        self._pool = pool
        self._store = store
        self.rooms = rooms

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
