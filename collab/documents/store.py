"""Stored CRDT documents in PostgreSQL: a snapshot plus the updates appended since.

A document's scope is its session, or the workspace the session was opened on (then every
session of that workspace edits the same document).

Appends from every server process go to `document_updates`; compaction folds a
document's snapshot and updates into a new snapshot and deletes exactly the rows it folded,
in one transaction under an advisory lock, so concurrent appends are never lost.

Big documents (issue #14, goal 5): rows are read through a cursor in batches, and many
updates are folded into one (`Folder`) by applying them to a document that keeps deleted
content, yielding to the event loop every few milliseconds. pycrdt holds the GIL in every
call (a worker thread would stall the loop just the same), and `pycrdt.merge_updates` grows
quadratically with the number of updates (100,000 keystrokes: ~100 s), so neither is used on
many updates. See docs/performance-big-documents.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import pycrdt

from collab.documents.update_scan import InvalidUpdate, scan_state_vector, scan_update
from collab.model import DocumentKey
from kernel.sql import Executor

log = logging.getLogger(__name__)

# Rows read per round trip (a keystroke's row is ~20 bytes; a batch decodes in ~2 ms).
FETCH_ROWS = 2000
# Updates merged before they are applied: applying 50 keystrokes merged costs about half of
# applying them one by one, while merging grows faster than linearly with the count.
MERGE_CHUNK = 50
# Work done between two yields to the event loop while folding (a merged chunk of
# keystrokes takes ~0.1 ms).
SLICE_SECONDS = 0.002
# A document with more stored updates than this is folded into one before it is handed out:
# applying and scanning it then costs one squashed update, not thousands of tiny ones.
FOLD_ABOVE = 256


EMPTY = b"\x00\x00"  # no structs, no deletions


def _deletes_beyond(update: bytes, clocks: dict[int, int]) -> bool:
    try:
        deletes = scan_update(update).deletes
    except InvalidUpdate:
        return True  # kept as it is, as merge_updates kept it
    return any(end > clocks.get(client, 0) for client, _, end in deletes)


def _runs(ids: list[int]) -> tuple[list[int], list[int]]:
    """Ascending ids as runs of consecutive integers: (first ids, last ids)."""
    starts: list[int] = []
    ends: list[int] = []
    for update_id in ids:
        if ends and update_id == ends[-1] + 1:
            ends[-1] = update_id
        else:
            starts.append(update_id)
            ends.append(update_id)
    return starts, ends


def _refused(exc: BaseException) -> bool:
    """pycrdt's errors for bytes it cannot take (a Rust panic is pyo3's PanicException)."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


class Folder:
    """Folds updates into one: applies them, in order, to a document that keeps deleted
    content (as `merge_updates` keeps it: the stored structure stays complete), yielding to
    the event loop every SLICE_SECONDS. An update that does not apply is skipped and logged,
    as a room skips it (`apply_stored`)."""

    def __init__(self, key: DocumentKey, *, keep_unplaced: bool = False) -> None:
        self.key = key
        self.doc: pycrdt.Doc[Any] = pycrdt.Doc(skip_gc=True)
        self.applied: list[bytes] = []
        self._keep = keep_unplaced
        self._slice = time.perf_counter()

    async def add(self, updates: list[bytes]) -> list[bool]:
        """Apply updates in order; return, for each, whether it applied."""
        applied: list[bool] = []
        for start in range(0, len(updates), MERGE_CHUNK):
            chunk = updates[start : start + MERGE_CHUNK]
            applied += self._apply(chunk)
            await self.pause()
        if self._keep:
            self.applied += [u for u, ok in zip(updates, applied, strict=True) if ok]
        return applied

    def _apply(self, chunk: list[bytes]) -> list[bool]:
        if len(chunk) > 1:
            try:
                self.doc.apply_update(pycrdt.merge_updates(*chunk))
                return [True] * len(chunk)
            except BaseException as exc:
                if not _refused(exc):
                    raise
                # One of them is broken: apply them one by one (a repeat is a no-op).
        applied = []
        for update in chunk:
            try:
                self.doc.apply_update(update)
                applied.append(True)
            except BaseException as exc:
                if not _refused(exc):
                    raise
                log.warning("skipping a stored update of %s that does not apply", self.key)
                applied.append(False)
        return applied

    async def pause(self) -> None:
        if time.perf_counter() - self._slice >= SLICE_SECONDS:
            await asyncio.sleep(0)
            self._slice = time.perf_counter()

    async def result(self) -> bytes:
        """The fold as one update. With `keep_unplaced`, updates yrs holds as pending (it
        cannot place them yet; a document drops those when encoding) are merged in as they
        are, as `merge_updates` kept them, so a compaction never loses one."""
        folded = self.doc.get_update()
        if not self._keep:
            return folded
        state = self.doc.get_state()
        clocks = scan_state_vector(state)
        unplaced = []
        for update in self.applied:
            # What of `update` the document lacks: structs, or deletions of items it does not
            # hold (its delete set always comes back, applied or not).
            missing = pycrdt.get_update(update, state)
            if missing[:1] != b"\x00" or (missing != EMPTY and _deletes_beyond(missing, clocks)):
                unplaced.append(update)
            await self.pause()
        if unplaced:
            log.warning("%s: %d stored updates cannot be placed yet", self.key, len(unplaced))
            folded = pycrdt.merge_updates(folded, *unplaced)
        return folded


@dataclass(frozen=True)
class Stored:
    """What is stored for a document: updates to apply in order (the snapshot and the rows,
    or one folded update), and how many rows were appended since the last compaction."""

    updates: list[bytes]
    appended: int


