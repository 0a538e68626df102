"""Group commit: many updates, from every document, share one PostgreSQL transaction.

`write` returns only once its update is committed. While one batch commits, new updates
queue up and go together in the next, so throughput grows with load instead of paying one
commit per keystroke.

The writer keeps one pooled connection while it works: handing it back after every batch
cost a reset round trip (asyncpg's `RESET ALL` and friends) on every edit's path. A
connection that fails is given back (the pool discards a broken one) and the next batch
takes a fresh one.

"Committed" means PostgreSQL's disk has the batch (COLLAB_DOCUMENT_SYNCHRONOUS_COMMIT, on
by default). With `synchronous_commit=False`, an opt-in, a commit returns before the WAL is
flushed, which took most of an edit's latency on a busy disk. A
server process killed at any moment loses nothing (PostgreSQL has every update it was
told about, and nothing is relayed before that). A crash of PostgreSQL or of its machine
can lose the updates of the last moments (at most three `wal_writer_delay`s, 0.6 s by
default), never consistency; the clients that received them still hold them and send them
back on reconnect (both sides exchange state vectors), as they do for offline edits. The
default `True` waits for the flush, as y-redis with Redis' `appendfsync always`.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from collab.documents.store import DocumentStore, PendingUpdate
from kernel import metrics

log = logging.getLogger(__name__)

MAX_BATCH = 1000
IDLE_RELEASE_SECONDS = 1.0


class BatchWriter:
    def __init__(
        self, pool: asyncpg.Pool, store: DocumentStore, *, synchronous_commit: bool = True
    ) -> None:
        self._pool = pool
        self._synchronous_commit = synchronous_commit
        self._store = store
        self._queue: list[tuple[PendingUpdate, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="documents:writer")

    async def stop(self) -> None:
        """Commit what is queued, then end."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self._release()

    async def _acquire(self) -> asyncpg.pool.PoolConnectionProxy:
        conn: asyncpg.pool.PoolConnectionProxy = await self._pool.acquire()
        if not self._synchronous_commit:
            try:  # the pool's reset (RESET ALL) undoes this when the connection goes back
                await conn.execute("SET synchronous_commit TO off")
            except BaseException:
                await self._pool.release(conn)
                raise
        return conn

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await self._pool.release(conn)
            except Exception:  # a broken connection: the pool has dropped it
                log.debug("releasing the writer's connection failed", exc_info=True)

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
            if self._conn is not None and not self._wake.is_set():
                try:  # a quiet process gives its connection back
                    async with asyncio.timeout(IDLE_RELEASE_SECONDS):
                        await self._wake.wait()
                except TimeoutError:
                    await self._release()
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._commit(batch)
            if self._closing:
                return

    async def _commit(self, batch: list[tuple[PendingUpdate, asyncio.Future[bool]]]) -> None:
        updates = [update for update, _ in batch]
        started = time.perf_counter()
        try:
            if self._conn is None:
                self._conn = await self._acquire()
            created = await self._store.append(self._conn, updates)
        except Exception as exc:  # every waiter must hear about it, whatever it was
            log.exception("storing %d document updates failed", len(batch))
            await self._release()
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        metrics.batch_committed(len(batch), time.perf_counter() - started)
        for update, future in batch:
            if not future.done():
                future.set_result(update.key in created)
                created.discard(update.key)
