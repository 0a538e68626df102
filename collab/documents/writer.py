"""Group commit: many updates, from every document, share one PostgreSQL transaction.

`write` returns only once its update is committed. While one batch commits, new updates
queue up and go together in the next, so throughput grows with load instead of paying one
commit per keystroke.

The writer keeps one pooled connection while it works: handing it back after every batch
cost a reset round trip (asyncpg's `RESET ALL` and friends) on every edit's path. A
connection that fails is given back (the pool discards a broken one) and the next batch
takes a fresh one.

"Committed" means PostgreSQL holds the batch. With COLLAB_DOCUMENT_SYNCHRONOUS_COMMIT on, its
disk has it too; off (the default), a commit returns before the WAL is flushed,
which took about half of an edit's latency under load (docs/performance.md). A server
process killed at any moment loses nothing either way (PostgreSQL has every update it was
told about, and nothing is relayed before that). A crash of PostgreSQL can lose the
commits of its last moments (at most three `wal_writer_delay`s, 0.6 s by default), which
clients were already sent. The writer repairs that itself: when it finds its connection
broken (mid-batch, or when it hands it back after a quiet second), the documents it
committed within `IN_DOUBT_SECONDS` before its last commit are "in doubt", and the first
transaction that succeeds afterwards (the next batch, or a retry every half second while
none comes) first stores each one's whole state as this process holds it in memory (a Yjs
update: storing what is already there is a no-op when it is applied; until then the
document is not unloaded, even idle). Only a crash of
PostgreSQL together with this process (the machine) loses those moments from storage; the
clients that received them still hold them and send them back when they reconnect (both
sides exchange state vectors), as they do for offline edits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import asyncpg

from collab.documents.store import DocumentStore, PendingUpdate
from collab.model import DocumentKey
from kernel import metrics

log = logging.getLogger(__name__)

MAX_BATCH = 1000
IDLE_RELEASE_SECONDS = 1.0
# Longer than an asynchronous commit can be lost for (three wal_writer_delays: 0.6 s by
# default), with room for a server that changed it.
IN_DOUBT_SECONDS = 5.0
REPAIR_RETRY_SECONDS = 0.5
REPAIR_LOG_SECONDS = 10.0

# Errors about a batch's own rows: the database answered, nothing it committed is in doubt.
_DATA_REFUSALS = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)

# A loaded document's whole state as a Yjs update; None if it is not loaded here.
Snapshot = Callable[[DocumentKey], bytes | None]


class BatchWriter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: DocumentStore,
        *,
        synchronous_commit: bool = False,
        snapshot: Snapshot | None = None,
    ) -> None:
        self._pool = pool
        self._synchronous_commit = synchronous_commit
        # Only commits that did not wait for the flush can be lost by a crash.
        self._snapshot = None if synchronous_commit else snapshot
        self._recent: dict[DocumentKey, float] = {}  # key → when it last committed
        self._pruned = time.monotonic()
        self.in_doubt: set[DocumentKey] = set()
        self._repair_logged = 0.0
        self._store = store
        self._queue: list[tuple[PendingUpdate, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._used = 0.0  # the loop's time when the connection was last used
        self._idle_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="documents:writer")

    async def stop(self) -> None:
        """Commit what is queued, then end."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._idle_timer is not None:
            self._idle_timer.cancel()
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

    async def _release(self, failed: bool = False) -> None:
        """Hand the connection back; if it broke (or a statement on it `failed` for another
        reason than its own data), what it committed last may be lost: put it in doubt."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                closed = failed or conn.is_closed()
            except asyncpg.InterfaceError:  # a connection that closed is detached from its proxy
                closed = True
            if closed:
                self._doubt()
                self._wake.set()  # repair now, not at the next edit
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
            if self.in_doubt and not self._wake.is_set():
                try:  # repair without waiting for the next edit
                    async with asyncio.timeout(REPAIR_RETRY_SECONDS):
                        await self._wake.wait()
                except TimeoutError:
                    await self._commit([])
                    if self._conn is not None:
                        self._note_used()  # handed back once quiet, as after a batch
                    continue
            await self._wake.wait()
            self._wake.clear()
            committed = bool(self._queue)
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._commit(batch)
            if self._closing:
                return
            if self._conn is None:
                continue
            if committed:
                self._note_used()
            elif self._quiet():  # a quiet process gives its connection back
                await self._release()

    # A quiet writer hands its connection back after IDLE_RELEASE_SECONDS. One timer a second
    # at most while busy, not one per batch: an `asyncio.timeout` around each wait cost about
    # 5 µs of every edit's CPU at N=10 (docs/performance.md).

    def _note_used(self) -> None:
        assert self._loop is not None
        self._used = self._loop.time()
        if self._idle_timer is None:
            self._idle_timer = self._loop.call_at(
                self._used + IDLE_RELEASE_SECONDS, self._idle_check
            )

    def _quiet(self) -> bool:
        assert self._loop is not None
        return self._loop.time() - self._used >= IDLE_RELEASE_SECONDS

    def _idle_check(self) -> None:
        self._idle_timer = None
        if self._conn is None or self._loop is None:
            return
        if not self._quiet():  # used since: look again when it may be idle
            self._idle_timer = self._loop.call_at(
                self._used + IDLE_RELEASE_SECONDS, self._idle_check
            )
            return
        self._wake.set()  # the writer's loop hands the connection back

    async def _commit(self, batch: list[tuple[PendingUpdate, asyncio.Future[bool]]]) -> None:
        updates = [update for update, _ in batch]
        started = time.perf_counter()
        try:
            if self._conn is None:
                self._conn = await self._acquire()
            if self.in_doubt:
                await self._repair(self._conn)
            created = await self._store.append(self._conn, updates) if updates else set()
        except Exception as exc:  # every waiter must hear about it, whatever it was
            if isinstance(exc, asyncpg.ForeignKeyViolationError) and len(batch) > 1:
                # A session deleted while someone typed in it: only that update may fail,
                # not everyone's in the batch.
                for item in batch:
                    await self._commit([item])
                return
            if batch:
                log.exception("storing %d document updates failed", len(batch))
            elif time.monotonic() - self._repair_logged > REPAIR_LOG_SECONDS:
                self._repair_logged = time.monotonic()  # retried twice a second: not each time
                log.warning(
                    "%d documents wait to be stored again; the database: %s",
                    len(self.in_doubt),
                    exc,
                )
            # A shutting-down server's error (57P01, 57P02) can arrive before the connection
            # is seen closed: only a refusal of the data itself proves the database is fine.
            await self._release(failed=not isinstance(exc, _DATA_REFUSALS))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        if self._snapshot is not None:
            self._remember(updates)
        if not batch:
            return
        metrics.batch_committed(len(batch), time.perf_counter() - started)
        for update, future in batch:
            if not future.done():
                future.set_result(update.key in created)
                created.discard(update.key)

    # -- repairing what a crash of PostgreSQL may have lost (see the module docstring) -------

    def _remember(self, updates: list[PendingUpdate]) -> None:
        now = time.monotonic()
        recent = self._recent
        for update in updates:
            recent[update.key] = now
        if now - self._pruned > IN_DOUBT_SECONDS:
            self._pruned = now
            self._recent = {k: t for k, t in recent.items() if now - t < IN_DOUBT_SECONDS}

    def _doubt(self) -> None:
        if self._snapshot is None or not self._recent:
            return
        # A crash loses commits made just before it, and it came after the last one.
        last = max(self._recent.values())
        self.in_doubt.update(k for k, t in self._recent.items() if last - t < IN_DOUBT_SECONDS)
        self._recent.clear()

    async def _repair(self, conn: asyncpg.pool.PoolConnectionProxy) -> None:
        """Store the in-doubt documents' states; raises while the database does not answer."""
        repairs = [
            PendingUpdate(key, state)
            for key in self.in_doubt
            if self._snapshot is not None and (state := self._snapshot(key)) is not None
        ]  # a document unloaded meanwhile: its clients send it again when they reconnect
        try:
            await self._store.append(conn, repairs)
        except Exception:
            await conn.fetchval("SELECT 1")  # raises if the database is what failed
            # It answers: a repair itself is refused (its session was deleted meanwhile…).
            # Store the others; never let one block every later edit.
            for repair in repairs:
                try:
                    await self._store.append(conn, [repair])
                except asyncpg.PostgresError as exc:
                    log.warning("could not store %s again: %s", repair.key, exc)
        if repairs:
            log.warning(
                "stored again %d documents committed just before the database connection broke",
                len(repairs),
            )
        self.in_doubt.clear()
        self._remember(repairs)  # a second crash could lose the repair itself
