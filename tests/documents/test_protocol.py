"""Pure protocol code, without I/O: the fan-out message codec and the awareness codec."""

from __future__ import annotations

import uuid

import pytest

from collab.documents import awareness
from collab.documents.fanout import AWARENESS, UPDATE, decode, encode
from collab.documents.paths import InvalidPath, normalise_path
from collab.model import DocumentKey


@pytest.mark.parametrize("author", [None, uuid.uuid4()])
@pytest.mark.parametrize("in_workspace", [False, True])
@pytest.mark.parametrize("kind", [UPDATE, AWARENESS])
def test_fanout_messages_round_trip(
    in_workspace: bool, kind: bytes, author: uuid.UUID | None
) -> None:
    key = DocumentKey(uuid.uuid4(), "src/dir with space/ünïcode.py", in_workspace)
    message = encode(b"\x01" * 8, kind, key, b"\x00\xffdata", author)
    origin, got_kind, got_key, payload, got_author = decode(message)
    assert (origin, got_kind, payload, got_author) == (b"\x01" * 8, kind, b"\x00\xffdata", author)
    assert got_key == key and got_key.in_workspace is in_workspace


def test_awareness_round_trip_and_removal() -> None:
    entries = [
        awareness.AwarenessEntry(1, 3, '{"user":{"name":"Ann"}}'),
        awareness.AwarenessEntry(2**40, 0, "{}"),
    ]
    assert awareness.decode(awareness.encode(entries)) == entries
    removed = awareness.decode(awareness.removal({1: 3, 7: 0}))
    assert removed == [
        awareness.AwarenessEntry(1, 4, "null"),
        awareness.AwarenessEntry(7, 1, "null"),
    ]


@pytest.mark.parametrize("raw", [b"", b"\x01", b"\x01\x01\x01\x05ab", b"\x00\x00", b"\xff" * 12])
def test_malformed_awareness_is_refused(raw: bytes) -> None:
    with pytest.raises(awareness.MalformedAwareness):
        awareness.decode(raw)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("a.py", "a.py"),
        ("/src//x.py", None),
        ("src/x.py/", "src/x.py"),
        ("../x", None),
        ("a/./b", None),
        ("a\\b", None),
        ("", None),
        ("a\x00b", None),
        ("x" * 513, None),
    ],
)
def test_paths(raw: str, normal: str | None) -> None:
    if normal is None:
        with pytest.raises(InvalidPath):
            normalise_path(raw)
    else:
        assert normalise_path(raw) == normal
