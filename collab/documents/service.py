"""A session's files: what exists, how big, the current text; deleting and renaming.

Deleting or renaming first closes every open connection to the file on every process (so
no edit lands on the old name), then changes storage, then tells the session's members
(`file:deleted`, `file:renamed`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg

from collab.documents.rooms import DocumentRooms
from collab.documents.store import DocumentStore
from collab.model import DocumentKey
from kernel.audit import AuditEntry, AuditLog
from kernel.context import Actor
from kernel.errors import Conflict, NotFound

# Tell the members of every session that sees this document (event, payload).
Announce = Callable[[DocumentKey, str, dict[str, Any]], Awaitable[None]]
# Close every open connection to this file, on every process (before a rename/delete).
CloseEverywhere = Callable[[DocumentKey], Awaitable[None]]


class WorkspaceFiles(Protocol):
    async def files_changed(self, ws_id: uuid.UUID, sizes: dict[str, int]) -> None: ...

    async def file_removed(self, ws_id: uuid.UUID, path: str) -> None: ...


class DocumentService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: DocumentStore,
        rooms: DocumentRooms,
        announce: Announce,
        close_everywhere: CloseEverywhere,
        audit: AuditLog,
        workspace_documents: WorkspaceFiles,
    ) -> None:
        self._pool = pool
        self._store = store
        self.rooms = rooms
        self.announce = announce
        self._close_everywhere = close_everywhere
        self._audit = audit
        self._workspace_documents = workspace_documents

    async def files(self, scope: DocumentKey) -> list[dict[str, Any]]:
        """Every file in the scope (a session, or a workspace): path, size, updated_at."""
        files = await self._store.files(self._pool, scope.scope_id)
        result = []
        for info in files:
            key = DocumentKey(scope.scope_id, info.path, scope.in_workspace)
            room = self.rooms.loaded(key)
            size = room.size() if room is not None else info.size  # memory is newest
            result.append(
                {"path": info.path, "size": size, "updated_at": info.updated_at.isoformat()}
            )
        return result

    async def text(self, key: DocumentKey) -> str | None:
        return await self.rooms.text(key)

    async def _audit_file(self, actor: Actor, action: str, key: DocumentKey, **values: Any) -> None:
        await self._audit.record(
            self._pool,
            AuditEntry(
                action,
                actor.user_id,
                key.scope_id if key.in_workspace else None,
                "workspace" if key.in_workspace else "session",
                str(key.scope_id),
                **values,
            ),
            actor.client,
        )

    async def delete(self, actor: Actor, key: DocumentKey) -> None:
        if await self.rooms.text(key) is None:
            raise NotFound("No such file.")
        await self._close_everywhere(key)
        if not await self._store.delete(self._pool, key):
            raise NotFound("No such file.")
        await self._audit_file(actor, "file.deleted", key, old_value={"path": key.path})
        if key.in_workspace:
            await self._workspace_documents.file_removed(key.scope_id, key.path)
        await self.announce(key, "file:deleted", {"path": key.path})

    async def rename(self, actor: Actor, key: DocumentKey, new_path: str) -> dict[str, Any]:
        target = DocumentKey(key.scope_id, new_path, key.in_workspace)
        if new_path == key.path:
            raise Conflict("The file already has that name.")
        if await self.rooms.text(key) is None:
            raise NotFound("No such file.")
        if await self.rooms.text(target) is not None:
            raise Conflict(f"{new_path} already exists.")
        await self._close_everywhere(key)
        try:
            moved = await self._store.rename(self._pool, key, new_path)
        except asyncpg.UniqueViolationError:
            raise Conflict(f"{new_path} already exists.") from None
        if not moved:
            raise NotFound("No such file.")
        await self._audit_file(
            actor, "file.renamed", key, old_value={"path": key.path}, new_value={"path": new_path}
        )
        if key.in_workspace:
            size = await self._store.files(self._pool, key.scope_id)
            sizes = {f.path: f.size for f in size if f.path == new_path}
            await self._workspace_documents.file_removed(key.scope_id, key.path)
            await self._workspace_documents.files_changed(key.scope_id, sizes)
        await self.announce(key, "file:renamed", {"from": key.path, "to": new_path})
        return {"path": new_path}
