"""File history: keeping a file's versions, and restoring one as a new CRDT update.

A version is the file's text at one moment, kept
- at each compaction (`on_compacted`, called by DocumentRooms after it folded updates),
- as a named checkpoint an editor asks for,
- just before a restore (so every restore can be undone by restoring that copy).

Its `authors` are the people whose Yjs clients wrote since the previous version of the
file: the clients whose clock advanced between the two state vectors, mapped to people by
the room's `writers` (who edited live under which client id). That map lives in memory
while the room is loaded, so clients seen only before a restart, or only on another
process, are not named; authors are a courtesy, not an audit trail (the audit log is).

A restore never rewrites history: it diffs the current text against the version's
(lines, then characters inside changed lines), applies the deletions and insertions to a
copy of the document, and submits the resulting update through the normal edit path as the
restoring user: it is stored, relayed to every connected client and to other processes,
like a keystroke.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import uuid
from collections.abc import Collection, Mapping
from typing import Any, Protocol

import asyncpg
import pycrdt

from collab.documents.room import DocumentRoom, apply_stored
from collab.documents.rooms import DocumentRooms
from collab.documents.store import DocumentStore
from collab.documents.update_scan import scan_state_vector
from collab.documents.version_store import Kind, NewVersion, VersionInfo, VersionStore
from collab.model import DocumentKey
from kernel.errors import NotFound
from kernel.sql import Executor

log = logging.getLogger(__name__)

# A replaced block of lines longer than this is replaced whole rather than diffed by
# character (difflib is quadratic in the worst case).
CHAR_DIFF_LIMIT = 20_000
# Edits racing a restore may leave the text off the target: try again this many times.
RESTORE_ATTEMPTS = 3
# Texts beyond this are diffed on a worker thread, keeping the event loop free.
DIFF_IN_THREAD_CHARS = 16 * 1024

Edit = tuple[int, int, str]  # replace characters [start, end) of the current text by this


def text_edits(current: str, target: str) -> list[Edit]:
    """Small edits turning `current` into `target`, in increasing order, not overlapping."""
    prefix = 0
    limit = min(len(current), len(target))
    while prefix < limit and current[prefix] == target[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < limit - prefix
        and current[len(current) - 1 - suffix] == target[len(target) - 1 - suffix]
    ):
        suffix += 1
    a, b = current[prefix : len(current) - suffix], target[prefix : len(target) - suffix]
    if not a and not b:
        return []
    edits: list[Edit] = []
    a_lines, b_lines = a.splitlines(keepends=True), b.splitlines(keepends=True)
    a_at = _offsets(a_lines)
    b_at = _offsets(b_lines)
    lines = difflib.SequenceMatcher(None, a_lines, b_lines, autojunk=False)
    for op, i1, i2, j1, j2 in lines.get_opcodes():
        if op == "equal":
            continue
        start, end = a_at[i1], a_at[i2]
        old, new = a[start:end], b[b_at[j1] : b_at[j2]]
        if op == "replace" and len(old) + len(new) <= CHAR_DIFF_LIMIT:
            chars = difflib.SequenceMatcher(None, old, new, autojunk=False)
            for cop, c1, c2, d1, d2 in chars.get_opcodes():
                if cop != "equal":
                    edits.append((prefix + start + c1, prefix + start + c2, new[d1:d2]))
        else:
            edits.append((prefix + start, prefix + end, new))
    return edits


def _offsets(lines: list[str]) -> list[int]:
    at = [0]
    for line in lines:
        at.append(at[-1] + len(line))
    return at


def restoring_update(state: bytes, edits: list[Edit], current: str) -> bytes:
    """The update that applies `edits` to a document whose whole state is `state` (from a
    fresh copy, so under a new client id). pycrdt indexes text by UTF-8 bytes: the edits'
    character offsets are converted, so no character is ever split."""
    copy: pycrdt.Doc[Any] = pycrdt.Doc()
    copy.apply_update(state)
    text = copy.get("content", type=pycrdt.Text)
    if str(text) != current:
        raise RuntimeError("the copy does not hold the text the edits were computed on")
    before = copy.get_state()
    with copy.transaction():
        for start, end, insert in reversed(edits):  # from the end: earlier offsets hold
            at = len(current[:start].encode())
            stop = len(current[:end].encode())
            if stop > at:
                del text[at:stop]
            if insert:
                text.insert(at, insert)
    return copy.get_update(before)


class Named(Protocol):
    @property
    def username(self) -> str: ...


class People(Protocol):
    """Where authors' names come from (auth.users.UserStore)."""

    async def profiles(
        self, db: Executor, user_ids: Collection[uuid.UUID]
    ) -> Mapping[uuid.UUID, Named]: ...


