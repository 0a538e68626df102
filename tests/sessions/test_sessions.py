"""Live sessions over HTTP, and presence over Socket.IO's `/` namespace."""

from __future__ import annotations

import asyncio
import io
import json

import asyncpg
import pytest

from collab.state import SETTINGS
from tests.accounts_support import register
from tests.live_support import LiveSession, Member
from tests.session_support import call, socket_for, wait_for
from tests.support import Client


async def test_session_crud_and_listing(client: Client, live: LiveSession) -> None:
    base = f"/api/sessions/{live.session_id}"
    status, session = await call(client, live.owner, "get", base)
    assert (status, session["role"], session["language"], session["status"]) == (
        200,
        "owner",
        "python",
        "active",
    )
    status, listed = await call(client, live.viewer, "get", "/api/sessions")
    assert [(s["session_id"], s["role"]) for s in listed] == [(live.session_id, "viewer")]
    status, patched = await call(
        client, live.owner, "patch", base, {"name": "Renamed", "is_dynamic": True}
    )
    assert (status, patched["name"], patched["is_dynamic"]) == (200, "Renamed", True)
    assert (await call(client, live.editor, "patch", base, {"name": "x"}))[0] == 403
    assert (await call(client, live.editor, "delete", base))[0] == 403
    assert (await call(client, live.owner, "delete", base))[0] == 204
    assert (await call(client, live.owner, "get", base))[0] == 404


async def test_validation(client: Client) -> None:
    owner = Member("val", await register(client, "val"))
    for body, field in [
        ({"name": "x"}, "language"),
        ({"name": "", "language": "py"}, "name"),
        ({"name": "x", "language": "rm -rf /"}, "language"),
        ({"name": "x", "language": "py", "owner_id": "me"}, "owner_id"),
    ]:
        status, error = await call(client, owner, "post", "/api/sessions", body)
        assert status == 422 and field in error["error"]["details"], body


async def test_participants_listing_shape(client: Client, live: LiveSession) -> None:
    status, participants = await call(
        client, live.viewer, "get", f"/api/sessions/{live.session_id}/participants"
    )
    assert status == 200
    assert [(p["user"]["username"], p["role"], p["is_active"]) for p in participants] == [
        ("owner", "owner", False),
        ("editor", "editor", False),
        ("viewer", "viewer", False),
    ]
    assert set(participants[0]) == {
        "participant_id",
        "user",
        "role",
        "joined_at",
        "last_active",
        "is_active",
    }


async def test_outsiders_cannot_reach_a_session_by_id(client: Client, live: LiveSession) -> None:
    outsider = Member("outsider", await register(client, "outsider"))
    base = f"/api/sessions/{live.session_id}"
    for method, path, body in [
        ("get", base, None),
        ("patch", base, {"name": "x"}),
        ("delete", base, None),
        ("get", f"{base}/participants", None),
        ("get", f"{base}/files", None),
        ("get", f"{base}/files/main.py", None),
        ("post", f"{base}/invitations", {"role": "editor"}),
    ]:
        status, body_ = await call(client, outsider, method, path, body)
        assert (status, body_["error"]["code"]) == (404, "not_found"), (method, path)


async def test_join_links_are_single_use_and_expire(
    client: Client, live: LiveSession, db: asyncpg.Connection
) -> None:
    base = f"/api/sessions/{live.session_id}"
    status, invitation = await call(
        client,
        live.owner,
        "post",
        f"{base}/invitations",
        {"role": "editor", "message": "pair with me", "expires_in_hours": 2},
    )
    assert status == 201
    # The page a browser opens, under the public URL (no front-end configured here).
    assert invitation["join_url"] == f"{client.app[SETTINGS].base_url}/join/{invitation['token']}"
    guest = Member("guest", await register(client, "guest"))
    status, joined = await call(client, guest, "post", f"/api/join/{invitation['token']}")
    assert (status, joined["participant"]["role"]) == (200, "editor")
    other = Member("other", await register(client, "other"))
    status, body = await call(client, other, "post", f"/api/join/{invitation['token']}")
    assert (status, body["error"]["code"]) == (410, "gone")

    _, expiring = await call(client, live.owner, "post", f"{base}/invitations", {"role": "viewer"})
    await db.execute(
        "UPDATE session_invitations SET expires_at = now() - interval '1 second' "
        "WHERE status = 'pending'"
    )
    assert (await call(client, other, "post", f"/api/join/{expiring['token']}"))[0] == 410
    assert (await call(client, other, "post", "/api/join/no-such-token"))[0] == 404


