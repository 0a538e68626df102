"""`document_versions`: a file's earlier texts (see migration 0014_document_versions).

Rows are keyed by the document (scope, path) and follow it: deleted with the file, moved
with a rename. Retention keeps the newest `keep` automatic versions (compactions and
pre-restore copies) and, separately, the newest `keep` named checkpoints of each file.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from collab.model import DocumentKey
from kernel.sql import Executor

Kind = Literal["compaction", "checkpoint", "restore"]


@dataclass(frozen=True)
class NewVersion:
    kind: Kind
    text: str
    state_vector: bytes
    authors: list[uuid.UUID]
    name: str | None = None
    created_by: uuid.UUID | None = None


@dataclass(frozen=True)
class VersionInfo:
    version_id: uuid.UUID
    kind: Kind
    name: str | None
    created_at: datetime
    size: int
    authors: list[uuid.UUID]  # people by id (their names are auth's: see versions.py)
    created_by: uuid.UUID | None


@dataclass(frozen=True)
class Latest:
    text: str
    state_vector: bytes


_INFO = """SELECT v.version_id, v.kind, v.name, v.created_at, v.size, v.created_by, v.authors
           FROM document_versions v"""


def _info(row: asyncpg.Record) -> VersionInfo:
    return VersionInfo(
        row["version_id"],
        row["kind"],
        row["name"],
        row["created_at"],
        row["size"],
        list(row["authors"]),
        row["created_by"],
    )


class VersionStore:
    async def add(self, db: Executor, key: DocumentKey, version: NewVersion) -> uuid.UUID | None:
        """Keep a version; None when the file's row is gone (deleted meanwhile)."""
        try:
            version_id: uuid.UUID = await db.fetchval(
                """INSERT INTO document_versions
                       (scope_id, path, kind, name, text, size, state_vector, authors, created_by)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING version_id""",
                key.scope_id,
                key.path,
                version.kind,
                version.name,
                version.text,
                len(version.text.encode()),
                version.state_vector,
                sorted(set(version.authors)),
                version.created_by,
            )
        except asyncpg.ForeignKeyViolationError:
            return None
        return version_id

    async def latest(self, db: Executor, key: DocumentKey) -> Latest | None:
        row = await db.fetchrow(
            """SELECT text, state_vector FROM document_versions
               WHERE scope_id = $1 AND path = $2 ORDER BY created_at DESC LIMIT 1""",
            key.scope_id,
            key.path,
        )
        return Latest(row["text"], bytes(row["state_vector"])) if row else None

    async def of_file(self, db: Executor, key: DocumentKey) -> list[VersionInfo]:
        rows = await db.fetch(
            _INFO + " WHERE v.scope_id = $1 AND v.path = $2 ORDER BY v.created_at DESC",
            key.scope_id,
            key.path,
        )
        return [_info(r) for r in rows]

    async def get(
        self, db: Executor, key: DocumentKey, version_id: uuid.UUID
    ) -> VersionInfo | None:
        row = await db.fetchrow(
            _INFO + " WHERE v.scope_id = $1 AND v.path = $2 AND v.version_id = $3",
            key.scope_id,
            key.path,
            version_id,
        )
        return _info(row) if row else None

    async def text(self, db: Executor, key: DocumentKey, version_id: uuid.UUID) -> str | None:
        text: str | None = await db.fetchval(
            """SELECT text FROM document_versions
               WHERE scope_id = $1 AND path = $2 AND version_id = $3""",
            key.scope_id,
            key.path,
            version_id,
        )
        return text

    async def prune(self, db: Executor, key: DocumentKey, keep: int) -> int:
        """Delete what retention no longer keeps; return how many versions went."""
        deleted = await db.fetch(
            """DELETE FROM document_versions WHERE version_id IN (
                   SELECT version_id FROM (
                       SELECT version_id, row_number() OVER (
                           PARTITION BY kind = 'checkpoint' ORDER BY created_at DESC
                       ) AS n
                       FROM document_versions WHERE scope_id = $1 AND path = $2
                   ) ranked WHERE n > $3
               ) RETURNING version_id""",
            key.scope_id,
            key.path,
            keep,
        )
        return len(deleted)
