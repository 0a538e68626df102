"""Document sync with the real npm clients (yjs + y-socket.io + socket.io-client)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from collab.documents import awareness
from tests.live_support import LiveSession, live_session
from tests.node_agent import NodeAgent
from tests.support import Client


def url(client: Client) -> str:
    return str(client.make_url("")).rstrip("/")


async def connect(
    agent: NodeAgent, client: Client, name: str, token: str, room: str
) -> dict[str, Any]:
    result: dict[str, Any] = await agent.call(
        "connect", name=name, url=url(client), room=room, token=token
    )
    return result


async def file_text(client: Client, live: LiveSession, path: str = "main.py") -> str:
    response = await client.get(
        f"/api/sessions/{live.session_id}/files/{path}", headers=live.owner.headers
    )
    assert response.status == 200, await response.text()
    return await response.text()


async def test_many_clients_converge_on_the_same_text(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    names = [f"c{i}" for i in range(6)]
    for name in names:
        assert (await connect(agent, client, name, live.editor.token, live.room()))["synced"]
    await asyncio.gather(
        *(
            agent.call("insert", name=name, index=0, text=f"<{name}:{i}>")
            for i in range(5)
            for name in names
        )
    )
    expected_length = sum(len(f"<{n}:{i}>") for i in range(5) for n in names)
    texts = [await agent.call("waitLength", name=n, length=expected_length) for n in names]
    assert len(set(texts)) == 1 and len(texts[0]) == expected_length
    assert await file_text(client, live) == texts[0]


async def test_a_late_joiner_receives_the_whole_document(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await connect(agent, client, "early", live.editor.token, live.room())
    await agent.call("insert", name="early", index=0, text="print('hello')\n")
    await agent.call("setMap", name="early", key="cursor-color", value="teal")
    await asyncio.sleep(0.2)
    await connect(agent, client, "late", live.viewer.token, live.room())
    # y-socket.io's `synced` can flip before the server's diff lands; wait for the text.
    await agent.call("waitText", name="late", text="print('hello')\n", timeout=5000)
    # Shared types other than `content` are the client's own business, kept as they are.
    assert await agent.call("getMap", name="late", key="cursor-color") == "teal"


async def test_a_viewers_edit_is_refused_and_never_reaches_others(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await connect(agent, client, "ed", live.editor.token, live.room())
    await connect(agent, client, "vi", live.viewer.token, live.room())
    await agent.call("insert", name="ed", index=0, text="shared ")
    await agent.call("waitText", name="vi", text="shared ")
    await agent.call("insert", name="vi", index=0, text="VANDALISM ")
    await asyncio.sleep(0.5)
    assert [e["code"] for e in await agent.call("syncErrors", name="vi")] == ["read_only"]
    assert await agent.call("text", name="ed") == "shared "
    assert await file_text(client, live) == "shared "
    # The viewer still receives every update.
    await agent.call("insert", name="ed", index=7, text="more")
    assert await agent.call("waitLength", name="vi", length=len("VANDALISM shared more"))


async def test_offline_edits_merge_on_reconnect(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await connect(agent, client, "a", live.editor.token, live.room())
    await connect(agent, client, "b", live.owner.token, live.room())
    await agent.call("insert", name="a", index=0, text="line1\n")
    await agent.call("waitText", name="b", text="line1\n")
    await agent.call("disconnect", name="a")
    await agent.call("insert", name="a", index=-1, text="offline-a\n")
    await agent.call("insert", name="b", index=-1, text="online-b\n")
    await asyncio.sleep(0.3)
    await agent.call("reconnect", name="a")
    merged_a = await agent.call("waitLength", name="a", length=len("line1\noffline-a\nonline-b\n"))
    merged_b = await agent.call("waitLength", name="b", length=len(merged_a))
    assert merged_a == merged_b and "offline-a" in merged_a and "online-b" in merged_a
    assert await file_text(client, live) == merged_a


async def test_malformed_updates_are_refused_and_the_connection_stays_usable(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await connect(agent, client, "good", live.editor.token, live.room())
    await agent.call("insert", name="good", index=0, text="intact")
    await asyncio.sleep(0.2)
    namespace = f"/yjs|{live.room()}"
    assert (
        await agent.call(
            "rawConnect", name="raw", url=url(client), namespace=namespace, token=live.editor.token
        )
    )["connected"]
    for payload in ({"bytes": [1, 2, 3, 250, 251]}, {"string": "not binary"}):
        result = await agent.call("rawEmit", name="raw", event="sync-update", **payload)
        assert result["connected"]
    result = await agent.call("rawEmit", name="raw", event="awareness-update", bytes=[9, 9, 9])
    codes = [e["code"] for e in result["syncErrors"]]
    assert codes == ["invalid_update", "invalid_update", "invalid_update"]
    assert await agent.call("rawSyncStep1", name="raw") == "intact"  # still usable
    assert await file_text(client, live) == "intact"


async def test_oversized_and_flooding_messages_get_clear_errors(
    make_client: Any, agent: NodeAgent
) -> None:
    client = await make_client(max_message_bytes=2048, socket_messages_per_second=5)
    live = await live_session(client)
    namespace = f"/yjs|{live.room()}"
    await agent.call(
        "rawConnect", name="raw", url=url(client), namespace=namespace, token=live.editor.token
    )
    result = await agent.call("rawEmit", name="raw", event="sync-update", bytes=[0] * 3000)
    assert result == {"connected": True, "syncErrors": [result["syncErrors"][0]]}
    assert result["syncErrors"][0]["code"] == "too_large"
    # An empty awareness update ([0]) is valid: only the rate limit can refuse it.
    result = await agent.call("rawBurst", name="raw", event="awareness-update", bytes=[0], count=30)
    codes = [e["code"] for e in result["syncErrors"][1:]]
    assert result["connected"] and codes and set(codes) == {"rate_limited"}
    assert len(codes) >= 30 - 10  # the burst allowance is two seconds' worth


async def test_the_bytes_a_socket_sends_are_budgeted(make_client: Any, agent: NodeAgent) -> None:
    """Checking an update costs time in proportion to its size, so bytes are rate limited
    too, not only messages: a burst of twice the largest message, then the budget's rate."""
    client = await make_client(max_message_bytes=2048, socket_bytes_per_second=4096)
    live = await live_session(client)
    namespace = f"/yjs|{live.room()}"
    await agent.call(
        "rawConnect", name="raw", url=url(client), namespace=namespace, token=live.editor.token
    )
    # Valid ~2,000-byte awareness updates: one client, a 1.9 KB JSON state.
    state = '{"user":{"color":"' + "x" * 1960 + '"}}'
    message = list(awareness.encode([awareness.AwarenessEntry(5, 1, state)]))
    result = await agent.call(
        "rawBurst", name="raw", event="awareness-update", bytes=message, count=8
    )
    codes = [e["code"] for e in result["syncErrors"]]
    assert result["connected"] and set(codes) == {"rate_limited"}
    assert 8 - len(codes) == 4  # 8,192 bytes of burst: four messages of ~2 KB