async def test_email_bound_links_and_no_escalation(client: Client, live: LiveSession) -> None:
    base = f"/api/sessions/{live.session_id}"
    _, invitation = await call(
        client,
        live.owner,
        "post",
        f"{base}/invitations",
        {"role": "viewer", "email": "intended@example.org"},
    )
    wrong = Member("wrong", await register(client, "wrong"))
    assert (await call(client, wrong, "post", f"/api/join/{invitation['token']}"))[0] == 403
    intended = Member("intended", await register(client, "intended"))
    assert (await call(client, intended, "post", f"/api/join/{invitation['token']}"))[0] == 200
    assert (await call(client, live.viewer, "post", f"{base}/invitations", {"role": "viewer"}))[
        0
    ] == 403
    assert (await call(client, live.editor, "post", f"{base}/invitations", {"role": "owner"}))[
        0
    ] == 422
    assert (await call(client, live.editor, "post", f"{base}/invitations", {"role": "editor"}))[
        0
    ] == 201


async def test_the_owner_cannot_be_demoted_or_removed(client: Client, live: LiveSession) -> None:
    base = f"/api/sessions/{live.session_id}"
    _, participants = await call(client, live.owner, "get", f"{base}/participants")
    owner_pid = participants[0]["participant_id"]
    assert (
        await call(
            client, live.owner, "patch", f"{base}/participants/{owner_pid}", {"role": "viewer"}
        )
    )[0] == 409
    assert (await call(client, live.owner, "delete", f"{base}/participants/{owner_pid}"))[0] == 409
    assert (await call(client, live.editor, "delete", f"{base}/participants/{owner_pid}"))[0] == 403
    viewer_pid = participants[2]["participant_id"]
    assert (await call(client, live.viewer, "delete", f"{base}/participants/{viewer_pid}"))[
        0
    ] == 204
    assert (await call(client, live.viewer, "get", base))[0] == 404


@pytest.mark.parametrize("value", ["' OR 1=1 --", "x\u0000y", "x" * 1_000_000])
async def test_hostile_strings_never_500(client: Client, live: LiveSession, value: str) -> None:
    base = f"/api/sessions/{live.session_id}"
    for method, path, body in [
        ("post", "/api/sessions", {"name": value, "language": value, "description": value}),
        ("patch", base, {"name": value, "description": value, "framework": value}),
        ("post", f"{base}/invitations", {"role": value, "email": value, "message": value}),
        ("post", f"/api/join/{value[:3000]}", {}),
        ("get", f"/api/join/{value[:3000]}", None),
        ("post", f"/api/join/{value[:3000]}/decline", None),
        ("get", f"{base}/files/{value[:3000]}", None),
    ]:
        data = io.BytesIO(json.dumps(body).encode()) if body is not None else None
        response = await getattr(client, method)(
            path, data=data, headers=live.owner.headers | {"Content-Type": "application/json"}
        )
        assert response.status in (200, 201, 404, 413, 414, 422), (path, response.status)


# -- presence on `/` ----------------------------------------------------------------------


async def test_session_join_ack_and_presence_events(client: Client, live: LiveSession) -> None:
    owner_socket, owner_events = await socket_for(client, live.owner)
    editor_socket, _ = await socket_for(client, live.editor)
    try:
        ack = await owner_socket.call("session:join", {"session_id": live.session_id})
        assert ack["ok"] is True and ack["role"] == "owner" and ack["deployments"] == []
        assert {p["user"]["username"] for p in ack["participants"]} == {"owner", "editor", "viewer"}
        ack = await editor_socket.call("session:join", {"session_id": live.session_id})
        joined = await wait_for(owner_events, "participant:joined")
        assert (joined["user"]["username"], joined["is_active"]) == ("editor", True)

        status, _ = await call(
            client,
            live.owner,
            "patch",
            f"/api/sessions/{live.session_id}",
            {"description": "now with tests"},
        )
        assert status == 200
        updated = await wait_for(owner_events, "session:updated")
        assert updated["description"] == "now with tests"

        assert (await editor_socket.call("session:leave", {"session_id": live.session_id}))["ok"]
        left = await wait_for(owner_events, "participant:left")
        assert left["user_id"] == live.editor.user_id
    finally:
        await owner_socket.disconnect()
        await editor_socket.disconnect()


