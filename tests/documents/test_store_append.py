"""The append of a batch whose documents exist (the keystroke path) only inserts rows; a
document deleted meanwhile still gets its row back rather than failing the whole batch."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from collab.documents.store import DocumentStore, PendingUpdate
from collab.documents.writer import IDLE_RELEASE_SECONDS, BatchWriter
from collab.model import DocumentKey
from tests.documents.typing_support import typed_updates
from tests.live_support import LiveSession
from tests.support import Client


async def test_appending_to_existing_documents_leaves_their_row_alone(
    client: Client, live: LiveSession, database_url: str
) -> None:
    updates, _ = typed_updates(3)
    key = DocumentKey(uuid.UUID(live.session_id), "keys.py")
    other = DocumentKey(uuid.UUID(live.session_id), "gone.py")
    store = DocumentStore()
    conn = await asyncpg.connect(database_url)
    try:
        assert await store.append(conn, [PendingUpdate(key, updates[0])]) == {key}
        version = await conn.fetchval(
            "SELECT xmin::text FROM documents WHERE scope_id = $1 AND path = $2",
            key.scope_id,
            key.path,
        )
        await store.append(conn, [PendingUpdate(key, updates[1], exists=True)])
        assert (
            await conn.fetchval(
                "SELECT xmin::text FROM documents WHERE scope_id = $1 AND path = $2",
                key.scope_id,
                key.path,
            )
            == version
        ), "the document row was rewritten for a keystroke"

        # A batch naming a document that was deleted meanwhile: nothing is refused.
        await store.append(conn, [PendingUpdate(other, updates[0])])
        await conn.execute(
            "DELETE FROM documents WHERE scope_id = $1 AND path = $2", other.scope_id, other.path
        )
        created = await store.append(
            conn,
            [PendingUpdate(key, updates[2], exists=True), PendingUpdate(other, b"\x00\x00", True)],
        )
        assert created == {other}
        counts = await conn.fetch(
            "SELECT path, count(*) AS n FROM document_updates WHERE scope_id = $1 GROUP BY path",
            key.scope_id,
        )
        assert {r["path"]: r["n"] for r in counts} == {"keys.py": 3, "gone.py": 1}

        # The same for a batch of one (the usual keystroke, appended with scalar values).
        await conn.execute(
            "DELETE FROM documents WHERE scope_id = $1 AND path = $2", other.scope_id, other.path
        )
        assert await store.append(conn, [PendingUpdate(other, updates[1], True)]) == {other}
        stored = await conn.fetch(
            "SELECT data FROM document_updates WHERE scope_id = $1 AND path = $2",
            other.scope_id,
            other.path,
        )
        assert [bytes(r["data"]) for r in stored] == [updates[1]]
    finally:
        await conn.close()


async def test_an_update_for_a_deleted_session_fails_alone_in_its_batch(
    client: Client, live: LiveSession, database_url: str
) -> None:
    """A session deleted while someone typed in it (its sockets are closed just after the
    commit): that update fails, the others committed with it in the same batch do not."""
    updates, _ = typed_updates(2)
    mine = DocumentKey(uuid.UUID(live.session_id), "mine.py")
    gone = DocumentKey(uuid.uuid4(), "x.py")  # no such session any more
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    writer = BatchWriter(pool, DocumentStore())
    writer.start()
    try:
        assert await writer.write(PendingUpdate(mine, updates[0])) is True
        innocent = writer.enqueue(PendingUpdate(mine, updates[1], exists=True))
        doomed = writer.enqueue(PendingUpdate(gone, updates[0], exists=True))
        assert await innocent is False
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await doomed
        rows = await pool.fetchval(
            "SELECT count(*) FROM document_updates WHERE scope_id = $1", mine.scope_id
        )
        assert rows == 2
        assert not writer.in_doubt  # a refused row is no reason to store documents again
    finally:
        await writer.stop()
        await pool.close()


async def test_the_writer_keeps_its_connection_while_busy_and_hands_it_back_when_quiet(
    client: Client, live: LiveSession, database_url: str
) -> None:
    """Handing the connection back after every batch cost a reset round trip per edit;
    keeping it forever would pin one of the pool's connections on a quiet server."""
    updates, _ = typed_updates(20)
    key = DocumentKey(uuid.UUID(live.session_id), "idle.py")
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=2)
    writer = BatchWriter(pool, DocumentStore())
    writer.start()
    try:
        await writer.write(PendingUpdate(key, updates[0]))
        assert pool.get_idle_size() == 1, "the writer should hold a connection while it works"
        for update in updates[1:12]:  # typing for 2.2 s, past the 1 s idle limit
            await asyncio.sleep(0.2)
            await writer.write(PendingUpdate(key, update, exists=True))
            assert pool.get_idle_size() == 1, "handed back while still busy"
        await asyncio.sleep(IDLE_RELEASE_SECONDS + 0.6)
        assert pool.get_idle_size() == 2, "a quiet writer should hand its connection back"
        await writer.write(PendingUpdate(key, updates[12], exists=True))  # takes one again
        assert pool.get_idle_size() == 1
        rows = await pool.fetchval(
            "SELECT count(*) FROM document_updates WHERE path = $1", key.path
        )
        assert rows == 13
    finally:
        await writer.stop()
        await pool.close()
