"""Stored CRDT documents in PostgreSQL: a snapshot plus the updates appended since.

A document's scope is its session, or the workspace the session was opened on (then every
session of that workspace edits the same document).

Appends from every server process go to `document_updates`; compaction merges a
document's snapshot and updates into a new snapshot and deletes what it merged, in one
transaction under an advisory lock, so concurrent appends are never lost.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import pycrdt

from collab.model import DocumentKey
from kernel.sql import Executor


@dataclass(frozen=True)
class PendingUpdate:
    key: DocumentKey
    data: bytes


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    updated_at: datetime


class DocumentStore:
    async def load(self, db: Executor, key: DocumentKey) -> list[bytes]:
        """Everything stored for the document, oldest first (empty when it does not exist)."""
        rows = await db.fetch(
            """SELECT snapshot AS data, 0 AS ord, 0::bigint AS update_id FROM documents
               WHERE scope_id = $1 AND path = $2 AND snapshot IS NOT NULL
               UNION ALL
               SELECT data, 1, update_id FROM document_updates
               WHERE scope_id = $1 AND path = $2
               ORDER BY ord, update_id""",
            key.scope_id,
            key.path,
        )
        return [bytes(r["data"]) for r in rows]

    async def append(self, db: Executor, updates: list[PendingUpdate]) -> set[DocumentKey]:
        """Store a batch atomically; return the documents it created.

        One statement, so one round trip (an explicit transaction took four: BEGIN, two
        INSERTs, COMMIT, and the commit's latency is every edit's). The updates' foreign key
        is checked at the end of the statement, after the documents' upsert."""
        keys = sorted({u.key for u in updates})
        created = await db.fetch(
            """WITH docs AS (
                   INSERT INTO documents (session_id, ws_id, path)
                   SELECT CASE WHEN w THEN NULL ELSE s END, CASE WHEN w THEN s END, p
                   FROM unnest($1::uuid[], $2::varchar[], $3::bool[]) AS x(s, p, w)
                   ON CONFLICT (scope_id, path) DO UPDATE SET updated_at = now()
                   RETURNING scope_id, path, (xmax = 0) AS created
               ), added AS (
                   INSERT INTO document_updates (scope_id, path, data)
                   SELECT * FROM unnest($4::uuid[], $5::varchar[], $6::bytea[])
               )
               SELECT scope_id, path FROM docs WHERE created""",
            [k.scope_id for k in keys],
            [k.path for k in keys],
            [k.in_workspace for k in keys],
            [u.key.scope_id for u in updates],
            [u.key.path for u in updates],
            [u.data for u in updates],
        )
        made = {(r["scope_id"], r["path"]) for r in created}
        return {k for k in keys if (k.scope_id, k.path) in made}

    async def record_sizes(self, db: Executor, sizes: dict[DocumentKey, int]) -> None:
        keys = sorted(sizes)
        await db.execute(
            """UPDATE documents d SET size = x.size
               FROM unnest($1::uuid[], $2::varchar[], $3::int[]) AS x(scope_id, path, size)
               WHERE d.scope_id = x.scope_id AND d.path = x.path""",
            [k.scope_id for k in keys],
            [k.path for k in keys],
            [sizes[k] for k in keys],
        )

    async def files(self, db: Executor, scope_id: uuid.UUID) -> list[FileInfo]:
        rows = await db.fetch(
            "SELECT path, size, updated_at FROM documents WHERE scope_id = $1 ORDER BY path",
            scope_id,
        )
        return [FileInfo(r["path"], r["size"], r["updated_at"]) for r in rows]

    async def count(self, db: Executor, scope_id: uuid.UUID) -> int:
        count: int = await db.fetchval(
            "SELECT count(*) FROM documents WHERE scope_id = $1", scope_id
        )
        return count

    async def discard(self, db: Executor, key: DocumentKey, data: bytes) -> None:
        """Take back a stored update nobody was sent (see DocumentRooms.submit)."""
        await db.execute(
            "DELETE FROM document_updates WHERE scope_id = $1 AND path = $2 AND data = $3",
            key.scope_id,
            key.path,
            data,
        )

    async def delete(self, db: Executor, key: DocumentKey) -> bool:
        deleted = await db.fetchval(
            "DELETE FROM documents WHERE scope_id = $1 AND path = $2 RETURNING true",
            key.scope_id,
            key.path,
        )
        return bool(deleted)

    async def rename(self, db: Executor, key: DocumentKey, new_path: str) -> bool:
        """Move a document (its updates follow by ON UPDATE CASCADE); False if absent."""
        moved = await db.fetchval(
            "UPDATE documents SET path = $3, updated_at = now() "
            "WHERE scope_id = $1 AND path = $2 RETURNING true",
            key.scope_id,
            key.path,
            new_path,
        )
        return bool(moved)

    async def compact(self, conn: asyncpg.Connection, key: DocumentKey) -> int:
        """Fold the updates into the snapshot; return how many updates were folded."""
        async with conn.transaction():
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext($1))", key.lock_id
            )
            if not locked:
                return 0  # another process is compacting this document
            rows = await conn.fetch(
                """SELECT update_id, data FROM document_updates
                   WHERE scope_id = $1 AND path = $2 ORDER BY update_id""",
                key.scope_id,
                key.path,
            )
            if not rows:
                return 0
            snapshot = await conn.fetchval(
                "SELECT snapshot FROM documents WHERE scope_id = $1 AND path = $2",
                key.scope_id,
                key.path,
            )
            parts = ([bytes(snapshot)] if snapshot else []) + [bytes(r["data"]) for r in rows]
            merged = pycrdt.merge_updates(*parts)
            await conn.execute(
                "UPDATE documents SET snapshot = $3 WHERE scope_id = $1 AND path = $2",
                key.scope_id,
                key.path,
                merged,
            )
            await conn.execute(
                """DELETE FROM document_updates
                   WHERE scope_id = $1 AND path = $2 AND update_id <= $3""",
                key.scope_id,
                key.path,
                rows[-1]["update_id"],
            )
            return len(rows)