class DocumentVersions:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: VersionStore,
        documents: DocumentStore,
        rooms: DocumentRooms,
        people: People,
        keep: int,
    ) -> None:
        self._pool = pool
        self._people = people
        self._store = store
        self._documents = documents
        self._rooms = rooms
        self._keep = keep

    # -- keeping versions ----------------------------------------------------------------

    async def on_compacted(self, key: DocumentKey, room: DocumentRoom | None) -> None:
        """Keep the text a compaction folded (unless the newest version already has it)."""
        try:
            await self._keep_current(key, room, "compaction")
        except Exception:
            log.exception("keeping a version of %s at its compaction failed", key)

    async def checkpoint(self, user_id: uuid.UUID, key: DocumentKey, name: str) -> dict[str, Any]:
        room = await self._rooms.open(key)
        if not room.stored:
            raise NotFound("No such file.")
        version_id = await self._keep_current(
            key, room, "checkpoint", name=name, created_by=user_id, always=True
        )
        return await self._answer(key, version_id)

    async def _keep_current(
        self,
        key: DocumentKey,
        room: DocumentRoom | None,
        kind: Kind,
        *,
        name: str | None = None,
        created_by: uuid.UUID | None = None,
        always: bool = False,
    ) -> uuid.UUID | None:
        if room is None:
            room = self._rooms.loaded(key)
        if room is not None:
            text, state, writers = room.content(), room.state_vector(), room.writers
        else:  # compacted after its room was unloaded: read it back from storage
            stored = await self._documents.load(self._pool, key)
            if not stored:
                return None
            doc: pycrdt.Doc[Any] = pycrdt.Doc()
            apply_stored(doc, stored, key)
            text, state, writers = str(doc.get("content", type=pycrdt.Text)), doc.get_state(), {}
        latest = await self._store.latest(self._pool, key)
        if not always and latest is not None and latest.text == text:
            return None
        since = scan_state_vector(latest.state_vector) if latest else {}
        advanced = [c for c, clock in scan_state_vector(state).items() if clock > since.get(c, 0)]
        authors = [writers[c] for c in advanced if c in writers]
        version = NewVersion(kind, text, state, authors, name, created_by)
        version_id = await self._store.add(self._pool, key, version)
        if version_id is None and always:
            raise NotFound("No such file.")
        await self._store.prune(self._pool, key, self._keep)
        return version_id

    # -- reading -------------------------------------------------------------------------

    async def history(self, key: DocumentKey) -> list[dict[str, Any]]:
        versions = await self._store.of_file(self._pool, key)
        if not versions and await self._rooms.text(key) is None:
            raise NotFound("No such file.")
        return await self._json(versions)

    async def text(self, key: DocumentKey, version_id: uuid.UUID) -> str:
        text = await self._store.text(self._pool, key, version_id)
        if text is None:
            raise NotFound("No such version.")
        return text

    async def _answer(self, key: DocumentKey, version_id: uuid.UUID | None) -> dict[str, Any]:
        info = await self._store.get(self._pool, key, version_id) if version_id else None
        if info is None:
            raise NotFound("No such file.")
        return (await self._json([info]))[0]

    # -- restoring -----------------------------------------------------------------------

    async def restore(
        self, user_id: uuid.UUID, key: DocumentKey, version_id: uuid.UUID
    ) -> dict[str, Any]:
        """Make the file's text the version's, as a new update by `user_id`."""
        target = await self.text(key, version_id)
        room = await self._rooms.open(key)
        if not room.stored:
            raise NotFound("No such file.")
        saved = await self._keep_current(key, room, "restore", created_by=user_id)
        for _ in range(RESTORE_ATTEMPTS):
            current = room.content()
            if current == target:
                break
            if len(current) + len(target) < DIFF_IN_THREAD_CHARS:
                edits = text_edits(current, target)
            else:
                edits = await asyncio.to_thread(text_edits, current, target)
            if room.content() != current:
                continue  # someone edited while we diffed
            update = restoring_update(room.doc.get_update(), edits, current)
            await self._rooms.submit(room, update, None, user_id)
        text = room.content()
        return {
            "restored": str(version_id),
            "saved_as": str(saved) if saved else None,
            "size": len(text.encode()),
            "matches": text == target,
        }

    async def _json(self, versions: list[VersionInfo]) -> list[dict[str, Any]]:
        """The answer's shape; authors by name (accounts deleted since are left out)."""
        ids = {author for info in versions for author in info.authors}
        names = {u: p.username for u, p in (await self._people.profiles(self._pool, ids)).items()}
        return [
            {
                "version_id": str(info.version_id),
                "name": info.name,
                "kind": info.kind,
                "created_at": info.created_at.isoformat(),
                "authors": sorted(
                    ({"user_id": str(a), "username": names[a]} for a in info.authors if a in names),
                    key=lambda author: author["username"],
                ),
                "size": info.size,
                "created_by": str(info.created_by) if info.created_by else None,
            }
            for info in versions
        ]
