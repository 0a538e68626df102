"""Generated hostile Yjs bytes: valid updates, mutations of them, and crafted attacks.

A seed fixes the cases (up to the order pycrdt encodes map entries in). `main` runs every case
through the same path a document takes on the server (scan, decode, apply to a room, answer
a sync-step-1, delete everything) in this process, which is meant to be a child: if the
native decoder crashes, the parent sees the signal and the index of the case.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pycrdt

from collab.documents.room import DocumentRoom, check_update
from collab.documents.update_scan import InvalidUpdate
from collab.model import DocumentKey

HUGE = [2**31, 2**32 - 1, 2**32, 2**53, 2**63, 2**64 - 1]


def var_uint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def var_string(text: str) -> bytes:
    data = text.encode()
    return var_uint(len(data)) + data


def item_on_root(
    content_kind: int, content: bytes, *, client: int = 1, root: str = "content"
) -> bytes:
    """One update holding one item on a root type, with no delete set."""
    header = var_uint(1) + var_uint(1) + var_uint(client) + var_uint(0)
    return header + bytes([content_kind]) + var_uint(1) + var_string(root) + content + b"\x00"


def nested_values(depth: int, kind: str) -> bytes:
    """A lib0 Any nested `depth` levels (arrays, objects or both), then a string."""
    out = bytearray()
    for level in range(depth):
        if kind == "array" or (kind == "mixed" and level % 2):
            out += b"\x75\x01"
        else:
            out += b"\x76\x01" + var_string("k")
    return bytes(out) + b"\x77" + var_string("x")


def nested_types(depth: int, client: int = 7, first_clock: int = 0) -> bytes:
    """`depth` Y.Arrays, each inside the previous one: one update."""
    out = bytearray(var_uint(1) + var_uint(depth) + var_uint(client) + var_uint(first_clock))
    out += b"\x07" + var_uint(1) + var_string("nest") + b"\x00"
    for clock in range(first_clock + 1, first_clock + depth):
        out += b"\x07" + var_uint(0) + var_uint(client) + var_uint(clock - 1) + b"\x00"
    return bytes(out + b"\x00")


def crafted() -> Iterator[bytes]:
    """Attacks written by hand: deep values in every place they can go, huge lengths."""
    for depth in (64, 65, 1_000, 30_000):
        for kind in ("array", "object", "mixed"):
            yield item_on_root(8, b"\x01" + nested_values(depth, kind))  # ContentAny
            yield item_on_root(9, var_string("guid") + nested_values(depth, kind))  # ContentDoc
        deep_json = "[" * depth + "]" * depth
        yield item_on_root(5, var_string(deep_json))  # ContentEmbed
        yield item_on_root(6, var_string("bold") + var_string(deep_json))  # ContentFormat
        yield item_on_root(2, var_uint(1) + var_string(deep_json))  # legacy ContentJSON
    for depth in (10, 60_000):
        yield nested_types(depth)
    for huge in HUGE:
        n = var_uint(huge)
        yield n  # clients
        yield var_uint(1) + n + var_uint(1) + var_uint(0)  # structs
        yield var_uint(1) + var_uint(1) + var_uint(1) + n + b"\x04" + var_uint(1)  # clock
        yield item_on_root(4, n + b"abc")  # string length
        yield item_on_root(3, n + b"abc")  # binary length
        yield item_on_root(8, n + b"\x7e")  # Any count
        yield item_on_root(8, b"\x01\x75" + n + b"\x7e")  # array length
        yield item_on_root(8, b"\x01\x76" + n)  # object length
        yield item_on_root(1, n)  # deleted length
        yield var_uint(1) + var_uint(1) + var_uint(1) + var_uint(0) + b"\x00" + n + b"\x00"  # GC
        yield b"\x00" + var_uint(1) + var_uint(1) + n  # delete set ranges
        yield b"\x00" + var_uint(1) + var_uint(1) + var_uint(1) + var_uint(2**32 - 2) + n
        yield n + var_uint(1) + var_uint(1)  # as a state vector
    # Items whose parent is not a type: a character of the victim's text, a clock the
    # victim has not written yet (held as pending, it broke the victim's next edit).
    for parent_clock in (0, 5, 11, 12, 40):
        header = var_uint(1) + var_uint(1) + var_uint(999) + var_uint(0)
        parent = var_uint(0) + var_uint(VICTIM) + var_uint(parent_clock)
        yield header + b"\x04" + parent + var_string("x") + b"\x00"
        yield header + b"\x27" + parent + var_string("k") + b"\x00\x00"  # a type, keyed
    yield item_on_root(4, var_uint(2) + b"\xc3\x28")  # invalid UTF-8
    yield item_on_root(7, b"\x07\x00")  # a weak link
    yield item_on_root(7, b"\x05" + var_string("hook"))  # an XmlHook (read differently)
    yield b""
    yield b"\x00"
    yield b"\x00\x00\x00"


def valid_updates(rng: random.Random, count: int) -> list[bytes]:
    """Updates a real client would send: text, formatting, maps, arrays, nested types, XML."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=rng.randrange(2, 2**32))
    text = doc.get("content", type=pycrdt.Text)
    meta = doc.get("meta", type=pycrdt.Map)
    items = doc.get("items", type=pycrdt.Array)
    xml = doc.get("xml", type=pycrdt.XmlFragment)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    actions: list[Callable[[], object]] = [
        lambda: text.insert(rng.randint(0, len(text)), rng.choice(["a", "bc", "é", "😀", "\n"])),
        lambda: len(text) > 2 and text.__delitem__(slice(0, rng.randint(1, 2))),
        lambda: len(text) > 3 and text.format(0, 2, {"bold": rng.random() < 0.5}),
        lambda: text.insert_embed(rng.randint(0, len(text)), {"image": "a.png"}),
        lambda: meta.__setitem__(
            rng.choice("abc"), {"n": rng.random(), "l": [1, "2", None, {"x": [True]}]}
        ),
        lambda: meta.__setitem__("sub", pycrdt.Map({"k": rng.randint(0, 9)})),
        lambda: items.append(pycrdt.Array([rng.randint(-(2**40), 2**40), "s", b"bin"])),
        lambda: xml.children.append(pycrdt.XmlElement("p", {"c": "x"}, [pycrdt.XmlText("hi")])),
    ]
    while len(updates) < count:
        rng.choice(actions)()
    updates.append(doc.get_update())
    return updates


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        choice = rng.randrange(7)
        at = rng.randrange(len(out) + 1)
        if choice == 0 and out:  # flip a bit
            pos = rng.randrange(len(out))
            out[pos] ^= 1 << rng.randrange(8)
        elif choice == 1 and out:  # replace a byte
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif choice == 2:  # insert random bytes
            out[at:at] = rng.randbytes(rng.randint(1, 8))
        elif choice == 3:  # truncate
            del out[at:]
        elif choice == 4:  # a huge number where a length may be
            out[at:at] = var_uint(rng.choice(HUGE))
        elif choice == 5:  # splice with another update
            other = rng.choice(pool)
            out[at:] = other[rng.randrange(len(other) + 1) :]
        else:  # delete a slice
            del out[at : at + rng.randint(1, 6)]
    return bytes(out)