async def test_who_may_connect(client: Client, live: LiveSession, agent: NodeAgent) -> None:
    stranger = await client.post(
        "/api/auth/register",
        json={
            "email": "x@example.org",
            "username": "stranger",
            "password": "Correct-Horse-7-Battery",
        },
    )
    stranger_token = (await stranger.json())["access_token"]
    cases = {
        "nobody": (None, "unauthorized"),
        "garbage": ("not-a-token", "unauthorized"),
        "stranger": (stranger_token, "forbidden"),
    }
    for name, (token, expected) in cases.items():
        result = await agent.call(
            "rawConnect",
            name=name,
            url=url(client),
            namespace=f"/yjs|{live.room()}",
            token=token,
            timeout=5000,
        )
        assert result == {"connected": False, "errors": [expected]}, name
    bad_path = await agent.call(
        "rawConnect",
        name="bad",
        url=url(client),
        namespace=f"/yjs|{live.session_id}/../etc/passwd",
        token=live.owner.token,
        timeout=5000,
    )
    assert bad_path["errors"] == ["not_found"]


async def test_a_role_change_applies_to_open_connections_at_once(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await connect(agent, client, "ed", live.editor.token, live.room())
    await agent.call("insert", name="ed", index=0, text="before ")
    await asyncio.sleep(0.2)
    editor_pid = await live.participant_id(client, live.editor)
    response = await client.patch(
        f"/api/sessions/{live.session_id}/participants/{editor_pid}",
        json={"role": "viewer"},
        headers=live.owner.headers,
    )
    assert (response.status, (await response.json())["role"]) == (200, "viewer")
    await asyncio.sleep(0.3)
    await agent.call("insert", name="ed", index=0, text="after ")
    await asyncio.sleep(0.3)
    assert [e["code"] for e in await agent.call("syncErrors", name="ed")] == ["read_only"]
    assert await file_text(client, live) == "before "


async def test_removing_a_participant_disconnects_them_at_once(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await connect(agent, client, "ed", live.editor.token, live.room())
    editor_pid = await live.participant_id(client, live.editor)
    response = await client.delete(
        f"/api/sessions/{live.session_id}/participants/{editor_pid}", headers=live.owner.headers
    )
    assert response.status == 204
    for _ in range(50):
        if not await agent.call("connected", name="ed"):
            break
        await asyncio.sleep(0.05)
    assert not await agent.call("connected", name="ed")


async def test_awareness_is_relayed_and_cleaned_up_when_a_socket_goes(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await connect(agent, client, "a", live.editor.token, live.room())
    await connect(agent, client, "b", live.viewer.token, live.room())
    await agent.call("awareness", name="a", state={"name": "Ann", "cursor": 3})
    for _ in range(50):
        if await agent.call("peers", name="b"):
            break
        await asyncio.sleep(0.05)
    # The server stamps who sent a state: the name is the sender's username.
    ann = {"name": "editor", "cursor": 3, "id": live.editor.user_id}
    assert await agent.call("peers", name="b") == [ann]
    await connect(agent, client, "c", live.owner.token, live.room())
    assert await agent.call("peers", name="c") == [ann]
    await agent.call("close", name="a")
    for _ in range(50):
        if not await agent.call("peers", name="b"):
            break
        await asyncio.sleep(0.05)
    assert await agent.call("peers", name="b") == []


async def test_updates_are_stored_and_survive_a_restart(
    make_client: Any, database_url: str, agent: NodeAgent
) -> None:
    first = await make_client()
    live = await live_session(first)
    await connect(agent, first, "w", live.editor.token, live.room("src/app.py"))
    for i in range(30):
        await agent.call("insert", name="w", index=-1, text=f"{i},")
    expected = "".join(f"{i}," for i in range(30))
    await agent.call("waitText", name="w", text=expected)
    await asyncio.sleep(0.3)
    await agent.call("close", name="w")
    await first.close()

    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM document_updates")
    finally:
        await conn.close()
    assert stored >= 30
    second = await make_client()
    files = await (
        await second.get(f"/api/sessions/{live.session_id}/files", headers=live.owner.headers)
    ).json()
    assert [(f["path"], f["size"]) for f in files] == [("src/app.py", len(expected))]
    text = await second.get(
        f"/api/sessions/{live.session_id}/files/src/app.py", headers=live.owner.headers
    )
    assert await text.text() == expected


async def test_compaction_folds_updates_into_a_snapshot_without_losing_any(
    make_client: Any, database_url: str, agent: NodeAgent
) -> None:
    client = await make_client(document_compact_after=10)
    live = await live_session(client)
    await connect(agent, client, "w", live.editor.token, live.room())
    for i in range(25):
        await agent.call("insert", name="w", index=-1, text=f"{i};")
    expected = "".join(f"{i};" for i in range(25))
    await agent.call("waitText", name="w", text=expected)
    await asyncio.sleep(0.5)
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT snapshot IS NOT NULL AS has_snapshot, "
            "(SELECT count(*) FROM document_updates) AS updates FROM documents"
        )
    finally:
        await conn.close()
    assert row["has_snapshot"] and row["updates"] < 25
    fresh = await make_client()
    response = await fresh.get(
        f"/api/sessions/{live.session_id}/files/main.py", headers=live.owner.headers
    )
    assert await response.text() == expected


async def test_deleting_and_renaming_files(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    from tests.session_support import socket_for, wait_for

    watcher, events = await socket_for(client, live.viewer)
    await watcher.call("session:join", {"session_id": live.session_id})
    try:
        await connect(agent, client, "w", live.editor.token, live.room("old.py"))
        await agent.call("insert", name="w", index=0, text="x = 1")
        await wait_for(events, "file:created")
        base = f"/api/sessions/{live.session_id}/files"
        viewer_try = await client.patch(
            f"{base}/old.py", json={"path": "new.py"}, headers=live.viewer.headers
        )
        assert viewer_try.status == 403
        bad = await client.patch(
            f"{base}/old.py", json={"path": "../escape.py"}, headers=live.editor.headers
        )
        assert bad.status == 422
        renamed = await client.patch(
            f"{base}/old.py", json={"path": "pkg/new.py"}, headers=live.editor.headers
        )
        assert (renamed.status, await renamed.json()) == (200, {"path": "pkg/new.py"})
        assert await wait_for(events, "file:renamed") == {"from": "old.py", "to": "pkg/new.py"}
        for _ in range(40):  # the open connection to the old name is closed
            if not await agent.call("connected", name="w"):
                break
            await asyncio.sleep(0.05)
        assert not await agent.call("connected", name="w")
        assert await file_text(client, live, "pkg/new.py") == "x = 1"
        assert (await client.get(f"{base}/old.py", headers=live.owner.headers)).status == 404

        deleted = await client.delete(f"{base}/pkg/new.py", headers=live.editor.headers)
        assert deleted.status == 204
        assert await wait_for(events, "file:deleted") == {"path": "pkg/new.py"}
        assert await (await client.get(base, headers=live.owner.headers)).json() == []
        assert (
            await client.delete(f"{base}/pkg/new.py", headers=live.editor.headers)
        ).status == 404
    finally:
        await watcher.disconnect()


async def test_idle_documents_are_unloaded_and_reload_from_storage(
    make_client: Any, agent: NodeAgent
) -> None:
    from collab.model import DocumentKey
    from collab.state import DOCUMENTS

    client = await make_client(document_idle_seconds=0.3)
    live = await live_session(client)
    await connect(agent, client, "w", live.editor.token, live.room())
    await agent.call("insert", name="w", index=0, text="persisted")
    await asyncio.sleep(0.2)
    key = DocumentKey(uuid.UUID(live.session_id), "main.py")
    rooms = client.app[DOCUMENTS].rooms
    assert rooms.loaded(key) is not None
    await agent.call("close", name="w")
    for _ in range(40):
        if rooms.loaded(key) is None:
            break
        await asyncio.sleep(0.05)
    assert rooms.loaded(key) is None
    await connect(agent, client, "again", live.viewer.token, live.room())
    await agent.call("waitText", name="again", text="persisted")
