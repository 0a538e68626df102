"""Setting a file's whole text from the server (an import, a git pull): as a CRDT update.

The change is computed on a copy of the room's document under a fresh Yjs client id (the
common prefix and suffix kept, the middle replaced) and submitted through the normal edit
path (`DocumentRooms.submit`), so it is committed, relayed to connected editors and to the
other processes, and counted like any edit. Concurrent edits merge with it as Yjs merges.
"""

from __future__ import annotations

import uuid
from typing import Any

import pycrdt

from collab.documents.rooms import DocumentRooms
from collab.model import DocumentKey


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def text_change(doc_update: bytes, current: str, target: str) -> bytes | None:
    """The update turning `current` (the text of the document `doc_update` holds) into
    `target`, written under a new client id; None when they are equal."""
    if current == target:
        return None
    start = _common_prefix(current, target)
    tail = _common_prefix(current[start:][::-1], target[start:][::-1])
    old_middle = current[start : len(current) - tail]
    new_middle = target[start : len(target) - tail]
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(doc_update)
    text = doc.get("content", type=pycrdt.Text)
    before = doc.get_state()
    # pycrdt's Text counts UTF-8 bytes: cut only at character boundaries, as computed above.
    at = len(current[:start].encode())
    with doc.transaction():
        if old_middle:
            del text[at : at + len(old_middle.encode())]
        if new_middle:
            text.insert(at, new_middle)
    return doc.get_update(before)


def _empty_file(doc_update: bytes) -> bytes:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(doc_update)
    text = doc.get("content", type=pycrdt.Text)
    before = doc.get_state()
    with doc.transaction():
        text.insert(0, " ")
        del text[0:1]
    return doc.get_update(before)


async def write_text(
    rooms: DocumentRooms, key: DocumentKey, target: str, author: uuid.UUID | None
) -> bool:
    """Make the file's text `target` (creating the file if needed); False if it already was."""
    room = await rooms.open(key)
    update: bytes | None
    if not room.stored and not target:
        # An empty change is no update: a new empty file is a character written and deleted.
        update = _empty_file(room.doc.get_update())
    else:
        update = text_change(room.doc.get_update(), room.content(), target)
    if update is None:
        return False
    await rooms.submit(room, update, None, author)
    return True