def structured(rng: random.Random) -> bytes:
    """A well-formed update whose items point anywhere into the victim's document: random
    origins, parents (named roots or item ids, types or not, written or not) and keys."""
    contents = [
        (1, var_uint(rng.randint(1, 4))),  # deleted
        (3, var_uint(1) + b"z"),  # binary
        (4, var_string(rng.choice(["a", "😀", "bc"]))),
        (5, var_string('{"a":1}')),  # embed
        (6, var_string("bold") + var_string(rng.choice(["true", "null"]))),  # format
        (8, var_uint(1) + b"\x7d\x05"),  # any
    ]
    structs = []
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.3:
            type_kind = rng.choice([0, 1, 2, 3, 4, 6])
            kind, content = 7, bytes([type_kind]) + (var_string("p") if type_kind == 3 else b"")
        else:
            kind, content = rng.choice(contents)
        info, body = kind, b""
        for flag in (0x80, 0x40):  # left, right origin
            if rng.random() < 0.5:
                info |= flag
                body += var_uint(rng.choice([VICTIM, VICTIM, 2])) + var_uint(rng.randint(0, 40))
        if not info & 0xC0:
            if rng.random() < 0.5:
                body += var_uint(1) + var_string(rng.choice(["content", "meta", "list", "new"]))
            else:
                body += (
                    var_uint(0) + var_uint(rng.choice([VICTIM, 2])) + var_uint(rng.randint(0, 40))
                )
            if rng.random() < 0.3:
                info |= 0x20
                body += var_string(rng.choice(["k", "sub"]))
        structs.append(bytes([info]) + body + content)
    deletes = b"\x00"
    if rng.random() < 0.3:
        deletes = var_uint(1) + var_uint(VICTIM) + var_uint(1)
        deletes += var_uint(rng.randint(0, 40)) + var_uint(rng.randint(1, 10))
    header = var_uint(1) + var_uint(len(structs)) + var_uint(2) + var_uint(rng.randint(0, 3))
    return header + b"".join(structs) + deletes


