"""Hostile Yjs bytes: no update, state vector or awareness message may crash or stall us.

The attack that started this: one ~60 KB `sync-update` holding arrays nested 30,000 deep
made pycrdt's decoder overflow the native stack, and the whole server died with SIGSEGV.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pycrdt
import pytest
import socketio

from collab.documents.room import MAX_SHARED_TYPES, DocumentRoom, check_update
from collab.documents.update_scan import (
    MAX_VALUE_DEPTH,
    InvalidUpdate,
    scan_state_vector,
    scan_update,
)
from collab.model import DocumentKey
from tests import yjs_fuzz
from tests.cluster_support import api, setup_session
from tests.live_support import Member
from tests.support import REPO, TEST_SECRET, ServerProcess, http_get

# The reported attack, byte for byte: a ContentAny of arrays nested 30,000 deep.
ATTACK = (
    bytes([1, 1, 1, 0, 8, 1, 7])
    + b"content"
    + b"\x01"
    + b"\x75\x01" * 30_000
    + b"\x77\x01x"
    + b"\x00"
)


def test_the_reported_attack_is_refused_before_pycrdt_sees_it() -> None:
    with pytest.raises(InvalidUpdate, match="nest"):
        check_update(ATTACK)


@pytest.mark.parametrize("kind", ["array", "object", "mixed"])
def test_values_nest_up_to_the_bound_and_no_deeper(kind: str) -> None:
    ok = yjs_fuzz.item_on_root(8, b"\x01" + yjs_fuzz.nested_values(MAX_VALUE_DEPTH, kind))
    check_update(ok)
    deep = yjs_fuzz.item_on_root(8, b"\x01" + yjs_fuzz.nested_values(MAX_VALUE_DEPTH + 1, kind))
    with pytest.raises(InvalidUpdate):
        check_update(deep)


def test_every_update_a_real_client_writes_is_accepted() -> None:
    import random

    for update in yjs_fuzz.valid_updates(random.Random(7), 300):
        scan_update(update)
        check_update(update)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, "hello")
    scan_state_vector(doc.get_state())


def test_nested_shared_types_are_capped_per_document_across_updates() -> None:
    """Deleting a type recurses per level in yrs; 60,000 levels, even sent in pieces, crash."""
    room = DocumentRoom(DocumentKey(uuid.uuid4(), "deep.py"), [])
    piece = 4_000
    accepted = 0
    for start in range(0, 3 * MAX_SHARED_TYPES, piece):
        update = _nested_types_continuing(start, piece)
        try:
            room.admit_structure(check_update(update))
        except InvalidUpdate as exc:
            assert "shared types" in str(exc)
            break
        room.apply_committed(update)
        accepted += piece
    assert accepted <= MAX_SHARED_TYPES < accepted + piece
    # The count survives a reload from storage (it is recounted from the stored updates).
    reloaded = DocumentRoom(room.key, [room.diff_since(b"\x00")])
    assert reloaded.types == room.types


def _nested_types_continuing(start: int, count: int, client: int = 7) -> bytes:
    """`count` nested arrays continuing a chain begun at clock 0 (the first is a root's)."""
    if start == 0:
        return yjs_fuzz.nested_types(count, client)
    var = yjs_fuzz.var_uint
    out = bytearray(var(1) + var(count) + var(client) + var(start))
    for clock in range(start, start + count):
        out += b"\x07" + var(0) + var(client) + var(clock - 1) + b"\x00"
    return bytes(out + b"\x00")


def _room_with_victims_text() -> DocumentRoom:
    return DocumentRoom(DocumentKey(uuid.uuid4(), "f.py"), [yjs_fuzz.BASE])


def _one_item(client: int, clock: int, body: bytes, deletes: bytes = b"\x00") -> bytes:
    var = yjs_fuzz.var_uint
    return var(1) + var(1) + var(client) + var(clock) + body + deletes


@pytest.mark.parametrize(
    "update",
    [
        # Client 2 continues at clock 5: clocks 0-4 never arrived (yrs would hold it pending).
        _one_item(2, 5, b"\x04" + b"\x01" + yjs_fuzz.var_string("content") + b"\x01x"),
        # An origin the document does not have.
        _one_item(2, 0, b"\x84" + yjs_fuzz.var_uint(1) + yjs_fuzz.var_uint(999) + b"\x01x"),
        # Deleting what the victim has not written yet.
        b"\x00\x01\x01\x01" + yjs_fuzz.var_uint(50) + yjs_fuzz.var_uint(10),
    ],
    ids=["gap", "dangling-origin", "future-delete"],
)
def test_updates_that_yrs_would_hold_pending_are_refused(update: bytes) -> None:
    room = _room_with_victims_text()
    with pytest.raises(InvalidUpdate):
        room.admit_structure(check_update(update))


def test_a_duplicate_id_cannot_pass_for_a_shared_type() -> None:
    var, string = yjs_fuzz.var_uint, yjs_fuzz.var_string
    room = _room_with_victims_text()
    text_item = _one_item(2, 0, b"\x04\x01" + string("content") + string("x"))
    room.admit_structure(check_update(text_item))
    room.apply_committed(text_item)
    # The same id again, now claiming to be a Y.Array: yrs keeps the first and ignores this.
    claimed_type = _one_item(2, 0, b"\x07\x01" + string("meta") + b"\x00")
    room.admit_structure(check_update(claimed_type))
    room.apply_committed(claimed_type)
    child = _one_item(3, 0, b"\x04\x00" + var(2) + var(0) + string("y"))
    with pytest.raises(InvalidUpdate, match="parent"):
        room.admit_structure(check_update(child))


def test_thousands_of_fuzzed_updates_never_crash_the_decoder() -> None:
    """In a child process, so a native crash is seen as one (with the case that caused it)."""
    seed, mutations = 20261126, 4_000
    done = subprocess.run(
        [sys.executable, "-m", "tests.yjs_fuzz", str(seed), str(mutations)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last_case = (done.stderr.strip().splitlines() or ["none"])[-1]
    assert done.returncode == 0, f"exit {done.returncode} at {last_case}:\n{done.stderr[-2000:]}"
    refused, applied = (int(part.split("=")[1]) for part in done.stdout.split())
    total = len(yjs_fuzz.cases(seed, mutations))
    assert refused + applied == total > 5_000
    assert refused > 1_000 and applied > 100  # both paths were really exercised


# -- against a live server process ---------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path, database_url: str, clean_redis: str) -> Any:
    env = {
        "COLLAB_DATABASE_URL": database_url,
        "COLLAB_REDIS_URL": clean_redis,
        "COLLAB_SECRET_KEY": TEST_SECRET,
        "COLLAB_SOCKET_MESSAGES_PER_SECOND": "100000",
        "COLLAB_SOCKET_BYTES_PER_SECOND": str(1 << 30),
        "COLLAB_DOCUMENT_IDLE_SECONDS": "0.5",
    }
    with ServerProcess(tmp_path / "server", env) as process:
        yield process


async def _document_socket(base: str, namespace: str, token: str) -> tuple[Any, list[Any]]:
    errors: list[Any] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("sync-error", errors.append, namespace=namespace)
    sio.on("sync-step-1", lambda data: b"\x00\x00", namespace=namespace)
    await sio.connect(base, namespaces=[namespace], auth={"token": token}, transports=["websocket"])
    return sio, errors


async def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _text_of(update: bytes) -> str:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(update)
    return str(doc.get("content", type=pycrdt.Text))


async def test_a_live_server_survives_thousands_of_hostile_messages_on_every_event(
    server: ServerProcess, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as http:
        session_id, owner, editor = await setup_session(http, server.url)
    canary_ns = f"/yjs|{session_id}/canary.py"
    fuzz_ns = f"/yjs|{session_id}/fuzz.py"
    canary, _ = await _document_socket(server.url, canary_ns, editor.token)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, "canary text")
    await canary.emit("sync-update", doc.get_update(), namespace=canary_ns)

    fuzz, errors = await _document_socket(server.url, fuzz_ns, editor.token)
    cases = yjs_fuzz.cases(seed=1126, mutations=1_500)
    expected_refusals = 0
    for index, case in enumerate(cases):
        try:
            check_update(case)
        except InvalidUpdate:
            expected_refusals += 1
        await fuzz.emit("sync-update", case, namespace=fuzz_ns)
        await fuzz.emit("awareness-update", case, namespace=fuzz_ns)
        if index % 10 == 0:  # as a state vector: answered with a diff, never a crash
            answer = await fuzz.call("sync-step-1", case, namespace=fuzz_ns, timeout=10)
            assert isinstance(answer, bytes)
    # Every refused update and every malformed awareness message got its sync-error.
    await _wait_for(lambda: len(errors) >= expected_refusals + 1_000)
    assert {e["code"] for e in errors} <= {"invalid_update", "too_large"}

    # Nesting built up over several updates is capped too.
    errors.clear()
    for start in range(0, 2 * MAX_SHARED_TYPES, 4_000):
        await fuzz.emit(
            "sync-update", _nested_types_continuing(start, 4_000, client=99), namespace=fuzz_ns
        )
    await _wait_for(lambda: any("shared types" in e["message"] for e in errors))

    assert server.proc is not None and server.proc.poll() is None, server.logs()
    assert http_get(f"{server.url}/healthz")[0] == 200
    # The fuzzed document still answers a newcomer. Its exact text is not compared: after
    # some hostile deletes yrs encodes a document (for a newcomer, or when compacting) to
    # another text than it holds (docs/upstream/yrs-unbounded-recursion.md, section 4).
    _text_of(await fuzz.call("sync-step-1", b"\x00", namespace=fuzz_ns, timeout=10))
    await fuzz.disconnect()
    await canary.disconnect()
    async with aiohttp.ClientSession() as http:
        base = f"{server.url}/api/sessions/{session_id}/files"
        assert await api(http, "GET", f"{base}/canary.py", owner.token) == "canary text"
        assert isinstance(await api(http, "GET", f"{base}/fuzz.py", owner.token), str)
    assert "Traceback" not in server.logs()

    # A fresh process loads what was stored: the other document is unharmed, the fuzzed
    # one still opens.
    server.stop()
    env = server.env | {"COLLAB_SOCKET_MESSAGES_PER_SECOND": "200"}
    with ServerProcess(tmp_path / "again", env) as again:
        async with aiohttp.ClientSession() as http:
            base = f"{again.url}/api/sessions/{session_id}/files"
            assert isinstance(await api(http, "GET", f"{base}/fuzz.py", owner.token), str)
            assert await api(http, "GET", f"{base}/canary.py", owner.token) == "canary text"


@dataclass
class Editors:
    """A session's owner (the victim, already editing `main.py`) and an editor (attacker)."""

    session_id: str
    owner: Member
    namespace: str
    victim: Any
    victim_errors: list[Any]
    doc: pycrdt.Doc[Any]
    attacker: Any
    attacker_errors: list[Any]

    async def victim_types(self, index: int, text: str) -> None:
        before = self.doc.get_state()
        self.doc.get("content", type=pycrdt.Text).insert(index, text)
        await self.victim.emit("sync-update", self.doc.get_update(before), namespace=self.namespace)

    async def attacker_is_refused(self, update: bytes) -> None:
        await self.attacker.emit("sync-update", update, namespace=self.namespace)
        await _wait_for(lambda: bool(self.attacker_errors))
        assert self.attacker_errors[0]["code"] == "invalid_update"

    async def file(self, base: str) -> Any:
        async with aiohttp.ClientSession() as http:
            url = f"{base}/api/sessions/{self.session_id}/files/main.py"
            return await api(http, "GET", url, self.owner.token)

    async def close(self) -> None:
        await self.victim.disconnect()
        await self.attacker.disconnect()


async def _editors(base: str, first_text: str) -> Editors:
    async with aiohttp.ClientSession() as http:
        session_id, owner, editor = await setup_session(http, base)
    namespace = f"/yjs|{session_id}/main.py"
    victim, victim_errors = await _document_socket(base, namespace, owner.token)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, first_text)
    await victim.emit("sync-update", doc.get_update(), namespace=namespace)
    await asyncio.sleep(0.3)
    attacker, attacker_errors = await _document_socket(base, namespace, editor.token)
    return Editors(
        session_id, owner, namespace, victim, victim_errors, doc, attacker, attacker_errors
    )


async def test_an_update_naming_a_future_parent_cannot_break_the_file(
    server: ServerProcess,
) -> None:
    """The review's attack: an item whose parent is the victim's next (unwritten) item
    decoded fine, was stored, and made the victim's next edit fail, and every later load."""
    editors = await _editors(server.url, "hello")
    var, string = yjs_fuzz.var_uint, yjs_fuzz.var_string
    parent = var(0) + var(editors.doc.client_id) + var(6)  # the victim's next item
    await editors.attacker_is_refused(
        var(1) + var(1) + var(999) + var(0) + b"\x04" + parent + string("x") + b"\x00"
    )
    await editors.victim_types(5, " world")
    await asyncio.sleep(0.5)
    assert editors.victim_errors == []
    await editors.close()
    await asyncio.sleep(2)  # the room is dropped; the next read loads from storage
    assert await editors.file(server.url) == "hello world"


async def test_nobody_can_write_under_someone_elses_client_id(server: ServerProcess) -> None:
    editors = await _editors(server.url, "mine")
    # The attacker writes the victim's next item under the victim's id.
    forged: pycrdt.Doc[Any] = pycrdt.Doc(client_id=editors.doc.client_id)
    forged.apply_update(editors.doc.get_update())
    state = forged.get_state()
    forged.get("content", type=pycrdt.Text).insert(4, " (forged)")
    await editors.attacker_is_refused(forged.get_update(state))
    await editors.victim_types(4, " and yours")
    await asyncio.sleep(0.3)
    assert editors.victim_errors == []
    assert await editors.file(server.url) == "mine and yours"
    await editors.close()


@pytest.mark.parametrize(
    "edit",
    [
        b"\x00" + b"\x01\x05\x01\x01\x01",  # delete clock 1: the emoji's first half
        b"\x00" + b"\x01\x05\x01\x02\x01",  # delete clock 2: its second half
        # insert "x" with left origin (5, 1): between the two halves
        b"\x01\x01\x06\x00\x84\x05\x01\x01x\x00",
        # insert "x" with right origin (5, 2): the same place, from the other side
        b"\x01\x01\x06\x00\x44\x05\x02\x01x\x00",
    ],
    ids=["first-half", "second-half", "after-first-half", "before-second-half"],
)
def test_an_edit_cannot_split_a_character_in_two(edit: bytes) -> None:
    """yrs mishandles it: the document then encodes to another text than it holds, or to
    one that cannot be read back (a newcomer would get that)."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=5)
    doc.get("content", type=pycrdt.Text).insert(0, "a😀b")  # clocks 0, 1-2, 3
    room = DocumentRoom(DocumentKey(uuid.uuid4(), "e.py"), [doc.get_update()])
    with pytest.raises(InvalidUpdate, match="split a character"):
        room.admit_structure(check_update(edit))
    whole = b"\x00" + b"\x01\x05\x01\x01\x02"  # the whole character is fine
    room.admit_structure(check_update(whole))
    room.apply_committed(whole)
    assert room.content() == _text_of(room.diff_since(b"\x00")) == "ab"


def test_an_update_not_stored_does_not_strand_those_admitted_before_it() -> None:
    """If storing one update fails, the room falls back to what is applied; updates
    admitted before it, still on their way, must count again once they are applied."""
    room = DocumentRoom(DocumentKey(uuid.uuid4(), "r.py"), [])
    alice: pycrdt.Doc[Any] = pycrdt.Doc(client_id=11)
    bob: pycrdt.Doc[Any] = pycrdt.Doc(client_id=12)
    alice.get("content", type=pycrdt.Text).insert(0, "a")
    first = alice.get_update()
    bob.get("content", type=pycrdt.Text).insert(0, "b")
    failed = bob.get_update()
    first_shape = check_update(first)
    room.admit_structure(first_shape)
    room.retract(room.admit_structure(check_update(failed)))  # its commit failed
    assert room.apply_admitted(first, first_shape)
    before = alice.get_state()
    alice.get("content", type=pycrdt.Text).insert(1, "c")
    room.admit_structure(check_update(alice.get_update(before)))  # not refused as a gap


def test_a_reconnect_diff_may_carry_other_peoples_changes() -> None:
    """A's reply to the server's sync-step-1 holds what A has that this process lacks:
    B's changes too, when the fan-out from B's process is late, or already known ones."""
    alice, bob = uuid.uuid4(), uuid.uuid4()
    room = DocumentRoom(DocumentKey(uuid.uuid4(), "d.py"), [])
    b_doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=21)
    b_doc.get("content", type=pycrdt.Text).insert(0, "b")
    a_doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=22)
    a_doc.apply_update(b_doc.get_update())  # A saw B's edit on B's process
    a_doc.get("content", type=pycrdt.Text).insert(1, "a")
    # A's diff reaches this process before B's edit does: admitted, claims nothing.
    diff = a_doc.get_update()
    room.admit_structure(check_update(diff), alice, claims=False)
    assert room.apply_admitted(diff, check_update(diff))
    assert room.writers == {}
    # B's own live edit is still B's to make.
    before = b_doc.get_state()
    b_doc.apply_update(diff)
    b_doc.get("content", type=pycrdt.Text).insert(0, ">")
    room.admit_structure(check_update(b_doc.get_update(before)), bob)
    assert room.writers == {21: bob}
    # Once B owns the id, a diff repeating B's known changes is still fine.
    room.admit_structure(check_update(b_doc.get_update()), alice, claims=False)
