"""Export (a streamed zip) and import (checked whole, then written as CRDT updates)."""

from __future__ import annotations

import asyncio
import io
import random
import zipfile
from typing import Any

import aiohttp
import pytest

from tests.archive.zip_support import import_zip, make_zip, texts
from tests.live_support import LiveSession, live_session
from tests.node_agent import NodeAgent
from tests.support import Client
from tests.workspace_support import person, workspace

FILES = {
    "main.py": "print('héllo 😀')\n",
    "src/util/helpers.py": "def f():\n    return 1\n",
    "README.md": "# Title\n",
    "empty.txt": "",
}


async def test_round_trip_export_then_import_into_a_new_session(client: Client) -> None:
    first = await live_session(client, "a")
    status, answer = await import_zip(
        client, first.session_id, first.editor.headers, make_zip(dict(FILES))
    )
    assert status == 200, answer
    assert sorted(answer["created"]) == sorted(FILES)
    assert await texts(client, first.session_id, first.owner.headers) == FILES

    # Viewers may export; the answer is a zip whose entries are the files.
    response = await client.get(
        f"/api/sessions/{first.session_id}/archive.zip", headers=first.viewer.headers
    )
    assert response.status == 200
    assert response.content_type == "application/zip"
    exported = await response.read()
    with zipfile.ZipFile(io.BytesIO(exported)) as archive:
        assert {i.filename: archive.read(i).decode() for i in archive.infolist()} == FILES

    second = await live_session(client, "b")
    status, answer = await import_zip(client, second.session_id, second.owner.headers, exported)
    assert status == 200, answer
    assert await texts(client, second.session_id, second.owner.headers) == FILES

    # Importing again changes nothing; a changed file is updated, the others stay.
    changed = dict(FILES) | {"README.md": "# New title\n"}
    del changed["main.py"]
    status, answer = await import_zip(
        client, second.session_id, second.owner.headers, make_zip(changed)
    )
    assert status == 200, answer
    assert answer["updated"] == ["README.md"] and answer["created"] == []
    assert await texts(client, second.session_id, second.owner.headers) == FILES | changed

    # Each import is in the session's audit log, with who did it and how many files changed.
    response = await client.get(
        f"/api/sessions/{second.session_id}/audit-logs?limit=100", headers=second.owner.headers
    )
    imports = [e for e in (await response.json())["items"] if e["action"] == "files.imported"]
    assert [e["new_value"] for e in imports] == [
        {"created": 0, "updated": 1, "unchanged": len(changed) - 1},
        {"created": len(FILES), "updated": 0, "unchanged": 0},
    ]
    assert {e["user_id"] for e in imports} == {second.owner.user_id}


async def test_multipart_upload(client: Client) -> None:
    live = await live_session(client)
    form = aiohttp.FormData()
    form.add_field("file", make_zip({"a.py": "x = 1\n"}), filename="a.zip")
    response = await client.post(
        f"/api/sessions/{live.session_id}/import", data=form, headers=live.owner.headers
    )
    assert response.status == 200, await response.text()
    assert await texts(client, live.session_id, live.owner.headers) == {"a.py": "x = 1\n"}


async def test_an_import_reaches_a_connected_editor(client: Client, agent: NodeAgent) -> None:
    live = await live_session(client)
    url = str(client.make_url("")).rstrip("/")
    result = await agent.call(
        "connect", name="e", url=url, room=live.room("main.py"), token=live.editor.token
    )
    assert result["synced"]
    await agent.call("insert", name="e", index=0, text="old text\n")
    await asyncio.sleep(0.3)
    status, answer = await import_zip(
        client, live.session_id, live.owner.headers, make_zip({"main.py": "new text 😀\n"})
    )
    assert status == 200, answer
    assert answer["updated"] == ["main.py"]
    await agent.call("waitText", name="e", text="new text 😀\n")
    # The editor keeps editing the imported text.
    await agent.call("insert", name="e", index=0, text="# ")
    await agent.call("waitText", name="e", text="# new text 😀\n")
    await asyncio.sleep(0.3)
    assert await texts(client, live.session_id, live.owner.headers) == {
        "main.py": "# new text 😀\n"
    }


def _bomb() -> bytes:
    return make_zip({"ok.py": "x", "bomb.txt": b"\0" * (20 * 1024 * 1024)})