def cases(seed: int, mutations: int) -> list[bytes]:
    rng = random.Random(seed)
    valid = valid_updates(rng, 120)
    generated = [mutate(rng, rng.choice(valid), valid) for _ in range(mutations)]
    truncations = [u[:cut] for u in valid[-1:] for cut in range(len(u))]
    aimed = [structured(rng) for _ in range(mutations)]
    return [*crafted(), *valid, *generated, *truncations, *aimed]


VICTIM = 1  # the client id of the document's existing author


def victim_document() -> bytes:
    """What the document holds before the attack: text and a map by an ordinary client."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=VICTIM)
    text = doc.get("content", type=pycrdt.Text)
    text.insert(0, "hello world 😀 é")  # clocks count UTF-16 units
    text.format(0, 3, {"bold": True})
    text.insert_embed(2, {"img": 1})
    doc.get("meta", type=pycrdt.Map)["sub"] = pycrdt.Map({"k": pycrdt.Array([1, 2])})
    doc.get("list", type=pycrdt.Array).append(pycrdt.Text("x"))
    xml = doc.get("xml", type=pycrdt.XmlFragment)
    xml.children.append(pycrdt.XmlElement("p", {"c": "1"}, [pycrdt.XmlText("hi")]))
    del text[1:3]
    return doc.get_update()


BASE = victim_document()


def victims_next_edit() -> bytes:
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=VICTIM)
    doc.apply_update(BASE)
    before = doc.get_state()
    doc.get("content", type=pycrdt.Text).insert(0, "more ")
    doc.get("meta", type=pycrdt.Map)["z"] = 2
    return doc.get_update(before)


def exercise(case: bytes) -> str:
    """What the server does with these bytes from a client; 'refused' or 'applied'.

    An accepted update must apply, leave the victim's next edit applicable (an update whose
    items name a non-type, or a not-yet-written item, as parent used to be stored and then
    break the file for good), reload from storage, and survive a delete of everything."""
    room = DocumentRoom(DocumentKey(uuid.uuid4(), "fuzz.py"), [BASE])
    room.diff_since(case)  # as a sync-step-1 state vector
    try:
        shape = check_update(case)
        room.admit_structure(shape)
    except InvalidUpdate:
        return "refused"
    if not room.apply_admitted(case, shape):  # the server takes it back out of storage
        room.reload([BASE])
        case = b"\x00\x00"
    room.apply_committed(victims_next_edit())
    room.content()
    reloaded: pycrdt.Doc[Any] = pycrdt.Doc()
    for stored in (BASE, case, victims_next_edit()):
        reloaded.apply_update(stored)
    # A client may then delete everything it sees, nested types included.
    clocks = _clocks(room.state_vector())
    delete_all = var_uint(0) + var_uint(len(clocks))
    for client, clock in clocks.items():
        delete_all += var_uint(client) + var_uint(1) + var_uint(0) + var_uint(clock)
    room.apply_committed(delete_all)
    room.content()
    return "applied"


def _clocks(state_vector: bytes) -> dict[int, int]:
    result: dict[int, int] = {}
    pos = 0

    def read() -> int:
        nonlocal pos
        value, shift = 0, 0
        while True:
            byte = state_vector[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    for _ in range(read()):
        client = read()
        result[client] = read()
    return result


def main() -> None:
    seed, mutations = int(sys.argv[1]), int(sys.argv[2])
    outcomes = {"refused": 0, "applied": 0}
    for index, case in enumerate(cases(seed, mutations)):
        sys.stderr.write(f"case {index}\n")
        outcomes[exercise(case)] += 1
    print(f"refused={outcomes['refused']} applied={outcomes['applied']}")


if __name__ == "__main__":
    main()
