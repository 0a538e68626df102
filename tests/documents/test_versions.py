"""File history: checkpoints, versions kept at compaction, restores with live npm clients."""

from __future__ import annotations

import asyncio
from typing import Any

import pycrdt
import pytest

from collab.documents.versions import restoring_update, text_edits
from tests.documents.test_document_sync import connect, file_text
from tests.live_support import LiveSession, live_session
from tests.node_agent import NodeAgent
from tests.support import Client

# -- the diff and the update it becomes (no infrastructure) -----------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("", "hello"),
        ("hello", ""),
        ("hello world", "hello brave world"),
        ("a😀b é\nline two\nthree\n", "a😀😀b e\nline 2\nthree\nfour\n"),
        ("def f():\n    return 1\n" * 50, "def f():\n    return 2\n" * 50),
        ("x" * 100, "y" * 100),
    ],
)
def test_a_restoring_update_turns_the_current_text_into_the_target(
    current: str, target: str
) -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)
    text += current
    update = restoring_update(doc.get_update(), text_edits(current, target), current)
    doc.apply_update(update)
    assert str(text) == target


def test_a_small_change_to_a_long_file_is_a_small_update() -> None:
    current = "".join(f"line {i}\n" for i in range(5000))
    target = current.replace("line 2500\n", "line two thousand five hundred\n")
    edits = text_edits(current, target)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, current)
    update = restoring_update(doc.get_update(), edits, current)
    assert sum(len(new) for _, _, new in edits) < 40 and len(update) < 200


# -- the routes, with real clients ------------------------------------------------------------


def base(live: LiveSession, path: str = "main.py") -> str:
    return f"/api/sessions/{live.session_id}/files/{path}/versions"


