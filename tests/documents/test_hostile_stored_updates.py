"""Stored rows that are not Yjs updates (random bytes, truncated or corrupted updates) among
many good ones: a load (folded: more than FOLD_ABOVE rows) skips them and neither crashes
nor hangs, and a compaction folds every good row, loses no text, and leaves the rows that
do not apply as rows (skipped at every load, as before)."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import asyncpg
import pycrdt

from collab.documents.store import FOLD_ABOVE, DocumentStore
from tests.documents.typing_support import store_typed, typed_updates
from tests.live_support import LiveSession


def _text(updates: list[bytes]) -> str:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    for update in updates:
        try:
            doc.apply_update(update)
        except Exception:  # noqa: S112 - a broken row is skipped, as a room skips it
            continue
    return str(doc.get("content", type=pycrdt.Text))


async def test_broken_stored_rows_neither_crash_nor_lose_text_at_load_or_compaction(
    live: LiveSession, db: asyncpg.Connection
) -> None:
    good, text = typed_updates(3 * FOLD_ABOVE)
    rng = random.Random(7)
    broken = (
        [rng.randbytes(rng.randrange(0, 48)) for _ in range(20)]
        + [u[: len(u) // 2] for u in good[:20]]
        + [bytes([rng.randrange(1, 256)]) + u[1:] for u in good[20:30]]
        + [b"\x01" * 64, b"\xff" * 64, b"\x00\x00" * 32]
    )
    rows = list(good)
    for update in broken:
        rows.insert(rng.randrange(1, len(rows)), update)
    key = await store_typed(db, uuid.UUID(live.session_id), "hostile.py", rows)
    store = DocumentStore()

    stored = await asyncio.wait_for(store.read(db, key), 30)
    assert len(stored.updates) == 1 and stored.appended == len(rows)  # folded
    assert _text(stored.updates) == text

    folded = await asyncio.wait_for(store.compact(db, key), 30)
    assert folded >= len(good)
    after = await store.load(db, key)
    assert _text(after) == text
    left = [bytes(r["data"]) for r in await db.fetch("SELECT data FROM document_updates")]
    assert all(row in broken for row in left)  # only rows that did not apply stay
    # A second compaction finds nothing more to fold, and the text is still whole.
    await asyncio.wait_for(store.compact(db, key), 30)
    assert _text(await store.load(db, key)) == text
