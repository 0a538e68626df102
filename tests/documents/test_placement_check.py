"""After applying an admitted update, the room asks whether yrs placed all of it
(`room.placed`): a struct it could not place stays pending and would break the file at
someone else's next edit. The check used to decode the state vector in Python and compare
each written client's clock; `placed` asks yrs for what of the update the document lacks.
These compare the two answers on updates that do and do not place."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pycrdt

from collab.documents.room import DocumentRoom, check_update, placed
from collab.documents.update_scan import InvalidUpdate, scan_state_vector, scan_update
from collab.model import DocumentKey
from tests.documents.typing_support import typed_updates
from tests.yjs_fuzz import BASE, cases


def by_clocks(update: bytes, state_vector: bytes) -> bool:
    """The former check: every client the update writes is at least at its end clock."""
    state = scan_state_vector(state_vector)
    return all(state.get(c, 0) >= end for c, (_, end) in scan_update(update).writes.items())


def apply_and_compare(doc: pycrdt.Doc[Any], update: bytes) -> bool:
    doc.apply_update(update)
    state = doc.get_state()
    expected = by_clocks(update, state)
    assert placed(update, state) is expected, update.hex()
    return expected


def test_typing_in_order_is_placed() -> None:
    updates, _ = typed_updates(600)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    assert all(apply_and_compare(doc, update) for update in updates)


def test_updates_out_of_order_are_not_placed_until_what_they_follow_arrives() -> None:
    updates, _ = typed_updates(300)
    outcomes = []
    for seed in range(5):
        shuffled = updates[:]
        random.Random(seed).shuffle(shuffled)
        doc: pycrdt.Doc[Any] = pycrdt.Doc()
        outcomes += [apply_and_compare(doc, update) for update in shuffled]
    assert True in outcomes and False in outcomes  # both answers were compared


def test_an_update_placed_for_one_client_and_not_the_other_is_not_placed() -> None:
    alice: pycrdt.Doc[Any] = pycrdt.Doc(client_id=31)
    bob: pycrdt.Doc[Any] = pycrdt.Doc(client_id=32)
    alice.get("content", type=pycrdt.Text).insert(0, "hello")
    seen = alice.get_update()
    bob.apply_update(seen)
    lost_state = bob.get_state()
    bob.get("content", type=pycrdt.Text).insert(5, " there")  # never reaches the server
    lost = bob.get_update(lost_state)
    bob_state = bob.get_state()
    bob.get("content", type=pycrdt.Text).insert(11, "!")  # continues the lost edit
    alice_state = alice.get_state()
    alice.get("content", type=pycrdt.Text).insert(0, ">")
    both = pycrdt.merge_updates(alice.get_update(alice_state), bob.get_update(bob_state))
    server: pycrdt.Doc[Any] = pycrdt.Doc()
    assert apply_and_compare(server, seen)
    assert not apply_and_compare(server, both)  # alice's part placed, bob's pending
    assert apply_and_compare(server, lost)  # the pending part falls into place


def test_deletions_alone_are_placed() -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=41)
    text = doc.get("content", type=pycrdt.Text)
    text.insert(0, "abcdef")
    server: pycrdt.Doc[Any] = pycrdt.Doc()
    assert apply_and_compare(server, doc.get_update())
    before = doc.get_state()
    del text[1:4]
    assert apply_and_compare(server, doc.get_update(before))


def applies(room: DocumentRoom, update: bytes) -> bool:
    try:
        room.doc.apply_update(update)
    except Exception:
        return False
    return True


def test_the_fuzz_corpus_gets_the_same_answer() -> None:
    """Crafted and mutated updates the admission checks accept, applied to a document."""
    compared = 0
    for case in cases(seed=14, mutations=1500):
        room = DocumentRoom(DocumentKey(uuid.uuid4(), "fuzz.py"), [BASE])
        try:
            check_update(case)
        except InvalidUpdate:
            continue
        if not applies(room, case):  # yrs refuses it outright: no placement to ask about
            continue
        state = room.doc.get_state()
        assert placed(case, state) is by_clocks(case, state), case.hex()
        compared += 1
    assert compared > 100
