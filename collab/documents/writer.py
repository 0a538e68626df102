"""Group commit: many updates, from every document, share one PostgreSQL transaction.

`write` returns only once its update is committed. While one batch commits, new updates
queue up and go together in the next, so throughput grows with load instead of paying one
commit per keystroke.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from collab.documents.store import DocumentStore, PendingUpdate

log = logging.getLogger(__name__)

MAX_BATCH = 1000


class BatchWriter:
    def __init__(self, pool: asyncpg.Pool, store: DocumentStore) -> None:
        self._pool = pool
        self._store = store
        self._queue: list[tuple[PendingUpdate, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="documents:writer")

    async def stop(self) -> None:
        """Commit what is queued, then end."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def write(self, update: PendingUpdate) -> bool:
        """Store one update durably; True when it created its document."""
        return await self.enqueue(update)

    def enqueue(self, update: PendingUpdate) -> asyncio.Future[bool]:
        """Queue one update (updates commit in the order queued); the future says when it
        is stored, and whether it created its document."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((update, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._commit(batch)
            if self._closing:
                return

    async def _commit(self, batch: list[tuple[PendingUpdate, asyncio.Future[bool]]]) -> None:
        updates = [update for update, _ in batch]
        try:
            async with self._pool.acquire() as conn:
                created = await self._store.append(conn, updates)
        except Exception as exc:  # every waiter must hear about it, whatever it was
            log.exception("storing %d document updates failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for update, future in batch:
            if not future.done():
                future.set_result(update.key in created)
                created.discard(update.key)
