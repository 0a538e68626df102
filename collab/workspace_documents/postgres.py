"""The PostgreSQL JSONB backend: one row per workspace in `workspace_documents`.

Each operation is a single UPDATE computed from the row's current value under its row
lock (`document || $patch`, `jsonb_set` for counters and file entries), so concurrent
changes to different parts or counters never overwrite each other.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from collab.workspace_documents.store import DuplicateDocument


class PostgresWorkspaceDocuments:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def start(self) -> None:
        """The table and its key come with the migrations."""

    async def ping(self) -> None:
        await self._pool.fetchval("SELECT 1")

    async def create(self, document: dict[str, Any]) -> None:
        try:
            await self._pool.execute(
                "INSERT INTO workspace_documents (ws_id, document) VALUES ($1, $2)",
                uuid.UUID(document["ws_id"]),
                document,
            )
        except asyncpg.UniqueViolationError:
            raise DuplicateDocument(document["ws_id"]) from None

    async def get(self, ws_id: uuid.UUID) -> dict[str, Any] | None:
        document: dict[str, Any] | None = await self._pool.fetchval(
            "SELECT document FROM workspace_documents WHERE ws_id = $1", ws_id
        )
        return document

    async def set_parts(
        self,
        ws_id: uuid.UUID,
        parts: dict[str, Any],
        *,
        within: asyncpg.Connection | None = None,
    ) -> bool:
        status = await (within or self._pool).execute(
            "UPDATE workspace_documents SET document = document || $2 WHERE ws_id = $1",
            ws_id,
            parts,
        )
        return bool(status != "UPDATE 0")

    async def increment(self, ws_id: uuid.UUID, counters: dict[str, int]) -> None:
        await self._pool.execute(
            """UPDATE workspace_documents SET document = jsonb_set(document, '{analytics}',
                   coalesce(document -> 'analytics', '{}') || (
                       SELECT coalesce(jsonb_object_agg(key,
                           coalesce((document -> 'analytics' ->> key)::bigint, 0) + value::bigint),
                           '{}')
                       FROM jsonb_each_text($2::jsonb)))
               WHERE ws_id = $1""",
            ws_id,
            counters,
        )

    async def put_file(self, ws_id: uuid.UUID, entry: dict[str, Any]) -> None:
        await self._pool.execute(
            """UPDATE workspace_documents SET document = jsonb_set(document, '{files}', (
                   SELECT coalesce(jsonb_agg(f ORDER BY f ->> 'path'), '[]')
                   FROM (SELECT f FROM jsonb_array_elements(document -> 'files') f
                         WHERE f ->> 'path' <> $2::jsonb ->> 'path'
                         UNION ALL SELECT $2::jsonb) AS entries(f)))
               WHERE ws_id = $1""",
            ws_id,
            entry,
        )

    async def remove_file(self, ws_id: uuid.UUID, path: str) -> None:
        await self._pool.execute(
            """UPDATE workspace_documents SET document = jsonb_set(document, '{files}', (
                   SELECT coalesce(jsonb_agg(f), '[]')
                   FROM jsonb_array_elements(document -> 'files') f WHERE f ->> 'path' <> $2))
               WHERE ws_id = $1""",
            ws_id,
            path,
        )

    async def delete(self, ws_id: uuid.UUID) -> bool:
        status = await self._pool.execute("DELETE FROM workspace_documents WHERE ws_id = $1", ws_id)
        return bool(status != "DELETE 0")

    async def ws_ids(self) -> set[uuid.UUID]:
        rows = await self._pool.fetch("SELECT ws_id FROM workspace_documents")
        return {r["ws_id"] for r in rows}

    async def close(self) -> None:
        """The pool belongs to the application."""
