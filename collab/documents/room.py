"""One loaded document: its pycrdt copy, the sockets editing it, and their awareness.

The pycrdt document only ever holds committed updates, so whatever it answers (a
`sync-step-1` diff, a file's text) is already durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pycrdt

from collab.documents import awareness
from collab.documents.update_scan import (
    InvalidUpdate,
    ItemId,
    UpdateShape,
    names_unsafe_client,
    scan_state_vector,
    scan_update,
)
from collab.model import DocumentKey, SessionRole

log = logging.getLogger(__name__)

# Shared types (Y.Map, Y.Array, … inside the file's document) one document may hold. A type
# nests only inside another, so this bounds how deeply they nest: deleting a type recurses
# once per level in yrs, and 60,000 levels overflow the native stack. A file's text needs
# none; 10,000 leaves room for clients that keep structured data beside it.
MAX_SHARED_TYPES = 10_000
# One provider announces one client id; a few leave room for several editors in one tab.
MAX_CLIENTS_PER_SOCKET = 8
REMEMBERED_REMOVALS = 1000  # client ids whose departure is remembered, to know its echoes
# Entries an awareness update may hold beyond one per client the room knows or knew.
AWARENESS_ENTRIES_SPARE = 1024


def check_update(update: bytes) -> UpdateShape:
    """Scan, then decode without applying (a few microseconds for a keystroke)."""
    shape = scan_update(update)
    if names_unsafe_client(shape):
        raise InvalidUpdate("a client id is beyond what Yjs clients read exactly (2**53 - 1)")
    try:
        pycrdt.merge_updates(update)
    except (ValueError, TypeError) as exc:
        raise InvalidUpdate(str(exc)) from None
    except BaseException as exc:  # a Rust panic surfaces as pyo3's PanicException
        if type(exc).__name__ != "PanicException":
            raise
        raise InvalidUpdate("the update could not be decoded") from None
    return shape


def placed(update: bytes, state_vector: bytes) -> bool:
    """Whether a document whose state vector this is holds every struct of `update`: what
    of the update it lacks (yrs computes it) then starts with a struct count of zero. yrs
    leaves out of the state vector what it holds as pending, so this is false for an update
    it could not place. (Decoding the state vector in Python instead, to compare clocks,
    cost O(clients) per edit: 64 µs at 50 editors, 263 µs at 200.)"""
    try:
        return pycrdt.get_update(update, state_vector)[:1] == b"\x00"
    except BaseException as exc:  # not expected: the update was just applied
        if not isinstance(exc, ValueError) and type(exc).__name__ != "PanicException":
            raise
        return False  # then it is taken back out and the room reloads, as for unplaced


@dataclass
class Structure:
    """What admission needs to know of a document beyond its clocks (see admit_structure)."""

    types: set[ItemId] = field(default_factory=set)
    pair_halves: set[ItemId] = field(default_factory=set)

    def add(self, shape: UpdateShape, known: dict[int, int]) -> set[ItemId]:
        """Note an update's new types and surrogate pairs; return the new types."""
        added = {item for item in shape.types if item[1] >= known.get(item[0], 0)}
        self.types |= added
        self.pair_halves |= shape.pair_halves
        return added


def stored_structure(stored: list[bytes]) -> Structure:
    """The shared types and surrogate pairs in a document's stored updates (pure Python:
    keep big ones off the event loop)."""
    structure = Structure()
    for update in stored:
        try:
            structure.add(scan_update(update), {})
        except InvalidUpdate:
            log.warning("a stored update does not scan; its structure is not counted")
    return structure


