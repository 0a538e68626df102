"""Where a session's files live, and which sessions see a document: the questions documents
and deployments ask of sessions. Read-only, so the composition root builds it before them
(and before the session service, which follows what they do)."""

from __future__ import annotations

import uuid

import asyncpg

from collab.model import DocumentKey
from collab.sessions.store import SessionStore


class SessionScopes:
    def __init__(self, pool: asyncpg.Pool, store: SessionStore) -> None:
        self._pool = pool
        self._store = store

    async def document_key(self, session_id: uuid.UUID, path: str = "") -> DocumentKey:
        """Where a session's file lives: the session's own, or its workspace's."""
        ws_id = await self._store.ws_id_of(self._pool, session_id)
        if ws_id is not None:
            return DocumentKey(ws_id, path, in_workspace=True)
        return DocumentKey(session_id, path)

    async def sessions_sharing(self, key: DocumentKey) -> list[uuid.UUID]:
        """The sessions whose members see this document."""
        if not key.in_workspace:
            return [key.scope_id]
        return await self._store.of_workspace(self._pool, key.scope_id)
