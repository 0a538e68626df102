"""The documents this process has loaded, and the edit path through them.

Edit path: check the bytes decode → commit them (group commit) → apply to the in-memory
copy → send to the other local sockets → publish to the other processes. Nothing is sent
to anyone before it is committed.

A room is loaded on first use (messages from other processes that arrive while it loads
are kept and applied after), unloaded once no socket has used it for `idle_seconds`, and
compacted in the background once enough updates have piled up.

After a Redis outage, whatever other processes published meanwhile never arrived: on every
(re)subscription the fan-out calls `catch_up`, which reads each loaded room's stored
document, applies what the room lacks (the stored document's update against the room's state
vector) and relays it to the room's sockets as a normal `sync-update`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg
import pycrdt

from collab.documents.fanout import AWARENESS, UPDATE, DocumentFanout
from collab.documents.room import DocumentRoom, apply_stored, check_update, stored_structure
from collab.documents.store import DocumentStore, PendingUpdate
from collab.documents.update_scan import InvalidUpdate
from collab.documents.writer import BatchWriter
from collab.model import DocumentKey
from kernel import metrics

log = logging.getLogger(__name__)

# A workspace is "active" while any of its documents has a live socket on this process; each
# process adds its own minutes (processes serving the same workspace each count theirs).
SECONDS_PER_ACTIVE_MINUTE = 60.0


class QuotaExceeded(ValueError):
    """A valid update that would create one file more than its session may hold."""


EMPTY_UPDATE = b"\x00\x00"  # no structs, no deletions

# Updates this large are checked on a worker thread (a keystroke is ~30 bytes).
SCAN_IN_THREAD_BYTES = 64 * 1024

# (namespace, event, payload, eio sids to send to)
Sender = Callable[[str, str, bytes, list[str]], Awaitable[None]]
FileCreated = Callable[[DocumentKey], Awaitable[None]]
# Called about once a second with the current text of every file that changed since.
FilesChanged = Callable[[dict[DocumentKey, str]], Awaitable[None]]
# After a compaction folded updates (file history: collab/documents/versions.py).
Compacted = Callable[[DocumentKey, DocumentRoom | None], Awaitable[None]]


class WorkspaceActivity(Protocol):
    """Where workspace-scoped documents report what the workspace document keeps."""

    async def files_changed(self, ws_id: uuid.UUID, sizes: dict[str, int]) -> None: ...

    async def count(self, ws_id: uuid.UUID, counters: dict[str, int]) -> None: ...


class DocumentRooms:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: DocumentStore,
        send: Sender,
        fanout: DocumentFanout,
        activity: WorkspaceActivity,
        on_file_created: FileCreated,
        on_files_changed: FilesChanged,
        *,
        idle_seconds: float = 60.0,
        compact_after: int = 500,
        max_files_per_scope: int = 1000,
        synchronous_commit: bool = False,
    ) -> None:
        self._pool = pool
        self._store = store
        self._send = send
        self._idle_seconds = idle_seconds
        self._compact_after = compact_after
        self._max_files = max_files_per_scope
        self._rooms: dict[DocumentKey, DocumentRoom] = {}
        self._loading: dict[DocumentKey, asyncio.Future[DocumentRoom]] = {}
        self._early: dict[DocumentKey, list[tuple[bytes, bytes, uuid.UUID | None]]] = {}
        self._compacting: set[DocumentKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._resized: set[DocumentKey] = set()
        self._edits: Counter[uuid.UUID] = Counter()
        self._active_seconds: dict[uuid.UUID, float] = {}
        self._last_tick = time.monotonic()
        self.on_file_created = on_file_created
        self.activity = activity
        self.on_files_changed = on_files_changed
        self.on_compacted: Compacted | None = None
        self.writer = BatchWriter(
            pool, store, synchronous_commit=synchronous_commit, snapshot=self._snapshot
        )
        self.fanout = fanout
        fanout.on_resubscribed = self.catch_up

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._unwatch = metrics.LOADED_DOCUMENTS.watch(lambda: [((), float(len(self._rooms)))])
        self.writer.start()
        self._reaper = asyncio.get_running_loop().create_task(self._reap(), name="documents:reap")

    async def stop(self) -> None:
        self._unwatch()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await self.writer.stop()
        await self._flush_changes()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _active_minutes(self) -> dict[uuid.UUID, int]:
        now = time.monotonic()
        elapsed, self._last_tick = now - self._last_tick, now
        live = {
            key.scope_id for key, room in self._rooms.items() if key.in_workspace and room.members
        }
        whole: dict[uuid.UUID, int] = {}
        for ws_id in live:
            self._active_seconds[ws_id] = self._active_seconds.get(ws_id, 0.0) + elapsed
            minutes = int(self._active_seconds[ws_id] // SECONDS_PER_ACTIVE_MINUTE)
            if minutes:
                whole[ws_id] = minutes
                self._active_seconds[ws_id] -= minutes * SECONDS_PER_ACTIVE_MINUTE
        return whole

    async def _flush_changes(self) -> None:
        """Write the sizes of files whose text changed, and workspace activity (kept off
        the edit path)."""
        changed = {key: room.content() for key in self._resized if (room := self._rooms.get(key))}
        sizes = {key: len(text.encode()) for key, text in changed.items()}
        self._resized.clear()
        if changed:
            try:
                await self.on_files_changed(changed)
            except Exception:
                log.exception("passing changed files on failed")
        edits, self._edits = self._edits, Counter()
        minutes = self._active_minutes()
        if sizes:
            try:
                await self._store.record_sizes(self._pool, sizes)
            except Exception:
                log.exception("recording file sizes failed")
                self._resized.update(sizes)
        by_workspace: dict[uuid.UUID, dict[str, int]] = {}
        for key, size in sizes.items():
            if key.in_workspace:
                by_workspace.setdefault(key.scope_id, {})[key.path] = size
        try:
            for ws_id, files in by_workspace.items():
                await self.activity.files_changed(ws_id, files)
            for ws_id, count in edits.items():
                await self.activity.count(ws_id, {"edits": count})
            for ws_id, count in minutes.items():
                await self.activity.count(ws_id, {"active_minutes": count})
        except Exception:
            log.exception("updating workspace documents failed")

    # -- loading -----------------------------------------------------------------------------

    def loaded(self, key: DocumentKey) -> DocumentRoom | None:
        return self._rooms.get(key)

    async def open(self, key: DocumentKey) -> DocumentRoom:
        room = self._rooms.get(key)
        if room is not None:
            return room
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[DocumentRoom] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        self._early[key] = []
        try:
            # Many updates arrive folded into one (read in batches, folded between yields).
            stored = await self._store.read(self._pool, key)
            if sum(map(len, stored.updates)) < SCAN_IN_THREAD_BYTES:
                structure = stored_structure(stored.updates)
            else:  # scanning a large snapshot is pure Python: keep it off the loop
                structure = await asyncio.to_thread(stored_structure, stored.updates)
            room = DocumentRoom(key, stored.updates, structure)
            room.writes_since_compaction = stored.appended
            for kind, payload, author in self._early.pop(key, []):
                self._apply_remote(room, kind, payload, author)
            self._rooms[key] = room
            future.set_result(room)
            if stored.appended >= self._compact_after:
                # Piled up (a crash, another process, an import): the next load stays small.
                self._schedule_compaction(key, room)
            return room
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # consumed here; waiters get it through the shield
            raise
        finally:
            self._loading.pop(key, None)
            self._early.pop(key, None)

    def _snapshot(self, key: DocumentKey) -> bytes | None:
        room = self._rooms.get(key)
        return room.doc.get_update() if room is not None else None

    def forget(self, key: DocumentKey) -> DocumentRoom | None:
        """Drop a room whose file was deleted or renamed (its sockets are closed elsewhere)."""
        self._resized.discard(key)
        return self._rooms.pop(key, None)

    async def text(self, key: DocumentKey) -> str | None:
        """The file's current text, from memory or from storage; None if it never existed."""
        room = self._rooms.get(key)
        if room is not None:
            return room.content()
        stored = await self._store.load(self._pool, key)
        if not stored:
            return None
        doc: pycrdt.Doc[Any] = pycrdt.Doc()
        apply_stored(doc, stored, key)
        return str(doc.get("content", type=pycrdt.Text))

    # -- the edit path -------------------------------------------------------------------------

    async def submit(
        self,
        room: DocumentRoom,
        update: bytes,
        origin_sid: str | None,
        author: uuid.UUID | None = None,
        *,
        claims: bool = True,
    ) -> None:
        """Validate, commit, apply, relay. Raises InvalidUpdate before touching anything."""
        received = time.perf_counter()
        async with room.admission:  # FIFO: updates are admitted and queued as they came
            if len(update) < SCAN_IN_THREAD_BYTES:
                shape = check_update(update)
            else:  # up to ~0.3 s of pure Python for 1 MB: the loop keeps running meanwhile
                shape = await asyncio.to_thread(check_update, update)
            if not room.stored:
                await self._check_file_quota(room.key)
            added = room.admit_structure(shape, author, claims=claims)
            stored = self.writer.enqueue(PendingUpdate(room.key, update, room.stored))
        try:
            created = await stored
        except BaseException:
            room.retract(added)
            raise
        room.stored = True
        if not room.apply_admitted(update, shape):
            # Not expected after the checks above, which predict how yrs places items; if
            # yrs disagrees, nobody has been sent the update yet: take it back out.
            await self._store.discard(self._pool, room.key, update)
            room.reload(await self._store.load(self._pool, room.key))
            raise InvalidUpdate("the update does not fit this document")
        room.writes_since_compaction += 1
        self._resized.add(room.key)
        if room.key.in_workspace:
            self._edits[room.key.scope_id] += 1
        await self._send_all(room, "sync-update", update, origin_sid)
        metrics.update_applied()
        metrics.update_relayed(received)
        self.fanout.publish(UPDATE, room.key, update, author if claims else None)
        if created:
            self._spawn(self.on_file_created(room.key))
        if room.writes_since_compaction >= self._compact_after:
            self._schedule_compaction(room.key)

    async def _check_file_quota(self, key: DocumentKey) -> None:
        # Two new files racing may both pass: the quota is a guard against abuse, not exact.
        if await self._store.count(self._pool, key.scope_id) >= self._max_files:
            raise QuotaExceeded(f"a session holds at most {self._max_files} files")

    async def relay_awareness(
        self, room: DocumentRoom, update: bytes, origin_sid: str | None
    ) -> None:
        await self._send_all(room, "awareness-update", update, origin_sid)
        self.fanout.publish(AWARENESS, room.key, update)

    async def receive_remote(
        self, key: DocumentKey, kind: bytes, payload: bytes, author: uuid.UUID | None
    ) -> None:
        """Traffic from another process: already committed there, so apply and relay."""
        if key in self._early:
            self._early[key].append((kind, payload, author))
            return
        room = self._rooms.get(key)
        if room is None:
            return  # not loaded here: it will be read from storage when it is
        self._apply_remote(room, kind, payload, author)
        event = "sync-update" if kind == UPDATE else "awareness-update"
        await self._send_all(room, event, payload, None)

    async def catch_up(self) -> None:
        """Bring every loaded room up to what is stored (see the module docstring)."""
        caught = 0
        for key, room in list(self._rooms.items()):
            try:
                stored = await self._store.load(self._pool, key)
            except Exception as exc:  # PostgreSQL down too: the next resubscription retries
                log.warning("could not catch %s up from storage: %s", key, exc)
                continue
            if self._rooms.get(key) is not room or not stored:
                continue  # unloaded, or replaced, meanwhile
            if await self._catch_up_room(room, stored):
                caught += 1
        if caught:
            log.info("caught %d documents up from storage after resubscribing", caught)

    async def _catch_up_room(self, room: DocumentRoom, stored: list[bytes]) -> bool:
        doc: pycrdt.Doc[Any] = pycrdt.Doc()
        apply_stored(doc, stored, room.key)
        missing = doc.get_update(room.state_vector())
        if missing == EMPTY_UPDATE:
            return False
        # Relayed whenever it is not empty: it carries the whole delete set, which a state
        # vector does not summarise, so deletions made elsewhere are never missed (a
        # duplicate is a no-op for Yjs). Already committed, as a remote update is.
        self._apply_remote(room, UPDATE, missing, None)
        await self._send_all(room, "sync-update", missing, None)
        return True

    async def _send_all(
        self, room: DocumentRoom, event: str, payload: bytes, origin_sid: str | None
    ) -> None:
        for namespace, eio_sids in room.recipients(origin_sid).items():
            await self._send(namespace, event, payload, eio_sids)

    def _apply_remote(
        self, room: DocumentRoom, kind: bytes, payload: bytes, author: uuid.UUID | None
    ) -> None:
        try:
            if kind == UPDATE:
                room.apply_committed(payload)
                room.note_remote(payload, author)
                metrics.update_applied(remote=True)
            elif kind == AWARENESS:
                room.note_awareness(payload)
        except ValueError:
            log.warning("ignoring a malformed %r message for %s", kind, room.key)

    # -- background work ---------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule_compaction(self, key: DocumentKey, room: DocumentRoom | None = None) -> None:
        if key in self._compacting:
            return
        self._compacting.add(key)
        room = room or self._rooms.get(key)
        if room is not None:
            room.writes_since_compaction = 0
        self._spawn(self._compact(key, room))

    async def _compact(self, key: DocumentKey, room: DocumentRoom | None = None) -> None:
        try:
            async with self._pool.acquire() as conn:
                folded = await self._store.compact(conn, key)
            log.debug("compacted %s: %d updates folded", key, folded)
            if folded and self.on_compacted is not None:
                await self.on_compacted(key, room)
        except Exception:
            log.exception("compacting %s failed; it will be tried again", key)
        finally:
            self._compacting.discard(key)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self._idle_seconds / 2))
            await self._flush_changes()
            now = time.monotonic()
            for key, room in list(self._rooms.items()):
                if key in self.writer.in_doubt:
                    continue  # its memory may be the only full copy until it is stored again
                if room.idle_since is not None and now - room.idle_since >= self._idle_seconds:
                    del self._rooms[key]
                    if room.writes_since_compaction:
                        self._schedule_compaction(key, room)
