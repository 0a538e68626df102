"""Where a session's files live, which sessions see a document, which are dynamic or have
someone present: the questions documents and deployments ask of sessions. Read-only, so the
composition root builds it before them (and before the session service, which follows what
they do)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

import asyncpg

from collab.model import DocumentKey, SessionRole
from collab.sessions.participants import People
from collab.sessions.store import SessionStore


class SessionScopes:
    def __init__(self, pool: asyncpg.Pool, store: SessionStore, people: People) -> None:
        self._pool = pool
        self._store = store
        self._people = people

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

    async def dynamic(self, session_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Those of these sessions whose edits go into their running containers."""
        if not session_ids:
            return set()
        return await self._store.dynamic(self._pool, list(session_ids))

    async def with_presence(
        self, session_ids: Collection[uuid.UUID], within_seconds: float
    ) -> set[uuid.UUID]:
        """Those of these sessions where a participant was present within the last seconds."""
        if not session_ids:
            return set()
        return await self._store.recently_active(self._pool, list(session_ids), within_seconds)

    async def viewer(self, session_id: uuid.UUID, user_id: uuid.UUID) -> tuple[str, str] | None:
        """Who someone looking at a deployment of the session is: their email, and the role
        their participant row grants (viewer without one); None when the account is gone."""
        profile = (await self._people.profiles(self._pool, [user_id])).get(user_id)
        if profile is None:
            return None
        role = await self._store.participant_role(self._pool, session_id, user_id)
        return profile.email, role or SessionRole.VIEWER.value