async def checkpoint(client: Client, live: LiveSession, name: str, who: Any = None) -> Any:
    response = await client.post(
        base(live), json={"name": name}, headers=(who or live.editor).headers
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def versions(client: Client, live: LiveSession) -> list[dict[str, Any]]:
    response = await client.get(base(live), headers=live.viewer.headers)
    assert response.status == 200, await response.text()
    listed: list[dict[str, Any]] = await response.json()
    return listed


async def version_text(client: Client, live: LiveSession, version_id: str) -> str:
    response = await client.get(f"{base(live)}/{version_id}", headers=live.viewer.headers)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/plain"
    return await response.text()


async def test_checkpoints_are_listed_newest_first_with_authors_and_text(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await connect(agent, client, "e", live.editor.token, live.room())
    await agent.call("insert", name="e", index=0, text="first draft")
    await agent.call("waitText", name="e", text="first draft")
    await asyncio.sleep(0.2)
    first = await checkpoint(client, live, "draft")
    await agent.call("insert", name="e", index=-1, text=" — revised ✓")
    await asyncio.sleep(0.3)
    second = await checkpoint(client, live, "revised", who=live.owner)

    listed = await versions(client, live)
    assert [v["version_id"] for v in listed] == [second["version_id"], first["version_id"]]
    assert [(v["name"], v["kind"]) for v in listed] == [
        ("revised", "checkpoint"),
        ("draft", "checkpoint"),
    ]
    editor = {"user_id": live.editor.user_id, "username": live.editor.name}
    assert listed[1]["authors"] == [editor]
    assert listed[0]["authors"] == [editor]  # the owner saved it; the editor wrote it
    assert listed[0]["created_by"] == live.owner.user_id
    assert listed[0]["size"] == len("first draft — revised ✓".encode())
    assert await version_text(client, live, first["version_id"]) == "first draft"
    assert await version_text(client, live, second["version_id"]) == "first draft — revised ✓"

    missing = await client.get(
        f"{base(live)}/00000000-0000-0000-0000-000000000000", headers=live.viewer.headers
    )
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"
    nofile = await client.get(base(live, "nothing.py"), headers=live.viewer.headers)
    assert nofile.status == 404
    blank = await client.post(base(live), json={"name": "  "}, headers=live.editor.headers)
    assert blank.status == 422


async def test_a_restore_reaches_live_clients_is_stored_and_can_be_undone(
    make_client: Any, agent: NodeAgent
) -> None:
    client = await make_client()
    live = await live_session(client)
    await connect(agent, client, "a", live.editor.token, live.room())
    await connect(agent, client, "b", live.owner.token, live.room())
    original = "def greet(name):\n    return f'hello {name} 👋'\n\nprint(greet('ada'))\n"
    await agent.call("insert", name="a", index=0, text=original)
    await agent.call("waitText", name="b", text=original)
    await asyncio.sleep(0.2)
    kept = await checkpoint(client, live, "working")

    await agent.call("insert", name="b", index=0, text="import sys\n")
    await agent.call("insert", name="a", index=-1, text="sys.exit(greet)\n")
    edited = "import sys\n" + original + "sys.exit(greet)\n"
    await agent.call("waitText", name="a", text=edited)
    await agent.call("waitText", name="b", text=edited)
    await asyncio.sleep(0.2)

    restored = await client.post(
        f"{base(live)}/{kept['version_id']}/restore", headers=live.owner.headers
    )
    assert restored.status == 200, await restored.text()
    answer = await restored.json()
    assert answer["matches"] and answer["size"] == len(original.encode())
    for name in ("a", "b"):
        await agent.call("waitText", name=name, text=original)
    assert await file_text(client, live) == original
    fresh = await make_client()  # another app over the same storage: what was committed
    response = await fresh.get(
        f"/api/sessions/{live.session_id}/files/main.py", headers=live.owner.headers
    )
    assert await response.text() == original

    # The text before the restore was kept: restoring it undoes the restore.
    listed = await versions(client, live)
    assert listed[0]["version_id"] == answer["saved_as"] and listed[0]["kind"] == "restore"
    assert await version_text(client, live, answer["saved_as"]) == edited
    undo = await client.post(
        f"{base(live)}/{answer['saved_as']}/restore", headers=live.editor.headers
    )
    assert undo.status == 200 and (await undo.json())["matches"]
    for name in ("a", "b"):
        await agent.call("waitText", name=name, text=edited)
    assert await file_text(client, live) == edited
    # And the clients keep editing the restored text together.
    await agent.call("insert", name="a", index=0, text="# ok\n")
    await agent.call("waitText", name="b", text="# ok\n" + edited)
    assert await agent.call("syncErrors", name="a") == []
    assert await agent.call("syncErrors", name="b") == []


async def test_viewers_and_outsiders_may_not_keep_or_restore(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    from tests.accounts_support import bearer, register

    await connect(agent, client, "e", live.editor.token, live.room())
    await agent.call("insert", name="e", index=0, text="mine")
    await asyncio.sleep(0.3)
    kept = await checkpoint(client, live, "v1")
    await agent.call("insert", name="e", index=-1, text=" and more")
    await asyncio.sleep(0.3)

    refused = await client.post(base(live), json={"name": "x"}, headers=live.viewer.headers)
    assert refused.status == 403 and (await refused.json())["error"]["code"] == "forbidden"
    restore = f"{base(live)}/{kept['version_id']}/restore"
    assert (await client.post(restore, headers=live.viewer.headers)).status == 403
    outsider = bearer(await register(client, "outsider"))
    for response in (
        await client.get(base(live), headers=outsider),
        await client.get(f"{base(live)}/{kept['version_id']}", headers=outsider),
        await client.post(restore, headers=outsider),
    ):
        assert response.status in (403, 404)
        assert "error" in await response.json()
    assert len(await versions(client, live)) == 1
    assert await file_text(client, live) == "mine and more"


async def test_compactions_keep_versions_and_retention_bounds_them(
    make_client: Any, agent: NodeAgent
) -> None:
    client = await make_client(document_compact_after=3, document_versions_keep=2)
    live = await live_session(client)
    await connect(agent, client, "w", live.editor.token, live.room())
    for i in range(12):
        await agent.call("insert", name="w", index=-1, text=f"{i};")
        await asyncio.sleep(0.05)
    expected = "".join(f"{i};" for i in range(12))
    await agent.call("waitText", name="w", text=expected)
    await asyncio.sleep(0.5)
    automatic = [v for v in await versions(client, live) if v["kind"] == "compaction"]
    assert len(automatic) == 2  # more were kept, the oldest went
    assert automatic[0]["authors"] == [
        {"user_id": live.editor.user_id, "username": live.editor.name}
    ]
    texts = [await version_text(client, live, v["version_id"]) for v in automatic]
    assert all(expected.startswith(t) for t in texts) and texts[0] != texts[1]

    for name in ("one", "two", "three"):
        await checkpoint(client, live, name)
    listed = await versions(client, live)
    assert [v["name"] for v in listed if v["kind"] == "checkpoint"] == ["three", "two"]
    assert len([v for v in listed if v["kind"] == "compaction"]) == 2
