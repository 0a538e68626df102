"""Big documents (issue #14, goal 5): many stored updates load and compact correctly, and
neither stalls the event loop.

The loop's lag is measured by a ticker on the app's own loop (the app runs in the test's
process). The bound is generous (CI machines are noisy): this is a behaviour test, the
figures are bench/big_document.py's. Before this work, loading applied every stored update
in one go on the loop and compaction called `pycrdt.merge_updates` on all of them there
(40,000 keystrokes: about 0.1 s and several seconds of a stalled loop).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import pycrdt

from collab.documents.room import stored_structure
from collab.documents.store import DocumentStore, Folder, PendingUpdate
from collab.model import DocumentKey
from collab.state import DOCUMENTS
from tests.documents.typing_support import LoopLag, store_typed, typed_updates
from tests.live_support import LiveSession
from tests.node_agent import NodeAgent
from tests.support import Client

MAX_LAG = 0.2  # seconds; the goal is 20 ms, measured by the bench on a quiet machine


def _text(updates: list[bytes]) -> str:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    for update in updates:
        doc.apply_update(update)
    return str(doc.get("content", type=pycrdt.Text))


async def _fold(updates: list[bytes], *, keep_unplaced: bool = False) -> bytes:
    folder = Folder(DocumentKey(uuid.uuid4(), "f.py"), keep_unplaced=keep_unplaced)
    await folder.add(updates)
    return await folder.result()


def _structured_updates() -> list[bytes]:
    """Edits with what admission tracks: nested shared types (one deleted afterwards) and
    characters written as surrogate pairs (some deleted)."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=41)
    text = doc.get("content", type=pycrdt.Text)
    meta = doc.get("meta", type=pycrdt.Map)
    updates = []

    def edit(change: Any) -> None:
        before = doc.get_state()
        change()
        updates.append(doc.get_update(before))

    edit(lambda: text.insert(0, "a😀b"))
    edit(lambda: meta.__setitem__("inner", pycrdt.Map({"k": pycrdt.Array([1, 2])})))
    edit(lambda: meta.__setitem__("gone", pycrdt.Array([pycrdt.Map({"x": 1})])))
    edit(lambda: text.insert(len(str(text).encode()), "🎉🎉c"))
    edit(lambda: meta.pop("gone"))
    edit(lambda: text.__delitem__(slice(1, 5)))  # the 😀 (four UTF-8 bytes)
    for i in range(300):
        edit(lambda ch="x😀"[i % 2]: text.insert(0, ch))
    return updates


async def test_a_fold_keeps_what_admission_needs_to_know() -> None:
    updates = _structured_updates()
    folded = await _fold(updates)
    assert _text([folded]) == _text(updates)
    one_by_one = stored_structure(updates)
    at_once = stored_structure([folded])
    assert at_once.types == one_by_one.types and len(one_by_one.types) >= 4
    assert at_once.pair_halves == one_by_one.pair_halves and one_by_one.pair_halves
    typed, text = typed_updates(3_000)
    folded = await _fold(typed)
    assert _text([folded]) == text
    assert len(folded) < sum(map(len, typed)) / 5  # squashed, not concatenated


async def test_a_compactions_fold_keeps_updates_that_cannot_be_placed_yet() -> None:
    typed, text = typed_updates(400)
    # One update is missing: the ones after it that build on it wait (yrs: pending).
    held_back = typed[200]
    folded = await _fold(typed[:200] + typed[201:], keep_unplaced=True)
    assert _text([folded, held_back]) == text
    # A load's fold drops them, as a document encodes itself (see Folder.result).
    assert _text([await _fold(typed[:200] + typed[201:]), held_back]) != text


async def test_many_thousand_stored_updates_load_and_compact_without_stalling_the_loop(
    client: Client, live: LiveSession, agent: NodeAgent, database_url: str
) -> None:
    updates, text = typed_updates(40_000)
    conn = await asyncpg.connect(database_url)
    try:
        key = await store_typed(conn, uuid.UUID(live.session_id), "big.py", updates)
        rooms = client.app[DOCUMENTS].rooms
        async with LoopLag() as lag:
            start = time.perf_counter()
            await agent.call(
                "connect",
                name="r",
                url=str(client.make_url("")).rstrip("/"),
                token=live.viewer.token,
                room=live.room("big.py"),
            )
            await agent.call("waitText", name="r", text=text, timeout=30_000)
            loaded = time.perf_counter()
            # Loading it scheduled a compaction (40,000 > compact_after).
            for _ in range(600):
                left = await conn.fetchval("SELECT count(*) FROM document_updates")
                if left == 0 and not rooms._compacting:
                    break
                await asyncio.sleep(0.05)
            compacted = time.perf_counter()
        assert left == 0, "the load did not lead to a compaction"
        assert lag.max_between(start, loaded) < MAX_LAG, lag.max_between(start, loaded)
        assert lag.max_between(loaded, compacted) < MAX_LAG, lag.max_between(loaded, compacted)
        assert rooms.loaded(key) is not None
        assert rooms.loaded(key).content() == text  # type: ignore[union-attr]
        assert _text(await DocumentStore().load(conn, key)) == text
    finally:
        await conn.close()


async def test_appends_committed_while_a_compaction_folds_are_kept(
    client: Client, live: LiveSession, database_url: str
) -> None:
    """Update ids are taken at insert, not at commit: an append with a lower id than the
    last row a compaction read can commit while it folds. It must not be deleted unread."""
    updates, text = typed_updates(30_002)
    late, early = updates[-2], updates[-1]  # `early` gets the higher id, commits first
    conn = await asyncpg.connect(database_url)
    other = await asyncpg.connect(database_url)
    compactor = await asyncpg.connect(database_url)
    store = DocumentStore()
    try:
        key = await store_typed(conn, uuid.UUID(live.session_id), "race.py", updates[:-2])
        slow = other.transaction()
        await slow.start()
        # The row alone (an append's upsert of the document row would hold up the next).
        await other.execute(
            "INSERT INTO document_updates (scope_id, path, data) VALUES ($1, $2, $3)",
            key.scope_id,
            key.path,
            late,
        )  # its id is taken, it is not committed
        await store.append(conn, [PendingUpdate(key, early)])  # higher id, committed
        compaction = asyncio.ensure_future(store.compact(compactor, key))
        for _ in range(200):  # until the compaction holds its lock (it then reads at once)
            if await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"):
                break
            await asyncio.sleep(0.002)
        await asyncio.sleep(0.01)  # it has bound its cursor (two round trips)
        assert not compaction.done(), "the compaction ended before the race could happen"
        await slow.commit()  # committed while the compaction folds what it read
        folded = await compaction
        assert folded == 30_001
        remaining = await conn.fetch("SELECT data FROM document_updates")
        assert [bytes(r["data"]) for r in remaining] == [late]
        assert _text(await store.load(conn, key)) == text
    finally:
        for c in (conn, other, compactor):
            await c.close()
