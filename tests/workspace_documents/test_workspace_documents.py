"""The workspace document over HTTP, and sessions opened on a workspace."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest

from collab.state import TASKS, WORKSPACE_DOCUMENTS
from collab.workspace_documents.parts import MASK
from tests.live_support import start_agent
from tests.support import Client, free_port
from tests.workspace_support import member as join_workspace
from tests.workspace_support import person, workspace


async def doc(owner: Any, ws: str, method: str = "get", body: Any = None) -> tuple[int, Any]:
    answer: tuple[int, Any] = await owner.call(method, f"/api/workspaces/{ws}/document", body)
    return answer


async def test_created_with_its_workspace(client: Client) -> None:
    owner = await person(client, "docown")
    ws = await workspace(owner, name="Compiler")
    status, document = await doc(owner, ws)
    assert status == 200
    assert (document["ws_id"], document["owner_id"], document["name"]) == (ws, owner.id, "Compiler")
    assert document["files"] == [] and document["tags"] == []
    assert document["analytics"] == {
        "edits": 0,
        "active_minutes": 0,
        "deployments": 0,
        "sessions": 0,
    }
    assert document["environment"] == {"variables": []}


async def test_patch_replaces_only_the_named_parts(client: Client) -> None:
    owner = await person(client, "patcher")
    ws = await workspace(owner)
    status, document = await doc(
        owner,
        ws,
        "patch",
        {
            "settings": {"theme": "dark", "tab_size": 4},
            "tags": ["rust", "wasm"],
            "git": {"remote_url": "https://github.com/acme/app.git", "branch": "main"},
            "deployment": {"runtime": "python", "public": True},
            "collaboration": {"default_role": "viewer"},
        },
    )
    assert status == 200, document
    status, document = await doc(owner, ws, "patch", {"tags": ["go"]})
    assert document["tags"] == ["go"]
    assert document["settings"] == {"theme": "dark", "tab_size": 4}
    assert document["git"]["branch"] == "main" and document["deployment"]["public"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"files": []}, "files"),
        ({"analytics": {"edits": 99}}, "analytics"),
        ({"tags": ["a", "a"]}, "tags"),
        ({"tags": ["x" * 33]}, "tags.0"),
        (
            {"environment": {"variables": [{"name": "1BAD", "value": "v"}]}},
            "environment.variables.0.name",
        ),
        ({"git": {"remote_url": "https://user:token@github.com/a/b.git"}}, "git.remote_url"),
        ({"git": {"remote_url": "file:///etc/passwd"}}, "git.remote_url"),
        ({"git": {"branch": "../../evil"}}, "git.branch"),
        ({"settings": {f"k{i}": i for i in range(65)}}, "settings"),
        ({"collaboration": {"default_role": "owner"}}, "collaboration.default_role"),
        ({"owner_id": "someone"}, "owner_id"),
        ({"git": {"branch": "--upload-pack"}}, "git.branch"),
        ({"git": {"branch": "-x"}}, "git.branch"),
    ],
)
async def test_each_part_is_validated(client: Client, body: dict[str, Any], field: str) -> None:
    owner = await person(client, "valid")
    ws = await workspace(owner)
    status, answer = await doc(owner, ws, "patch", body)
    assert status == 422, answer
    assert field in answer["error"]["details"], answer
    status, stored = await doc(owner, ws, "get")
    assert status == 200
    assert isinstance(stored["tags"], list) and isinstance(stored["settings"], dict)
    assert stored["git"] == {"remote_url": None, "branch": None} and stored["name"]


async def test_a_null_part_is_ignored_and_keeps_its_shape(client: Client) -> None:
    owner = await person(client, "nulls")
    ws = await workspace(owner)
    status, _ = await doc(owner, ws, "patch", {"tags": ["rust"], "settings": {"theme": "dark"}})
    assert status == 200
    nulls = {p: None for p in ("name", "settings", "environment", "deployment", "git", "tags")}
    status, answer = await doc(owner, ws, "patch", {**nulls, "collaboration": None})
    assert status == 200, answer
    status, stored = await doc(owner, ws, "get")
    assert (stored["tags"], stored["settings"]) == (["rust"], {"theme": "dark"})
    assert stored["git"] == {"remote_url": None, "branch": None} and stored["name"]
    assert stored["environment"] == {"variables": []}
    assert stored["collaboration"] == {"default_role": "editor"}


async def test_who_may_read_and_write(client: Client) -> None:
    owner = await person(client, "wsown")
    editor = await person(client, "wsedit")
    outsider = await person(client, "wsout")
    ws = await workspace(owner, is_public=True)
    await join_workspace(owner, ws, editor, "editor")
    assert (await doc(editor, ws))[0] == 200
    assert (await doc(editor, ws, "patch", {"tags": ["x"]}))[0] == 403
    assert (await doc(outsider, ws))[0] == 403  # public workspace: visible, but not a member
    private = await workspace(owner)
    assert (await doc(outsider, private))[0] == 404


async def test_secrets_are_encrypted_at_rest_and_only_returned_masked(
    client: Client, db: asyncpg.Connection
) -> None:
    owner = await person(client, "secret")
    ws = await workspace(owner)
    status, document = await doc(
        owner,
        ws,
        "patch",
        {
            "environment": {
                "variables": [
                    {"name": "API_KEY", "value": "sk-live-123456", "secret": True},
                    {"name": "DEBUG", "value": "1", "secret": False},
                ]
            }
        },
    )
    assert status == 200
    assert document["environment"]["variables"] == [
        {"name": "API_KEY", "value": MASK, "secret": True},
        {"name": "DEBUG", "value": "1", "secret": False},
    ]
    stored = await db.fetchval("SELECT document::text FROM workspace_documents")
    assert "sk-live-123456" not in stored and "ciphertext" in stored
    audit = await db.fetchval(
        "SELECT string_agg(coalesce(new_value::text, ''), ' ') FROM audit_logs"
    )
    assert "sk-live-123456" not in audit
    # Sending the mask back keeps the secret; the server can still open it.
    await doc(
        owner,
        ws,
        "patch",
        {"environment": {"variables": [{"name": "API_KEY", "value": MASK, "secret": True}]}},
    )
    documents = client.app[WORKSPACE_DOCUMENTS]
    raw = await documents.store.get(uuid.UUID(ws))
    assert raw is not None
    assert documents._box.open(raw["environment"]["variables"][0]["sealed"]) == "sk-live-123456"
    status, answer = await doc(
        owner,
        ws,
        "patch",
        {"environment": {"variables": [{"name": "NEW_SECRET", "value": MASK, "secret": True}]}},
    )
    assert status == 422 and "NEW_SECRET" in answer["error"]["details"]["environment"]


async def test_concurrent_partial_updates_lose_nothing(client: Client) -> None:
    owner = await person(client, "racer")
    ws = await workspace(owner)
    results = await asyncio.gather(
        *[
            doc(owner, ws, "patch", body)
            for body in [
                {"settings": {"theme": "light"}},
                {"tags": ["t1"]},
                {"git": {"remote_url": "git@github.com:a/b.git", "branch": "dev"}},
                {"deployment": {"runtime": "html", "public": False}},
            ]
            * 5
        ]
    )
    assert {status for status, _ in results} == {200}
    _, document = await doc(owner, ws)
    assert document["settings"] == {"theme": "light"} and document["tags"] == ["t1"]
    assert document["git"]["branch"] == "dev" and document["deployment"]["runtime"] == "html"


async def test_deleted_with_its_workspace_and_repaired_when_missing(
    client: Client, db: asyncpg.Connection
) -> None:
    owner = await person(client, "cycle")
    ws = await workspace(owner)
    other = await workspace(owner, name="Other")
    assert (await owner.call("delete", f"/api/workspaces/{ws}"))[0] == 204
    assert (
        await db.fetchval("SELECT count(*) FROM workspace_documents WHERE ws_id = $1::uuid", ws)
        == 0
    )
    await db.execute("DELETE FROM workspace_documents WHERE ws_id = $1::uuid", other)
    assert await client.app[WORKSPACE_DOCUMENTS].repair() == (1, 0)
    assert (await doc(owner, other))[1]["name"] == "Other"


async def test_a_store_that_is_down_undoes_the_workspace(
    make_client: Any, database_url: str
) -> None:
    dead = f"mongodb://127.0.0.1:{free_port()}/collab?serverSelectionTimeoutMS=300&connectTimeoutMS=300"
    client = await make_client(mongo_url=dead)
    owner = await person(client, "unlucky")
    status, answer = await owner.call("post", "/api/workspaces", {"name": "Doomed"})
    assert (status, answer["error"]["code"]) == (503, "unavailable")
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM workspaces") == 0
    finally:
        await conn.close()
    ready = await client.get("/readyz")
    assert ready.status == 503 and "mongo" in (await ready.json())["error"]["message"]


# -- sessions opened on a workspace ---------------------------------------------------------


async def test_only_workspace_editors_open_sessions_on_it(client: Client) -> None:
    owner = await person(client, "opener")
    viewer = await person(client, "looker")
    outsider = await person(client, "stranger2")
    ws = await workspace(owner)
    await join_workspace(owner, ws, viewer, "viewer")
    body = {"name": "On ws", "language": "python", "ws_id": ws}
    status, session = await owner.call("post", "/api/sessions", body)
    assert (status, session["ws_id"]) == (201, ws)
    assert (await viewer.call("post", "/api/sessions", body))[0] == 403
    assert (await outsider.call("post", "/api/sessions", body))[0] == 404


async def test_sessions_of_one_workspace_share_its_files(client: Client) -> None:
    owner = await person(client, "sharer")
    viewer = await person(client, "watcher")
    ws = await workspace(owner)
    await join_workspace(owner, ws, viewer, "viewer")
    sessions = []
    for name in ("morning", "evening"):
        _, session = await owner.call(
            "post", "/api/sessions", {"name": name, "language": "python", "ws_id": ws}
        )
        sessions.append(session["session_id"])
    url = str(client.make_url("")).rstrip("/")
    agent = await start_agent()
    try:
        await agent.call(
            "connect",
            name="a",
            url=url,
            room=f"{sessions[0]}/lib/util.py",
            token=owner.pair["access_token"],
        )
        await agent.call("insert", name="a", index=0, text="def util(): pass\n")
        await agent.call(
            "connect",
            name="b",
            url=url,
            room=f"{sessions[1]}/lib/util.py",
            token=owner.pair["access_token"],
        )
        await agent.call("waitText", name="b", text="def util(): pass\n")
        await agent.call("insert", name="b", index=-1, text="# from b\n")
        await agent.call("waitText", name="a", text="def util(): pass\n# from b\n")
        # A workspace viewer joins a workspace session as a viewer.
        await agent.call(
            "connect",
            name="v",
            url=url,
            room=f"{sessions[1]}/lib/util.py",
            token=viewer.pair["access_token"],
        )
        await agent.call("insert", name="v", index=0, text="nope")
        await asyncio.sleep(0.3)
        assert [e["code"] for e in await agent.call("syncErrors", name="v")] == ["read_only"]
    finally:
        await agent.stop()
    files = await client.get(
        f"/api/sessions/{sessions[1]}/files",
        headers={"Authorization": f"Bearer {owner.pair['access_token']}"},
    )
    assert [f["path"] for f in await files.json()] == ["lib/util.py"]

    await asyncio.sleep(1.3)  # the server records sizes and counters about once a second
    await client.app[TASKS].drain()
    _, document = await doc(owner, ws)
    assert [(f["path"], f["language"], f["size"]) for f in document["files"]] == [
        ("lib/util.py", "python", len("def util(): pass\n# from b\n"))
    ]
    assert document["analytics"]["edits"] >= 2 and document["analytics"]["sessions"] == 2
    participants = await (
        await client.get(
            f"/api/sessions/{sessions[1]}/participants",
            headers={"Authorization": f"Bearer {owner.pair['access_token']}"},
        )
    ).json()
    assert {(p["user"]["username"], p["role"]) for p in participants} == {
        ("sharer", "owner"),
        ("watcher", "viewer"),
    }
    assert json.dumps(document).count("lib/util.py") == 1


async def test_active_minutes_count_while_someone_is_connected(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collab.documents.rooms as rooms_module

    # A "minute" of half a second, so the test need not wait a real one.
    monkeypatch.setattr(rooms_module, "SECONDS_PER_ACTIVE_MINUTE", 0.5)
    owner = await person(client, "busy")
    ws = await workspace(owner)
    _, session = await owner.call(
        "post", "/api/sessions", {"name": "s", "language": "python", "ws_id": ws}
    )
    agent = await start_agent()
    try:
        await agent.call(
            "connect",
            name="a",
            url=str(client.make_url("")).rstrip("/"),
            room=f"{session['session_id']}/a.py",
            token=owner.pair["access_token"],
        )
        await asyncio.sleep(2.5)
    finally:
        await agent.stop()
    _, document = await doc(owner, ws)
    assert document["analytics"]["active_minutes"] >= 3
