"""The admission scan's keystroke fast path against the full scan, on real and broken bytes.

`scan_small_update` must answer exactly as `scan_full_update` does, or not at all: where the
fast path returns a shape, the full scan returns an equal one; where the full scan refuses,
the fast path returns None. These compare the two on edits written by pycrdt (yrs, as the
server's own documents write them) and by Yjs (the npm client's encoder), and on every
small corruption of them, so that any divergence fails here with the bytes that caused it.
"""

from __future__ import annotations

import json
import random
import subprocess
from typing import Any

import pycrdt
import pytest

from collab.documents.update_scan import (
    InvalidUpdate,
    UpdateShape,
    scan_full_update,
    scan_small_update,
    scan_update,
)
from tests import yjs_fuzz
from tests.support import REPO

var = yjs_fuzz.var_uint


def _full(data: bytes) -> UpdateShape | None:
    try:
        return scan_full_update(data)
    except InvalidUpdate:
        return None


def _agree(data: bytes) -> bool:
    """Whether the fast path answered (and, by assertion, exactly as the full scan)."""
    fast = scan_small_update(data)
    full = _full(data)
    if fast is None:
        return False
    assert full is not None, f"fast path accepted what the full scan refuses: {data.hex()}"
    assert fast == full, f"different facts for {data.hex()}:\n{fast}\n{full}"
    # The public entry point gives the same answer whichever path it took.
    assert scan_update(data) == full
    return True


def _keystrokes(rng: random.Random, count: int) -> list[bytes]:
    """Editing sessions as people type: inserts anywhere (ASCII, accents, CJK, emoji,
    newlines), backspaces, selections deleted, by several clients whose edits interleave."""
    docs: list[pycrdt.Doc[Any]] = [
        pycrdt.Doc(client_id=rng.choice([rng.randrange(1, 2**32), rng.randrange(1, 128)]))
    ]
    docs.append(pycrdt.Doc(client_id=rng.randrange(2**32, 2**53)))
    texts = [doc.get("content", type=pycrdt.Text) for doc in docs]
    updates: list[bytes] = []
    for doc in docs:
        doc.observe(lambda event: updates.append(event.update))
    chars = ["a", "b", " ", "\n", "é", "ß", "中", "ab", "xyz" * 20]
    chars += ["😀"] if rng.random() < 0.3 else []
    while len(updates) < count:
        which = rng.randrange(len(docs))
        text = texts[which]
        roll = rng.random()
        if roll < 0.6 or len(text) < 3:
            # pycrdt's indexes into non-ASCII text count other units: then type at the end.
            ascii_only = str(text).isascii()
            position = rng.choice([len(text), rng.randint(0, len(text))]) if ascii_only else -1
            text.insert(len(text) if position < 0 else position, rng.choice(chars))
        elif roll < 0.85:
            content = str(text)
            if not content.isascii():  # pycrdt's indexes and lengths count other units
                if rng.random() < 0.9:
                    continue
                text.clear()  # starts over (deletes everything: several ranges)
                continue
            at = rng.randrange(len(content))
            del text[at : min(len(content), at + rng.randint(1, 3))]
        else:
            # The other client catches up (a peer's edits, as the relay delivers them).
            other = docs[1 - which]
            docs[which].apply_update(other.get_update(docs[which].get_state()))
    return updates


def test_every_keystroke_pycrdt_writes_takes_the_fast_path_with_the_same_facts() -> None:
    rng = random.Random(14)
    updates = _keystrokes(rng, 3_000)
    taken = sum(_agree(update) for update in updates)
    # Most keystrokes are the fast path's shape; the first insert of a document (no origin)
    # and merged catch-ups are not.
    assert taken > len(updates) * 0.6, (taken, len(updates))


@pytest.mark.integration  # runs Node
def test_the_npm_clients_keystrokes_take_the_fast_path_with_the_same_facts() -> None:
    """Updates encoded by Yjs itself, as the bench's and the editor's y-socket.io clients send."""
    script = """
    import * as Y from "yjs";
    const out = [];
    const doc = new Y.Doc();
    doc.clientID = 3141592653;
    doc.on("update", (u) => out.push(Buffer.from(u).toString("hex")));
    const text = doc.getText("content");
    let seed = 7;
    const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    const chars = ["a", " ", "\\n", "é", "中", "😀", "hello"];
    for (let i = 0; i < 600; i++) {
      if (rnd(4) === 0 && text.length > 2) text.delete(rnd(text.length - 1), 1);
      else text.insert(rnd(3) ? text.length : rnd(text.length + 1), chars[rnd(chars.length)]);
    }
    console.log(JSON.stringify(out));
    """
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=REPO / "tests" / "js",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    updates = [bytes.fromhex(item) for item in json.loads(done.stdout)]
    taken = sum(_agree(update) for update in updates)
    assert taken > len(updates) * 0.8, (taken, len(updates))


