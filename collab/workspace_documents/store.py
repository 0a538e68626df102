"""The seam: what a workspace-document backend must do, atomically, per workspace.

A document is a JSON object: `ws_id`, `owner_id`, `name`, and the parts `settings`,
`files`, `environment`, `deployment`, `git`, `collaboration`, `tags`, `analytics`.
Every operation changes one document in one atomic step, so two requests changing
different parts at once never lose either change.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import asyncpg

PARTS = (
    "settings",
    "files",
    "environment",
    "deployment",
    "git",
    "collaboration",
    "tags",
    "analytics",
)


class DuplicateDocument(Exception):
    """A document for this workspace already exists (the unique index on ws_id)."""


def new_document(ws_id: uuid.UUID, owner_id: uuid.UUID, name: str) -> dict[str, Any]:
    return {
        "ws_id": str(ws_id),
        "owner_id": str(owner_id),
        "name": name,
        "settings": {},
        "files": [],
        "environment": {"variables": []},
        "deployment": {"runtime": None, "public": False},
        "git": {"remote_url": None, "branch": None},
        "collaboration": {"default_role": "editor"},
        "tags": [],
        "analytics": {"edits": 0, "active_minutes": 0, "deployments": 0, "sessions": 0},
    }


class WorkspaceDocumentStore(Protocol):
    async def start(self) -> None:
        """Prepare (e.g. the unique index on ws_id)."""

    async def ping(self) -> None:
        """Raise unless the backend answers (for /readyz)."""

    async def create(self, document: dict[str, Any]) -> None:
        """Insert; DuplicateDocument if one exists for the workspace."""

    async def get(self, ws_id: uuid.UUID) -> dict[str, Any] | None: ...

    async def set_parts(
        self,
        ws_id: uuid.UUID,
        parts: dict[str, Any],
        *,
        within: asyncpg.Connection | None = None,
    ) -> bool:
        """Replace the named top-level fields, leave the others; False if absent.

        `within` is a PostgreSQL transaction the caller is in (with the audit entry): a
        backend that lives in PostgreSQL writes in it, others write on their own.
        """

    async def increment(self, ws_id: uuid.UUID, counters: dict[str, int]) -> None:
        """Add to `analytics` counters atomically."""

    async def put_file(self, ws_id: uuid.UUID, entry: dict[str, Any]) -> None:
        """Insert or replace the `files` entry with this entry's path."""

    async def remove_file(self, ws_id: uuid.UUID, path: str) -> None: ...

    async def delete(self, ws_id: uuid.UUID) -> bool: ...

    async def ws_ids(self) -> set[uuid.UUID]:
        """Every workspace that has a document (for repair)."""

    async def close(self) -> None: ...
