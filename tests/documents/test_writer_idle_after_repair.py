"""After the writer repairs what a broken connection left in doubt while no edit comes (its
retry, a commit of nothing), it hands the connection it took for that back once quiet, as
after any batch. That release is also where a connection that broke again (PostgreSQL
crashing again right after the repair, whose commit did not wait for the flush) is noticed
and the repair put in doubt again; kept for good, nothing would notice it until the next
edit, by which time the idle document may have been unloaded and its state with it.
(Found by a review of the single idle timer, commit ce0aa67; fixed in bd9d587.)"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pycrdt

from collab.documents.store import DocumentStore, PendingUpdate
from collab.documents.writer import IDLE_RELEASE_SECONDS, BatchWriter
from collab.model import DocumentKey
from tests.documents.typing_support import typed_updates
from tests.live_support import LiveSession
from tests.support import Client


async def _rows(database_url: str, key: DocumentKey) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM document_updates WHERE scope_id = $1 AND path = $2",
            key.scope_id,
            key.path,
        )
        return count
    finally:
        await conn.close()


async def test_after_a_repair_on_a_quiet_server_the_writer_hands_its_connection_back(
    client: Client, live: LiveSession, database_url: str
) -> None:
    updates, _ = typed_updates(5)
    key = DocumentKey(uuid.UUID(live.session_id), "repair.py")
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    for update in updates:
        doc.apply_update(update)
    # One connection in the pool: the writer's. A quiet writer must give it back.
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    writer = BatchWriter(
        pool, DocumentStore(), snapshot=lambda k: doc.get_update() if k == key else None
    )
    writer.start()
    try:
        await writer.write(PendingUpdate(key, updates[0]))
        for update in updates[1:]:
            await writer.write(PendingUpdate(key, update, exists=True))
        assert await _rows(database_url, key) == 5
        # PostgreSQL ends the writer's connection right after its commits (as a crash does).
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"
            )
        finally:
            await admin.close()
        # Noticed when the quiet writer hands the connection back; repaired on a fresh one.
        for _ in range(60):
            if await _rows(database_url, key) == 6 and not writer.in_doubt:
                break
            await asyncio.sleep(0.1)
        assert await _rows(database_url, key) == 6, "the in-doubt document was not stored again"
        # Quiet since the repair: the connection goes back to the pool as after any batch.
        await asyncio.sleep(IDLE_RELEASE_SECONDS + 0.6)
        try:
            conn = await pool.acquire(timeout=1.0)
        except TimeoutError:
            raise AssertionError(
                "the writer still holds the pool's connection a quiet second after its repair"
            ) from None
        await pool.release(conn)
    finally:
        await writer.stop()
        await pool.close()