def test_every_corruption_of_a_keystroke_gets_the_full_scans_answer() -> None:
    """Each byte replaced by telling values, each prefix, bytes inserted and removed."""
    rng = random.Random(1)
    samples = _keystrokes(rng, 400)[::8]
    samples += [
        # Hand-written edges: a zero-length string, parent-key flag beside an origin, a
        # right origin only, an origin at the item itself and after it, two delete ranges.
        var(1) + var(1) + var(5) + var(3) + b"\x84" + var(5) + var(2) + var(0) + b"\x00",
        var(1) + var(1) + var(5) + var(3) + b"\xa4" + var(5) + var(2) + var(1) + b"x\x00",
        var(1) + var(1) + var(5) + var(3) + b"\x44" + var(9) + var(2) + var(1) + b"x\x00",
        var(1) + var(1) + var(5) + var(3) + b"\x84" + var(5) + var(3) + var(1) + b"x\x00",
        var(1) + var(1) + var(5) + var(3) + b"\x84" + var(5) + var(4) + var(1) + b"x\x00",
        var(1)
        + var(2)
        + var(5)
        + var(3)
        + b"\x84"
        + var(5)
        + var(2)
        + var(1)
        + b"x"
        # the second item's origin is the first item (clock 3), then one past it (4).
        + b"\x84"
        + var(5)
        + var(3)
        + var(1)
        + b"y\x00",
        var(0) + var(1) + var(5) + var(2) + var(1) + var(2) + var(7) + var(3),
        var(0) + var(1) + var(2**64 - 1) + var(1) + var(2**32 - 2) + var(1),
        var(0) + var(1) + var(5) + var(1) + var(2**32 - 2) + var(2),
    ]
    values = [0x00, 0x01, 0x02, 0x04, 0x20, 0x44, 0x7F, 0x80, 0x84, 0xA4, 0xC4, 0xFF]
    cases = 0
    for sample in samples:
        for at in range(len(sample) + 1):
            _agree(sample[:at])
            _agree(sample[:at] + sample[at + 1 :])
            for extra in (b"\x00", b"\x80", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"):
                _agree(sample[:at] + extra + sample[at:])
            if at < len(sample):
                for value in values:
                    _agree(sample[:at] + bytes([value]) + sample[at + 1 :])
            cases += 4 + len(values)
        for huge in yjs_fuzz.HUGE:
            for at in range(len(sample)):
                _agree(sample[:at] + var(huge) + sample[at + 1 :])
    assert cases > 10_000


def test_random_mutations_and_the_fuzz_suites_cases_get_the_full_scans_answer() -> None:
    rng = random.Random(20261126)
    pool = _keystrokes(rng, 500) + yjs_fuzz.valid_updates(rng, 200)
    for _ in range(20_000):
        _agree(yjs_fuzz.mutate(rng, rng.choice(pool), pool))
    for case in yjs_fuzz.cases(3, 2_000):
        _agree(case)


def test_what_the_fast_path_leaves_to_the_full_scan() -> None:
    """Shapes it does not read go to the full scan, which decides them as before."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=9)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    doc.get("content", type=pycrdt.Text).insert(0, "first")  # no origin: names its parent
    doc.get("content", type=pycrdt.Text).insert(5, "😀")  # a surrogate pair
    doc.get("meta", type=pycrdt.Map)["k"] = 1  # not a string item
    for update in updates:
        assert scan_small_update(update) is None
        assert scan_update(update) == scan_full_update(update)
    assert scan_update(updates[1]).pair_halves == {(9, 6)}
    for refused in (b"", b"\x01", b"\x00", yjs_fuzz.item_on_root(4, var(2) + b"\xc3\x28")):
        assert scan_small_update(refused) is None
        with pytest.raises(InvalidUpdate):
            scan_update(refused)
