"""Stored documents as typing makes them: many single-character updates from a few editors.

Shared by tests/documents/test_big_documents.py and bench/big_document.py. The updates are
written straight into PostgreSQL with the store's own `append` (not through sockets), as
if editors had typed them and the document had never been compacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from typing import Any

import asyncpg
import pycrdt

from collab.documents.store import DocumentStore, PendingUpdate
from collab.model import DocumentKey


def typed_updates(
    count: int, *, editors: int = 3, burst: int = 40, seed: int = 1
) -> tuple[list[bytes], str]:
    """`count` keystroke updates (one character each; every tenth a backspace) by `editors`
    Yjs clients taking turns in bursts at their own cursors, each seeing the others' text
    before its burst; and the text they make."""
    rnd = random.Random(seed)
    docs: list[pycrdt.Doc[Any]] = [pycrdt.Doc(client_id=7_000 + i) for i in range(editors)]
    texts = [doc.get("content", type=pycrdt.Text) for doc in docs]
    cursors = [0] * editors
    updates: list[bytes] = []
    # Each transaction's own update, as a Yjs client sends it (a diff against a state
    # vector would carry the document's whole delete set every time).
    own: list[bytes] = []
    subscriptions = [doc.observe(lambda event: own.append(event.update)) for doc in docs]
    while len(updates) < count:
        who = rnd.randrange(editors)
        doc, text = docs[who], texts[who]
        at = min(cursors[who], len(text)) if cursors[who] else rnd.randrange(len(text) + 1)
        first = len(updates)
        for _ in range(min(burst, count - len(updates))):
            if at and rnd.random() < 0.1:
                del text[at - 1 : at]
                at -= 1
            else:
                text.insert(at, rnd.choice("abcdefghijklmnopqrstuvwxyz  \n()="))
                at += 1
            updates.append(own.pop())
        cursors[who] = at
        typed = pycrdt.merge_updates(*updates[first:])
        for other, peer in enumerate(docs):
            if other != who:
                peer.apply_update(typed)
                own.clear()  # the others' transactions applying the burst
    for doc, subscription in zip(docs, subscriptions, strict=True):
        doc.unobserve(subscription)
    return updates, str(texts[0])


async def store_typed(
    conn: asyncpg.Connection, session_id: uuid.UUID, path: str, updates: list[bytes]
) -> DocumentKey:
    """Append the updates to a session's file (creating it), in batches of 5,000."""
    key = DocumentKey(session_id, path)
    store = DocumentStore()
    for start in range(0, len(updates), 5_000):
        await store.append(conn, [PendingUpdate(key, u) for u in updates[start : start + 5_000]])
    return key


class LoopLag:
    """A task on the running loop that sleeps 1 ms at a time and records how late it wakes:
    the longest the event loop was held by anything else."""

    def __init__(self) -> None:
        # (woke at, lateness, this thread's CPU time meanwhile), seconds. Lateness with
        # little CPU time is the OS running other processes, not the loop being held.
        self.samples: list[tuple[float, float, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _tick(self) -> None:
        while True:
            start, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.001)
            woke = time.perf_counter()
            self.samples.append((woke, woke - start - 0.001, time.thread_time() - cpu))

    def max_between(self, start: float, end: float) -> float:
        """The worst lateness seen between two perf_counter readings, in seconds (a sleep
        that began before `end` and woke after it counts: it was held up inside)."""
        return max((lag for _, lag, _ in self._between(start, end)), default=0.0)

    def max_cpu_between(self, start: float, end: float) -> float:
        """The most CPU time this thread spent between two wake-ups (the loop's own work)."""
        return max((cpu for _, _, cpu in self._between(start, end)), default=0.0)

    def _between(self, start: float, end: float) -> list[tuple[float, float, float]]:
        return [s for s in self.samples if s[0] >= start and s[0] - s[1] - 0.001 <= end]