@dataclass(frozen=True)
class PendingUpdate:
    key: DocumentKey
    data: bytes
    # Its document row is known to exist (it was stored before): the append can skip the
    # documents upsert, a new row version and its WAL on every keystroke.
    exists: bool = False


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    updated_at: datetime


class DocumentStore:
    async def load(self, db: Executor, key: DocumentKey) -> list[bytes]:
        """Everything stored for the document, as updates to apply in order (empty when it
        does not exist; one folded update when many are stored)."""
        return (await self.read(db, key)).updates

    async def read(self, db: Executor, key: DocumentKey) -> Stored:
        """Read the snapshot and the rows in batches from one cursor (one consistent view);
        beyond FOLD_ABOVE rows, fold them as they arrive, never holding the loop long."""
        if isinstance(db, asyncpg.Pool):
            async with db.acquire() as conn:
                return await self._read(conn, key)
        return await self._read(db, key)

    async def _read(self, conn: asyncpg.Connection, key: DocumentKey) -> Stored:
        appended = 0
        async with conn.transaction():
            cursor = await conn.cursor(
                """SELECT snapshot AS data, 0 AS ord, 0::bigint AS update_id FROM documents
                   WHERE scope_id = $1 AND path = $2 AND snapshot IS NOT NULL
                   UNION ALL
                   SELECT data, 1, update_id FROM document_updates
                   WHERE scope_id = $1 AND path = $2
                   ORDER BY ord, update_id""",
                key.scope_id,
                key.path,
            )
            snapshot: list[bytes] = []
            parts: list[bytes] = []
            folder: Folder | None = None
            while rows := await cursor.fetch(FETCH_ROWS):
                for row in rows:
                    (parts if row["ord"] else snapshot).append(bytes(row["data"]))
                if folder is None and len(parts) > FOLD_ABOVE:
                    folder = Folder(key)
                    await folder.add(snapshot)  # alone: merging it costs what applying does
                if folder is not None:
                    await folder.add(parts)
                    appended += len(parts)
                    parts = []
                if len(rows) < FETCH_ROWS:
                    break
        appended += len(parts)
        if folder is not None:
            return Stored([await folder.result()], appended)
        return Stored(snapshot + parts, appended)

    async def append(self, db: Executor, updates: list[PendingUpdate]) -> set[DocumentKey]:
        """Store a batch atomically; return the documents it created.

        One statement, so one round trip (an explicit transaction took four: BEGIN, two
        INSERTs, COMMIT, and the commit's latency is every edit's). The updates' foreign key
        is checked at the end of the statement, after the documents' upsert. A batch whose
        documents all exist only inserts the rows (`updated_at` then moves with
        `record_sizes`, about once a second); if one was deleted meanwhile, the foreign key
        refuses it and the batch goes again with the upsert, as before."""
        if all(u.exists for u in updates):
            try:
                if len(updates) == 1:
                    # Most batches hold one keystroke: three values bind and plan cheaper
                    # than three arrays (about 7 µs of ours and 5-20 of PostgreSQL's).
                    await db.execute(
                        """INSERT INTO document_updates (scope_id, path, data)
                           VALUES ($1, $2, $3)""",
                        updates[0].key.scope_id,
                        updates[0].key.path,
                        updates[0].data,
                    )
                else:
                    await db.execute(
                        """INSERT INTO document_updates (scope_id, path, data)
                           SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::bytea[])""",
                        [u.key.scope_id for u in updates],
                        [u.key.path for u in updates],
                        [u.data for u in updates],
                    )
                return set()
            except asyncpg.ForeignKeyViolationError:
                pass
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
            """UPDATE documents d SET size = x.size, updated_at = now()
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
        """Fold the updates into the snapshot; return how many updates were folded.

        Deletes exactly the rows it read: an append committed meanwhile, even one whose
        update_id is lower than the last one read (ids are taken before commit), stays."""
        async with conn.transaction():
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext($1))", key.lock_id
            )
            if not locked:
                return 0  # another process is compacting this document
            snapshot = await conn.fetchval(
                "SELECT snapshot FROM documents WHERE scope_id = $1 AND path = $2",
                key.scope_id,
                key.path,
            )
            folder = Folder(key, keep_unplaced=True)
            if snapshot:
                await folder.add([bytes(snapshot)])
            cursor = await conn.cursor(
                """SELECT update_id, data FROM document_updates
                   WHERE scope_id = $1 AND path = $2 ORDER BY update_id""",
                key.scope_id,
                key.path,
            )
            folded: list[int] = []
            while rows := await cursor.fetch(FETCH_ROWS):
                applied = await folder.add([bytes(row["data"]) for row in rows])
                # One that does not apply stays a row (skipped at every load, as before).
                folded += [row["update_id"] for row, ok in zip(rows, applied, strict=True) if ok]
                if len(rows) < FETCH_ROWS:
                    break
            if not folded:
                return 0
            merged = await folder.result()
            await conn.execute(
                "UPDATE documents SET snapshot = $3 WHERE scope_id = $1 AND path = $2",
                key.scope_id,
                key.path,
                merged,
            )
            # As runs of consecutive ids (a run holds only rows read): a few values to send,
            # not one per row (100,000 ids took ~10 ms of the loop to encode).
            starts, ends = _runs(folded)
            await conn.execute(
                """DELETE FROM document_updates d
                   USING unnest($3::bigint[], $4::bigint[]) AS r(first, last)
                   WHERE d.scope_id = $1 AND d.path = $2
                     AND d.update_id BETWEEN r.first AND r.last""",
                key.scope_id,
                key.path,
                starts,
                ends,
            )
            return len(folded)