async def test_a_closed_tab_is_announced_as_a_departure(client: Client, live: LiveSession) -> None:
    """No `session:leave`: the socket just goes (a tab closed, a laptop lid shut)."""
    owner_socket, owner_events = await socket_for(client, live.owner)
    editor_socket, _ = await socket_for(client, live.editor)
    try:
        await owner_socket.call("session:join", {"session_id": live.session_id})
        await editor_socket.call("session:join", {"session_id": live.session_id})
        await wait_for(owner_events, "participant:joined")
        await editor_socket.disconnect()
        left = await wait_for(owner_events, "participant:left")
        assert left["user_id"] == live.editor.user_id
        status, participants = await call(
            client, live.owner, "get", f"/api/sessions/{live.session_id}/participants"
        )
        assert status == 200
        active = {p["user"]["username"]: p["is_active"] for p in participants}
        assert active["editor"] is False
    finally:
        await owner_socket.disconnect()
        await editor_socket.disconnect()


async def test_a_removed_participant_is_told_on_their_own_socket(
    client: Client, live: LiveSession
) -> None:
    """The room hears of a removal after the removed socket left it; they are told directly."""
    editor_socket, editor_events = await socket_for(client, live.editor)
    try:
        await editor_socket.call("session:join", {"session_id": live.session_id})
        participant_id = await live.participant_id(client, live.editor)
        status, _ = await call(
            client,
            live.owner,
            "delete",
            f"/api/sessions/{live.session_id}/participants/{participant_id}",
        )
        assert status == 204
        left = await wait_for(editor_events, "participant:left")
        assert left["user_id"] == live.editor.user_id and left["removed"] is True
    finally:
        await editor_socket.disconnect()


async def test_session_join_refuses_outsiders_and_bad_input(
    client: Client, live: LiveSession
) -> None:
    outsider = Member("lurker", await register(client, "lurker"))
    sio, _ = await socket_for(client, outsider)
    try:
        ack = await sio.call("session:join", {"session_id": live.session_id})
        assert ack == {"ok": False, "error": {"code": "not_found", "message": "No such session."}}
        for bad in (None, "x", {"session_id": "not-a-uuid"}, {"session_id": 5}):
            ack = await sio.call("session:join", bad)
            assert ack["ok"] is False and ack["error"]["code"] == "validation_failed"
    finally:
        await sio.disconnect()


async def test_is_active_follows_live_sockets(
    client: Client, live: LiveSession, db: asyncpg.Connection
) -> None:
    sio, _ = await socket_for(client, live.editor)
    await sio.call("session:join", {"session_id": live.session_id})
    query = "SELECT is_active FROM session_participants WHERE user_id = $1::uuid"
    assert await db.fetchval(query, live.editor.user_id) is True
    await sio.disconnect()
    for _ in range(40):
        if await db.fetchval(query, live.editor.user_id) is False:
            break
        await asyncio.sleep(0.05)
    assert await db.fetchval(query, live.editor.user_id) is False


async def test_first_edit_of_a_file_announces_it(client: Client, live: LiveSession) -> None:
    from tests.live_support import start_agent

    sio, events = await socket_for(client, live.viewer)
    await sio.call("session:join", {"session_id": live.session_id})
    agent = await start_agent()
    try:
        await agent.call(
            "connect",
            name="w",
            url=str(client.make_url("")).rstrip("/"),
            room=live.room("README.md"),
            token=live.editor.token,
        )
        await agent.call("insert", name="w", index=0, text="# hi")
        created = await wait_for(events, "file:created")
        assert created == {"path": "README.md"}
        status, files = await call(
            client, live.viewer, "get", f"/api/sessions/{live.session_id}/files"
        )
        assert status == 200
        assert [(f["path"], f["size"]) for f in files] == [("README.md", 4)]
    finally:
        await agent.stop()
        await sio.disconnect()
