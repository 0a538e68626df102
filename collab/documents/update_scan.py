"""A bounded scan of untrusted Yjs bytes before the native decoder sees them, without I/O.

pycrdt's decoder (yrs) trusts its input in ways a server cannot: it recurses once per level
of a nested value (an update of ~60 KB holding arrays nested 30,000 deep overflows the
native stack and kills the process with SIGSEGV), it reads strings without checking their
UTF-8, and deleting a shared type recurses once per level of types nested inside it. So
every update and state vector from a client is walked here first, in the lib0 v1 encoding
exactly as yrs reads it, and refused unless:

- it parses completely, with no trailing bytes, and every length fits in what is left;
- every string is valid UTF-8;
- every JSON-like value (`ContentAny`, sub-document options) nests at most
  `MAX_VALUE_DEPTH` levels, checked with an explicit stack, never by recursion;
- clocks stay within yrs's 32-bit range;
- it uses only the content kinds Yjs writes today (`ContentJSON`, which Yjs stopped writing
  and yrs reads differently from Yjs, and weak links are refused).

It also counts the shared types an update creates (`ContentType` items): a type can sit
only inside another type, so the number of types in a document bounds how deeply they nest,
and the caller caps that number per document (see `DocumentRoom`).

Layout (lib0 v1, as in yrs `Update::decode`): varUint clients, then per client varUint
structs, varUint client id, varUint first clock, then each struct (an info byte: 0 GC, 10
Skip, else an item whose low five bits name its content); then the delete set: varUint
clients, per client varUint id, varUint ranges, each varUint clock, varUint length.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class InvalidUpdate(ValueError):
    """Bytes that are not a Yjs update (or state vector) this server will decode."""


MAX_VALUE_DEPTH = 64  # JSON-like values nested deeper are refused
MAX_CLOCK = 2**32 - 1  # yrs keeps clocks, lengths and counts in 32 bits
MAX_CLIENT_ID = 2**64 - 1  # as yrs reads them (documents already stored may hold any)
# What a client may name: Yjs (lib0) reads a client id into a JavaScript number, exact only
# up to Number.MAX_SAFE_INTEGER. Text under a larger id has another id in every browser,
# whose edits next to it or deletions of it then name items the server does not have.
MAX_SAFE_CLIENT_ID = 2**53 - 1

_HAS_ORIGIN, _HAS_RIGHT_ORIGIN, _HAS_PARENT_SUB = 0x80, 0x40, 0x20
_GC, _SKIP = 0, 10
# Item content kinds (the info byte's low five bits).
_DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC = range(1, 10)
# Shared type kinds inside `ContentType` that yrs and Yjs read alike: Array, Map, Text,
# XmlElement (3, carries a name), XmlFragment, XmlText. XmlHook (Yjs reads a name, yrs does
# not), weak links, sub-document and undefined refs are refused.
_TYPE_KINDS = {0, 1, 2, 3, 4, 6}
_XML_ELEMENT = 3


ItemId = tuple[int, int]  # (client, clock)


@dataclass(frozen=True)
class UpdateShape:
    structs: int
    # The ids of its `ContentType` items (each can nest one level deeper than its parent),
    # and the ids its items name as their parent: yrs accepts any id there when decoding
    # and fails only when applying, after the update was stored, unless it is a type.
    types: frozenset[ItemId] = frozenset()
    parents: frozenset[ItemId] = frozenset()
    # Every id outside itself its items refer to (origins, parents), the clocks it writes
    # per client (start, end), and the ranges its delete set names (client, start, end). A
    # document must already hold what it refers to: yrs keeps what it cannot place as
    # "pending", and a pending item fails later, when someone else's edit arrives.
    refs: frozenset[ItemId] = frozenset()
    writes: dict[int, tuple[int, int]] = field(default_factory=dict)
    deletes: tuple[tuple[int, int, int], ...] = ()
    # Every left and right origin named, and the id of the second half of each surrogate
    # pair its text writes: yrs mishandles an edit that splits a pair (the document then
    # encodes to another text than it holds, or to one that cannot be read back).
    lefts: frozenset[ItemId] = frozenset()
    rights: frozenset[ItemId] = frozenset()
    pair_halves: frozenset[ItemId] = frozenset()


class _Reader:
    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)

    def byte(self) -> int:
        if self.pos >= self.end:
            raise InvalidUpdate("truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def var_uint(self, limit: int = MAX_CLOCK) -> int:
        data, pos, end = self.data, self.pos, self.end
        if pos < end and data[pos] < 0x80:  # the common one-byte case
            self.pos = pos + 1
            value: int = data[pos]
            return value
        value, shift = 0, 0
        while True:
            if pos >= end:
                raise InvalidUpdate("truncated number")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 63:
                raise InvalidUpdate("number too long")
        if value > limit:
            raise InvalidUpdate("number out of range")
        self.pos = pos
        return value

    def var_int(self) -> None:
        """A signed lib0 varInt (first byte: continuation, sign, six bits)."""
        first = self.byte()
        shift = 6
        byte = first
        while byte & 0x80:
            byte = self.byte()
            shift += 7
            if shift > 70:
                raise InvalidUpdate("number too long")

    def skip(self, count: int) -> None:
        if count > self.end - self.pos:
            raise InvalidUpdate("length beyond the end")
        self.pos += count

    def count(self, minimum_bytes_each: int) -> int:
        """A element count, refused if the elements cannot possibly fit in what is left."""
        value = self.var_uint()
        if value * minimum_bytes_each > self.end - self.pos:
            raise InvalidUpdate("count beyond the end")
        return value

    def buffer(self) -> int:
        length = self.var_uint()
        self.skip(length)
        return length

    def utf16(self) -> tuple[int, list[int]]:
        """Skip a varString (checked as for `string`); return its length in UTF-16 units
        and the offsets of its characters that take two (surrogate pairs)."""
        length = self.var_uint()
        start = self.pos
        self.skip(length)
        chunk = self.data[start : self.pos]
        if chunk.isascii():
            return length, []
        try:
            text = chunk.decode()
        except UnicodeDecodeError:
            raise InvalidUpdate("string is not UTF-8") from None
        units, pairs = 0, []
        for char in text:
            if char > "\uffff":
                pairs.append(units)
                units += 2
            else:
                units += 1
        return units, pairs

    def string(self) -> int:
        """Skip a varString after checking its UTF-8; return its length in UTF-16 units
        (what a string item adds to its client's clock, in yrs as in Yjs)."""
        length = self.var_uint()
        start = self.pos
        self.skip(length)
        chunk = self.data[start : self.pos]
        if chunk.isascii():
            return length
        try:
            text = chunk.decode()
        except UnicodeDecodeError:
            raise InvalidUpdate("string is not UTF-8") from None
        return len(text) + sum(1 for char in text if char > "\uffff")


def _value(reader: _Reader) -> None:
    """Skip one lib0 `Any`, nested at most MAX_VALUE_DEPTH deep (iteratively)."""
    # Each stack entry: how many values are still to read at that level, and whether the
    # level is an object (each value preceded by its key).
    pending: list[list[int]] = []
    remaining = 1
    in_object = False
    while True:
        if remaining == 0:
            if not pending:
                return
            remaining, flag = pending.pop()
            in_object = bool(flag)
            continue
        remaining -= 1
        if in_object:
            reader.string()
        tag = reader.byte()
        if tag in (127, 126, 121, 120):  # undefined, null, false, true
            continue
        if tag == 125:
            reader.var_int()
        elif tag == 124:
            reader.skip(4)
        elif tag in (123, 122):
            reader.skip(8)
        elif tag == 119:
            reader.string()
        elif tag == 116:
            reader.buffer()
        elif tag in (118, 117):  # object, array
            if len(pending) >= MAX_VALUE_DEPTH:
                raise InvalidUpdate(f"values may nest at most {MAX_VALUE_DEPTH} levels")
            pending.append([remaining, int(in_object)])
            in_object = tag == 118
            remaining = reader.count(2 if in_object else 1)
        else:
            raise InvalidUpdate(f"unknown value tag {tag}")


def _content(reader: _Reader, kind: int) -> tuple[int, bool]:
    """Skip an item's content; return (its clock length, is a type). An item of length 0
    is dropped by yrs and does not advance the clock."""
    if kind == _ANY:
        values = reader.count(1)
        for _ in range(values):
            _value(reader)
        return values, False
    if kind == _DELETED:
        return reader.var_uint(), False
    if kind == _BINARY:
        reader.buffer()
    elif kind == _EMBED:
        reader.string()
    elif kind == _FORMAT:
        reader.string()
        reader.string()
    elif kind == _TYPE:
        type_kind = reader.byte()
        if type_kind not in _TYPE_KINDS:
            raise InvalidUpdate(f"unsupported shared type {type_kind}")
        if type_kind == _XML_ELEMENT:
            reader.string()
        return 1, True
    elif kind == _DOC:
        reader.string()
        _value(reader)
    else:  # _JSON (legacy, read differently by yrs and Yjs) and anything unknown
        raise InvalidUpdate(f"unsupported content kind {kind}")
    return 1, False


def _refer(refs: set[ItemId], item: ItemId, client: int, start: int, clock: int) -> None:
    """Note what the item at (client, clock) refers to. yrs places an item only after what
    it refers to: a later item of this update is never placed (it stays pending, to fail
    later); an earlier one (or itself, as yrs writes for some right origins) needs nothing."""
    if item[0] == client and item[1] > clock:
        raise InvalidUpdate("an item refers to a later one")
    if item[0] != client or item[1] < start:
        refs.add(item)  # outside this update: the document must hold it


def scan_update(data: bytes) -> UpdateShape:
    """Walk a v1 update; raise InvalidUpdate unless pycrdt can safely decode it."""
    shape = scan_small_update(data)
    return shape if shape is not None else scan_full_update(data)


def _var(data: bytes, pos: int, end: int, limit: int) -> tuple[int, int]:
    """A varUint at `pos` as `_Reader.var_uint` reads it: (value, next position), or
    (-1, pos) wherever that would refuse (too long, out of range, truncated)."""
    value, shift = 0, 0
    while pos < end:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (value, pos) if value <= limit else (-1, pos)
        shift += 7
        if shift > 63:
            break
    return -1, pos


_EMPTY: frozenset[ItemId] = frozenset()


def scan_small_update(data: bytes) -> UpdateShape | None:
    """The shape of a keystroke-sized update, or None to take the full scan.

    A keystroke from a Yjs client is one client's one or two string items, each placed by
    an origin, and/or a delete set of one client: this reads exactly that, as
    `scan_full_update` would, and returns None at the first byte outside it and wherever
    the full scan would refuse, so the full scan decides every refusal and every other
    shape. Same result and same facts (tests/documents/test_update_scan_fast_path.py
    compares the two on generated edits and on mutated bytes), in about a third of the time.
    """
    end = len(data)
    if end < 2 or end > 1024:
        return None
    clients = data[0]
    writes: dict[int, tuple[int, int]] = {}
    lefts: list[ItemId] = []
    rights: list[ItemId] = []
    refs: list[ItemId] = []
    structs = 0
    pos = 1
    if clients == 1:
        structs = data[1]
        if structs != 1 and structs != 2:
            return None
        client, pos = _var(data, 2, end, MAX_CLIENT_ID)
        if client < 0:
            return None
        start, pos = _var(data, pos, end, MAX_CLOCK)
        if start < 0:
            return None
        clock = start
        for _ in range(structs):
            if pos >= end:
                return None
            info = data[pos]
            pos += 1
            # A string item placed by an origin (then its parent and key are not read).
            if info & 0x1F != _STRING or not info & 0xC0:
                return None
            if info & _HAS_ORIGIN:
                other, pos = _var(data, pos, end, MAX_CLIENT_ID)
                at, pos = _var(data, pos, end, MAX_CLOCK) if other >= 0 else (-1, pos)
                if at < 0 or (other == client and at > clock):
                    return None
                lefts.append((other, at))
                if other != client or at < start:
                    refs.append((other, at))
            if info & _HAS_RIGHT_ORIGIN:
                other, pos = _var(data, pos, end, MAX_CLIENT_ID)
                at, pos = _var(data, pos, end, MAX_CLOCK) if other >= 0 else (-1, pos)
                if at < 0 or (other == client and at > clock):
                    return None
                rights.append((other, at))
                if other != client or at < start:
                    refs.append((other, at))
            if pos < end and data[pos] < 0x80:
                length = data[pos]
                pos += 1
            else:
                length, pos = _var(data, pos, end, MAX_CLOCK)
            if length < 0 or length > end - pos:
                return None
            chunk = data[pos : pos + length]
            pos += length
            if not chunk.isascii():
                try:
                    text = chunk.decode()
                except UnicodeDecodeError:
                    return None
                if max(text) > "\uffff":
                    return None  # surrogate pairs: the full scan notes their halves
                length = len(text)
            clock += length
            if clock > MAX_CLOCK:
                return None
        writes[client] = (start, clock)
    elif clients != 0:
        return None
    deletes: list[tuple[int, int, int]] = []
    if pos >= end:
        return None
    ranged = data[pos]
    pos += 1
    if ranged == 1:
        client, pos = _var(data, pos, end, MAX_CLIENT_ID)
        if client < 0 or pos >= end:
            return None
        ranges = data[pos]
        pos += 1
        if ranges >= 0x80:
            return None
        for _ in range(ranges):
            first, pos = _var(data, pos, end, MAX_CLOCK)
            length, pos = _var(data, pos, end, MAX_CLOCK) if first >= 0 else (-1, pos)
            if length < 0 or first + length > MAX_CLOCK:
                return None
            deletes.append((client, first, first + length))
    elif ranged != 0:
        return None
    if pos != end:
        return None
    # As the dataclass's own __init__ would set them (a frozen one sets each field through
    # object.__setattr__, a third of this function's time).
    shape = _new(UpdateShape)
    vars(shape).update(
        structs=structs,
        types=_EMPTY,
        parents=_EMPTY,
        refs=frozenset(refs),
        writes=writes,
        deletes=tuple(deletes),
        lefts=frozenset(lefts),
        rights=frozenset(rights),
        pair_halves=_EMPTY,
    )
    return shape


_new = object.__new__


def scan_full_update(data: bytes) -> UpdateShape:
    """Walk any v1 update (see the module docstring); raise InvalidUpdate unless pycrdt can
    safely decode it."""
    reader = _Reader(data)
    structs = 0
    types: set[ItemId] = set()
    parents: set[ItemId] = set()
    refs: set[ItemId] = set()
    writes: dict[int, tuple[int, int]] = {}
    lefts: set[ItemId] = set()
    rights: set[ItemId] = set()
    halves: set[ItemId] = set()
    for _ in range(reader.count(3)):
        count = reader.count(1)
        client = reader.var_uint(MAX_CLIENT_ID)
        start = clock = reader.var_uint()
        if client in writes:
            raise InvalidUpdate("a client appears twice")

        for _ in range(count):
            info = reader.byte()
            if info == _GC:
                length = reader.var_uint()
            elif info == _SKIP:  # a gap: what follows could not be placed
                raise InvalidUpdate("updates with gaps are not accepted")
            else:
                kind = info & 0x1F
                if kind in (_GC, _SKIP) or kind > _DOC:
                    raise InvalidUpdate(f"unsupported struct {info}")
                if info & _HAS_ORIGIN:
                    left = (reader.var_uint(MAX_CLIENT_ID), reader.var_uint())
                    lefts.add(left)
                    _refer(refs, left, client, start, clock)
                if info & _HAS_RIGHT_ORIGIN:
                    right = (reader.var_uint(MAX_CLIENT_ID), reader.var_uint())
                    rights.add(right)
                    _refer(refs, right, client, start, clock)
                if not info & (_HAS_ORIGIN | _HAS_RIGHT_ORIGIN):
                    if reader.var_uint() == 1:
                        reader.string()  # a root type's name
                    else:
                        parent = (reader.var_uint(MAX_CLIENT_ID), reader.var_uint())
                        parents.add(parent)
                        _refer(refs, parent, client, start, clock)
                    if info & _HAS_PARENT_SUB:
                        reader.string()
                if kind == _STRING:
                    length, pairs = reader.utf16()
                    halves.update((client, clock + at + 1) for at in pairs)
                else:
                    length, is_type = _content(reader, kind)
                    if is_type:
                        types.add((client, clock))
            clock += length
            if clock > MAX_CLOCK:
                raise InvalidUpdate("clock out of range")
            structs += 1
        writes[client] = (start, clock)
    deletes = []
    for _ in range(reader.count(2)):
        client = reader.var_uint(MAX_CLIENT_ID)
        for _ in range(reader.count(2)):
            start = reader.var_uint()
            end = start + reader.var_uint()
            if end > MAX_CLOCK:
                raise InvalidUpdate("deleted range out of range")
            deletes.append((client, start, end))
    if reader.pos != reader.end:
        raise InvalidUpdate("trailing bytes")
    # Another client's item written by this same update (a reconnect diff carrying what a
    # process lacks) needs nothing more; yrs orders them, and a cycle it cannot place is
    # caught after applying (DocumentRoom.apply_admitted).
    refs = {
        (client, clock)
        for client, clock in refs
        if not (client in writes and writes[client][0] <= clock < writes[client][1])
    }
    return UpdateShape(
        structs,
        frozenset(types),
        frozenset(parents),
        frozenset(refs),
        writes,
        tuple(deletes),
        frozenset(lefts),
        frozenset(rights),
        frozenset(halves),
    )


def names_unsafe_client(shape: UpdateShape) -> bool:
    """Whether an update writes, refers to or deletes under a client id JavaScript clients
    cannot hold exactly (above MAX_SAFE_CLIENT_ID): `refs` and `types` are among these."""
    limit = MAX_SAFE_CLIENT_ID
    return (
        any(client > limit for client in shape.writes)
        or any(client > limit for client, _ in shape.lefts)
        or any(client > limit for client, _ in shape.rights)
        or any(client > limit for client, _ in shape.parents)
        or any(client > limit for client, _, _ in shape.deletes)
    )


def scan_state_vector(data: bytes) -> dict[int, int]:
    """Read a v1 state vector: varUint n, then n pairs of varUint client, varUint clock."""
    reader = _Reader(data)
    clocks = {}
    for _ in range(reader.count(2)):
        client = reader.var_uint(MAX_CLIENT_ID)
        clocks[client] = reader.var_uint()
    if reader.pos != reader.end:
        raise InvalidUpdate("trailing bytes")
    return clocks


def state_vector_scans(data: bytes) -> bool:
    """Whether these bytes read as a state vector (`scan_state_vector` does not refuse them)."""
    try:
        scan_state_vector(data)
    except InvalidUpdate:
        return False
    return True
