"""The workspace document as clients and the server see it.

Clients read it (workspace members) and change `settings`, `environment`, `deployment`,
`git`, `collaboration`, `tags` and `name` (owners and admins); each named part is replaced
whole. The server keeps `files` (from the CRDT documents of the workspace's sessions) and
`analytics` (edits, active minutes, sessions, deployments).

It lives and dies with its workspace (`WorkspaceLifecycle`); `repair` restores the pairing
after a failure between the two writes: a workspace without a document gets a fresh one,
a document without a workspace is removed.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import asyncpg

from auth.roles import Role
from auth.workspaces import WorkspaceAccess
from collab.workspace_documents.parts import (
    SecretBox,
    parse_patch,
    render_environment,
    store_environment,
)
from collab.workspace_documents.store import (
    DuplicateDocument,
    WorkspaceDocumentStore,
    new_document,
)
from kernel.audit import AuditEntry, AuditLog
from kernel.context import Actor
from kernel.errors import NotFound

log = logging.getLogger(__name__)

LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".jsx": "javascript",
    ".html": "html",
    ".css": "css",
    ".json": "json",
    ".md": "markdown",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".rb": "ruby",
    ".sh": "shell",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".toml": "toml",
    ".sql": "sql",
}


def language_of(path: str) -> str:
    return LANGUAGES.get(PurePosixPath(path).suffix.lower(), "plaintext")


class WorkspaceDocuments:
    def __init__(
        self,
        store: WorkspaceDocumentStore,
        box: SecretBox,
        workspaces: WorkspaceAccess,
        audit: AuditLog,
        pool: asyncpg.Pool,
    ) -> None:
        self.store = store
        self._box = box
        self._workspaces = workspaces
        self._audit = audit
        self._pool = pool

    # -- lifecycle (called by the workspace service) ---------------------------------------

    async def created(self, ws_id: uuid.UUID, owner_id: uuid.UUID, name: str) -> None:
        with contextlib.suppress(DuplicateDocument):  # a retried creation already made it
            await self.store.create(new_document(ws_id, owner_id, name))

    async def renamed(self, ws_id: uuid.UUID, name: str) -> None:
        await self.store.set_parts(ws_id, {"name": name})

    async def deleted(self, ws_id: uuid.UUID) -> None:
        await self.store.delete(ws_id)

    async def repair(self) -> tuple[int, int]:
        """Pair every workspace with exactly one document; return (created, removed)."""
        workspaces = await self._workspaces.names()
        documents = await self.store.ws_ids()
        made = 0
        for ws_id in workspaces.keys() - documents:
            owner_id, name = workspaces[ws_id]
            await self.created(ws_id, owner_id, name)
            made += 1
        orphans = documents - workspaces.keys()
        for ws_id in orphans:
            await self.store.delete(ws_id)
        if made or orphans:
            log.warning(
                "workspace documents repaired: %d created, %d orphans removed", made, len(orphans)
            )
        return made, len(orphans)

    # -- clients -----------------------------------------------------------------------------

    def _render(self, document: dict[str, Any]) -> dict[str, Any]:
        return {**document, "environment": render_environment(document.get("environment", {}))}

    async def _document(self, ws_id: uuid.UUID) -> dict[str, Any]:
        document = await self.store.get(ws_id)
        if document is None:
            # The pairing was broken (e.g. the store was down during creation): mend it now.
            workspace = await self._workspaces.name(ws_id)
            if workspace is None:
                raise NotFound("No such workspace.")
            await self.created(ws_id, *workspace)
            document = await self.store.get(ws_id)
            assert document is not None
        return document

    async def read(self, actor: Actor, ws_id: uuid.UUID) -> dict[str, Any]:
        await self._workspaces.require(self._pool, actor, ws_id, Role.VIEWER)
        await self._workspaces.check_mfa(ws_id, actor.user_id)
        return self._render(await self._document(ws_id))

    async def change(self, actor: Actor, ws_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
        await self._workspaces.require(self._pool, actor, ws_id, Role.ADMIN)
        await self._workspaces.check_mfa(ws_id, actor.user_id)
        patch = parse_patch(body)
        current = await self._document(ws_id)
        parts: dict[str, Any] = patch.model_dump(exclude_unset=True, exclude={"environment"})
        parts = {k: v for k, v in parts.items() if not (k == "name" and v is None)}
        if patch.environment is not None:
            parts["environment"] = store_environment(
                patch.environment, current.get("environment", {}), self._box
            )
        if parts:
            await self._store_audited(actor, ws_id, parts, current)
        return self._render(await self._document(ws_id))

    async def _store_audited(
        self, actor: Actor, ws_id: uuid.UUID, parts: dict[str, Any], current: dict[str, Any]
    ) -> None:
        """Store a change with its audit entry, both or neither.

        One PostgreSQL transaction holds the rename, the audit entry and, last, the document
        write. With the PostgreSQL backend the write joins that transaction. With MongoDB
        it cannot, so it goes last: if it fails, the transaction rolls back and nothing is
        audited or renamed; only a failure of the commit itself, after MongoDB accepted the
        write, could leave a change unaudited. (Writing MongoDB first and compensating
        would instead race with concurrent changes to the same parts.)
        """

        def shown(part: str, value: Any) -> Any:
            return render_environment(value or {}) if part == "environment" else value

        entry = AuditEntry(
            "workspace.document_updated",
            actor.user_id,
            ws_id,
            "workspace_document",
            str(ws_id),
            old_value={k: shown(k, current.get(k)) for k in parts},
            new_value={k: shown(k, v) for k, v in parts.items()},
        )
        async with self._pool.acquire() as conn, conn.transaction():
            if "name" in parts:
                await self._workspaces.rename(conn, ws_id, parts["name"])
            await self._audit.record(conn, entry, actor.client)
            await self.store.set_parts(ws_id, parts, within=conn)

    # -- what the server keeps ---------------------------------------------------------------

    async def files_changed(self, ws_id: uuid.UUID, sizes: dict[str, int]) -> None:
        now = datetime.now(UTC).isoformat()
        for path, size in sizes.items():
            await self.store.put_file(
                ws_id,
                {"path": path, "language": language_of(path), "size": size, "updated_at": now},
            )

    async def file_removed(self, ws_id: uuid.UUID, path: str) -> None:
        await self.store.remove_file(ws_id, path)

    async def count(self, ws_id: uuid.UUID, counters: dict[str, int]) -> None:
        await self.store.increment(ws_id, counters)