class TokenBucket:
    """A per-socket budget: `rate` a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._at = burst, time.monotonic()

    def take(self, amount: float = 1) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < amount:
            return False
        self._tokens -= amount
        return True


@dataclass
class Member:
    sid: str
    eio_sid: str
    namespace: str  # `/yjs|{session_id}/{path}`: sessions of one workspace share a room
    session_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    role: SessionRole
    limiter: TokenBucket  # messages
    byte_budget: TokenBucket  # bytes: checking an update costs time in proportion to its size
    client_clocks: dict[int, int] = field(default_factory=dict)


def apply_stored(doc: pycrdt.Doc[Any], stored: list[bytes], key: DocumentKey) -> None:
    """Apply what was stored, one update at a time: one that does not apply (stored by an
    older version that checked less) is skipped and logged, never a file nobody can open."""
    for update in stored:
        try:
            doc.apply_update(update)
        except Exception:
            log.exception("skipping a stored update of %s that does not apply", key)


class DocumentRoom:
    def __init__(
        self, key: DocumentKey, stored: list[bytes], structure: Structure | None = None
    ) -> None:
        self.key = key
        self.doc: pycrdt.Doc[Any] = pycrdt.Doc()
        self.text = self.doc.get("content", type=pycrdt.Text)
        apply_stored(self.doc, stored, key)
        self.members: dict[str, Member] = {}
        self.awareness: dict[int, awareness.AwarenessEntry] = {}
        self.awareness_owners: dict[int, str] = {}  # client id → the user id that announced it
        self.removed: dict[int, int] = {}  # client id → the clock it was removed at (oldest first)
        self.idle_since: float | None = time.monotonic()
        self.writes_since_compaction = len(stored)
        self.structure = stored_structure(stored) if structure is None else structure
        # Per client, the clock after the last change admitted (see admit_structure).
        self.clocks = scan_state_vector(self.doc.get_state())
        self.admission = asyncio.Lock()  # keeps admission in arrival order
        self.writers: dict[int, uuid.UUID] = {}  # Yjs client id → the user writing under it
        self.stored = bool(stored)  # False until the first update creates the file

    # -- document ------------------------------------------------------------------------

    @property
    def types(self) -> set[ItemId]:
        return self.structure.types

    def apply_committed(self, update: bytes) -> None:
        self.doc.apply_update(update)

    def admit_structure(
        self, shape: UpdateShape, author: uuid.UUID | None = None, *, claims: bool = True
    ) -> set[ItemId]:
        """Check an update's items against this document before it is committed.

        yrs checks an item's place only when applying it, after we stored it, and keeps
        what it cannot place yet as pending, to fail when someone else's edit arrives: an
        update that passed decoding could break the file for good. So, against the clocks
        admitted so far (in arrival order, committed or on their way): each client's
        writes must continue where the document is (no gap), everything referred to and
        deleted must exist already or be written by this update, every parent named must
        be a shared type, the types stay under the cap, and no edit splits a character
        written as a UTF-16 surrogate pair (yrs mishandles that). Returns the types it adds
        (`retract` them if it is not stored).

        A Yjs client id is one editor's: writing under another person's id would make
        yrs drop that person's next edits as duplicates. So the first person seen editing
        live under an id (here, or on another process) owns it while the document is
        loaded, and nobody else may write new changes under it. A client's reconnect diff
        (`claims=False`) may carry others' changes, new to this process if the fan-out is
        late: it is checked against the owners known, but claims nothing."""
        known = self.clocks
        fresh = [c for c, (_, end) in shape.writes.items() if end > known.get(c, 0)]
        for client in fresh:
            owner = self.writers.get(client)
            if owner is not None and author is not None and owner != author:
                raise InvalidUpdate("those changes belong to another person's editor")
        for client, (start, _) in shape.writes.items():
            if start > known.get(client, 0):
                raise InvalidUpdate("it continues changes this document does not have")

        if any(clock >= known.get(client, 0) for client, clock in shape.refs):
            raise InvalidUpdate("an item refers to one this document does not have")
        for client, _, end in shape.deletes:
            written = shape.writes.get(client, (0, 0))[1]
            if end > max(known.get(client, 0), written):
                raise InvalidUpdate("it deletes changes this document does not have")

        # Membership tests only: copying the document's sets would cost O(document) a keystroke.
        def half(item: ItemId) -> bool:
            return item in self.structure.pair_halves or item in shape.pair_halves

        if (
            any(half((client, clock + 1)) for client, clock in shape.lefts)
            or any(half(item) for item in shape.rights)
            or any(half((c, s)) or half((c, e)) for c, s, e in shape.deletes)
        ):
            raise InvalidUpdate("an edit would split a character in two")
        # A type id written before (a duplicate) is ignored by yrs: only new ones count.
        added = {item for item in shape.types if item[1] >= known.get(item[0], 0)}
        if not all(parent in self.types or parent in added for parent in shape.parents):
            raise InvalidUpdate("an item's parent is not a shared type of this document")
        if len(self.types) + len(added) > MAX_SHARED_TYPES:
            raise InvalidUpdate(f"a document holds at most {MAX_SHARED_TYPES} shared types")
        self.structure.add(shape, known)
        self._advance(shape)
        if author is not None and claims:
            for client in fresh:
                self.writers.setdefault(client, author)
        return added

    def apply_admitted(self, update: bytes, shape: UpdateShape) -> bool:
        """Apply a committed update; False if yrs refused it or could not place all of it
        (what it holds as pending would fail at someone else's next edit): the caller must
        then drop it from storage and `reload`."""
        try:
            self.doc.apply_update(update)
        except Exception:
            log.exception("an admitted update of %s does not apply", self.key)
            return False
        self._advance(shape)  # after a `retract`, what was admitted before it catches up here
        return placed(update, self.doc.get_state())

    def reload(self, stored: list[bytes]) -> None:
        """Start over from what is stored (the sockets stay)."""
        self.doc = pycrdt.Doc()
        self.text = self.doc.get("content", type=pycrdt.Text)
        apply_stored(self.doc, stored, self.key)
        self.structure = stored_structure(stored)
        self.clocks = scan_state_vector(self.doc.get_state())

    def retract(self, added: set[ItemId]) -> None:
        """An admitted update was not stored: forget its types, and fall back to the
        clocks of what is applied (updates admitted after it may then be refused)."""
        self.structure.types -= added
        self.clocks = scan_state_vector(self.doc.get_state())

    def note_remote(self, update: bytes, author: uuid.UUID | None = None) -> None:
        """An update another process committed and this one applied."""
        shape = scan_update(update)
        if author is not None:  # sent only with live edits (see DocumentRooms.submit)
            for client, (_, end) in shape.writes.items():
                if end > self.clocks.get(client, 0):
                    self.writers.setdefault(client, author)
        self.structure.add(shape, self.clocks)
        self._advance(shape)
        self.stored = True  # another process may have created the file

    def _advance(self, shape: UpdateShape) -> None:
        for client, (_, end) in shape.writes.items():
            if end > self.clocks.get(client, 0):
                self.clocks[client] = end

    def diff_since(self, state_vector: bytes, *, scanned: bool = False) -> bytes:
        """What this document has that a client with this state vector lacks. `scanned`:
        the caller already checked it scans (`update_scan.state_vector_scans`)."""
        try:
            if not scanned:
                scan_state_vector(state_vector)
            return self.doc.get_update(state_vector)
        except ValueError:
            return self.doc.get_update()  # a broken state vector gets everything

    def state_vector(self) -> bytes:
        return self.doc.get_state()

    def content(self) -> str:
        return str(self.text)

    def size(self) -> int:
        return len(self.content().encode())

    # -- sockets ---------------------------------------------------------------------------

    def add(self, member: Member) -> None:
        self.members[member.sid] = member
        self.idle_since = None

    def remove(self, sid: str) -> bytes | None:
        """Forget a socket; return the awareness removal to broadcast for its clients."""
        member = self.members.pop(sid, None)
        if not self.members:
            self.idle_since = time.monotonic()
        if member is None or not member.client_clocks:
            return None
        clocks = {cid: self._clock(cid, clock) for cid, clock in member.client_clocks.items()}
        for client_id, clock in clocks.items():
            self.awareness.pop(client_id, None)
            self.awareness_owners.pop(client_id, None)
            self._remember_removal(client_id, clock)
        return awareness.removal(clocks)

    def _remember_removal(self, client_id: int, clock: int) -> None:
        self.removed.pop(client_id, None)
        self.removed[client_id] = clock
        if len(self.removed) > REMEMBERED_REMOVALS:
            del self.removed[next(iter(self.removed))]

    def _clock(self, client_id: int, fallback: int) -> int:
        entry = self.awareness.get(client_id)
        return entry.clock if entry else fallback

    def recipients(self, exclude: str | None = None) -> dict[str, list[str]]:
        """Engine.IO sids to send to, by namespace."""
        by_namespace: dict[str, list[str]] = {}
        for sid, member in self.members.items():
            if sid != exclude:
                by_namespace.setdefault(member.namespace, []).append(member.eio_sid)
        return by_namespace

    # -- awareness -------------------------------------------------------------------------

    def accept_awareness(self, update: bytes, member: Member) -> bytes | None:
        """Check a socket's awareness update, note it, and return it stamped for relaying
        (None when it holds nothing new).

        A socket may speak only for client ids that nobody else announced (its user's own,
        as after a reconnect, are fine), for at most MAX_CLIENTS_PER_SOCKET of them, and
        only with JSON object states. Anything else refuses the whole update.

        Except echoes: the npm provider sends back every awareness change it receives,
        other people's included (a newcomer echoes the whole snapshot). An entry for a
        client id another socket announced, no newer than the state held, changes nothing
        (Yjs ignores it too), so it is dropped before anything is counted or refused; with
        N editors joining, refusing them cost N² error events."""
        user_id = str(member.user_id)
        # An entry for each client the room knows (an echo) or knew (an echoed removal),
        # and the socket's own: with room to spare, a few milliseconds of decoding at most.
        most = len(self.awareness) + len(self.removed) + AWARENESS_ENTRIES_SPARE
        decoded = awareness.decode(update, max_entries=most)
        entries = [entry for entry in decoded if not self._echo(entry, member)]
        if not entries:
            return None
        claimed = member.client_clocks.keys() | {entry.client_id for entry in entries}
        if len(claimed) > MAX_CLIENTS_PER_SOCKET:
            raise awareness.MalformedAwareness("too many client ids on one connection")
        stamped = []
        for entry in entries:
            owner = self.awareness_owners.get(entry.client_id)
            if owner is not None and owner != user_id:
                raise awareness.MalformedAwareness("that client id belongs to someone else")
            state = awareness.parse_state(entry.state)
            text = "null" if state is None else awareness.stamp(state, user_id, member.username)
            stamped.append(awareness.AwarenessEntry(entry.client_id, entry.clock, text))
        for entry in stamped:
            self._note(entry, member, user_id)
        return awareness.encode(stamped)

    def _echo(self, entry: awareness.AwarenessEntry, member: Member) -> bool:
        """A state no newer than the one held, for a client id this socket did not announce
        (another socket's: noting it would also make this socket's departure remove it).
        A departed client's removal comes back the same way from everyone who heard it, once
        the room holds nothing for that id: the remembered removal clock tells it apart."""
        if entry.client_id in member.client_clocks:
            return False
        known = self.awareness.get(entry.client_id)
        if known is not None:
            return entry.clock <= known.clock
        removed_at = self.removed.get(entry.client_id)
        return entry.state == "null" and removed_at is not None and entry.clock <= removed_at

    def note_awareness(self, update: bytes) -> None:
        """Awareness from another process, already checked and stamped there."""
        for entry in awareness.decode(update):
            self._note(entry, None, awareness.stamped_user(entry.state))

    def _note(
        self, entry: awareness.AwarenessEntry, member: Member | None, owner: str | None
    ) -> None:
        """Remember the latest state of each client (for newcomers) and who announced it."""
        known = self.awareness.get(entry.client_id)
        if known is not None and known.clock > entry.clock:
            return
        if entry.state == "null":
            self.awareness.pop(entry.client_id, None)
            self.awareness_owners.pop(entry.client_id, None)
            self._remember_removal(entry.client_id, entry.clock)
            if member is not None:
                member.client_clocks.pop(entry.client_id, None)
            return
        self.awareness[entry.client_id] = entry
        if owner is not None:
            self.awareness_owners[entry.client_id] = owner
        if member is not None:
            member.client_clocks[entry.client_id] = entry.clock

    def awareness_snapshot(self) -> bytes:
        return awareness.encode(list(self.awareness.values()))