HOSTILE: list[tuple[str, bytes, int, str | None]] = [
    ("traversal", make_zip({"ok.py": "x", "../evil.py": "x"}), 422, "../evil.py"),
    ("nested traversal", make_zip({"ok.py": "x", "a/../../e.py": "x"}), 422, "a/../../e.py"),
    ("absolute", make_zip({"ok.py": "x", "/etc/passwd": "x"}), 422, "/etc/passwd"),
    ("windows absolute", make_zip({"ok.py": "x", "C:/x.py": "x"}), 422, "C:/x.py"),
    ("backslash", make_zip({"ok.py": "x", "a\\..\\b.py": "x"}), 422, "a\\..\\b.py"),
    ("symlink", make_zip({"ok.py": "x"}, symlinks={"link": "/etc/passwd"}), 422, "link"),
    ("dot segment", make_zip({"ok.py": "x", "./ok.py": "y"}), 422, "./ok.py"),
    ("duplicate", make_zip({"ok.py": "x"}, twice=("ok.py",)), 422, "ok.py"),
    ("control character", make_zip({"ok.py": "x", "a\x01.py": "x"}), 422, "a\x01.py"),
    ("binary", make_zip({"ok.py": "x", "img.png": b"\x89PNG\xff\xfe"}), 422, "img.png"),
    ("bomb", _bomb(), 413, "bomb.txt"),
    ("not a zip", b"PK\x03\x04 this is not a zip", 422, None),
]


@pytest.mark.parametrize(("name", "data", "status", "entry"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_archives_are_refused_and_nothing_is_imported(
    client: Client, name: str, data: bytes, status: int, entry: str | None
) -> None:
    live = await live_session(client)
    got, body = await import_zip(client, live.session_id, live.owner.headers, data)
    assert got == status, body
    assert body["error"]["code"] == ("payload_too_large" if status == 413 else "invalid_archive")
    if entry is not None:
        assert body["error"]["details"]["entry"] == entry
        assert entry in body["error"]["message"]
    assert await texts(client, live.session_id, live.owner.headers) == {}


async def test_limits_on_size_files_and_unpacked_bytes(make_client: Any) -> None:
    client = await make_client(
        import_max_bytes=4096, import_max_files=3, import_max_unpacked_bytes=10_000
    )
    live = await live_session(client)
    cases = [
        (make_zip({f"f{i}.py": "x" for i in range(4)}), "f3.py"),
        (make_zip({"a.py": "a" * 6000, "b.py": "b" * 6000}), "b.py"),
        (make_zip({"big.bin": random.Random(1).randbytes(5000)}), None),  # 4096+ bytes sent
    ]
    for data, entry in cases:
        status, body = await import_zip(client, live.session_id, live.owner.headers, data)
        assert status == 413, body
        assert body["error"]["code"] == "payload_too_large"
        assert body["error"].get("details", {}).get("entry") == entry
    assert await texts(client, live.session_id, live.owner.headers) == {}


async def test_the_file_quota_counts_existing_files(make_client: Any) -> None:
    client = await make_client(max_files_per_scope=3)
    live = await live_session(client)
    status, _ = await import_zip(
        client, live.session_id, live.owner.headers, make_zip({"a.py": "a", "b.py": "b"})
    )
    assert status == 200
    status, body = await import_zip(
        client, live.session_id, live.owner.headers, make_zip({"c.py": "c", "d.py": "d"})
    )
    assert status == 413, body
    assert set(await texts(client, live.session_id, live.owner.headers)) == {"a.py", "b.py"}


async def test_roles(client: Client) -> None:
    live: LiveSession = await live_session(client)
    outsider = await live_session(client, "out")
    data = make_zip({"a.py": "a"})
    status, body = await import_zip(client, live.session_id, live.viewer.headers, data)
    assert status == 403, body
    status, body = await import_zip(client, live.session_id, outsider.owner.headers, data)
    assert status == 404, body
    response = await client.get(
        f"/api/sessions/{live.session_id}/archive.zip", headers=outsider.owner.headers
    )
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    assert await texts(client, live.session_id, live.owner.headers) == {}


async def test_workspace_archive(client: Client) -> None:
    owner = await person(client, "wsowner")
    ws = await workspace(owner)
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "S", "language": "python", "ws_id": ws}
    )
    assert status == 201, session
    headers = {"Authorization": f"Bearer {owner.pair['access_token']}"}
    status, answer = await import_zip(
        client, session["session_id"], headers, make_zip({"app/main.py": "print(1)\n"})
    )
    assert status == 200, answer
    response = await client.get(f"/api/workspaces/{ws}/archive.zip", headers=headers)
    assert response.status == 200
    with zipfile.ZipFile(io.BytesIO(await response.read())) as archive:
        assert archive.namelist() == ["app/main.py"]
        assert archive.read("app/main.py") == b"print(1)\n"
    stranger = await person(client, "stranger")
    status, body = await stranger.call("get", f"/api/workspaces/{ws}/archive.zip")
    assert status in (403, 404), body
