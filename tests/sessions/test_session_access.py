"""Who may still read and write a session: workspace bounds, join links, archiving, quotas.

Each test is an attack from the security review, made with ordinary accounts over HTTP,
Socket.IO and the real npm Yjs clients; it passes only if the attack fails.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from tests.live_support import Member, add_member, live_session
from tests.node_agent import NodeAgent
from tests.session_support import call, socket_for, wait_for
from tests.support import TEST_SECRET, Client, ServerProcess
from tests.workspace_support import Person, member, person, workspace

ARCHIVED = {"code": "conflict", "message": "The session is archived."}


def as_member(someone: Person, name: str) -> Member:
    return Member(name, someone.pair)


def url(client: Client) -> str:
    return str(client.make_url("")).rstrip("/")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5) -> bool:
    for _ in range(int(timeout / 0.05)):
        if await check():
            return True
        await asyncio.sleep(0.05)
    return await check()


async def file_text(client: Client, who: Member, session_id: str, path: str = "main.py") -> str:
    response = await client.get(f"/api/sessions/{session_id}/files/{path}", headers=who.headers)
    assert response.status == 200, await response.text()
    return await response.text()


async def write(
    agent: NodeAgent, client: Client, name: str, reader: Member, session_id: str, text: str
) -> None:
    """Insert text through an open socket and wait until the server has stored it."""
    before = await file_text_or_empty(client, reader, session_id)
    await agent.call("insert", name=name, index=-1, text=text)

    async def landed() -> bool:
        return await file_text_or_empty(client, reader, session_id) == before + text

    assert await eventually(landed), await file_text_or_empty(client, reader, session_id)


async def file_text_or_empty(client: Client, who: Member, session_id: str) -> str:
    response = await client.get(f"/api/sessions/{session_id}/files/main.py", headers=who.headers)
    return await response.text() if response.status == 200 else ""


async def refused_write(
    agent: NodeAgent, client: Client, name: str, reader: Member, session_id: str
) -> None:
    """An edit through this open socket never reaches the stored document."""
    before = await file_text_or_empty(client, reader, session_id)
    errors_before = len(await agent.call("syncErrors", name=name))
    await agent.call("insert", name=name, index=0, text="ATTACK ")

    async def refused_or_cut() -> bool:
        errors = await agent.call("syncErrors", name=name)
        if len(errors) > errors_before:
            assert errors[-1]["code"] == "read_only"
            return True
        return not await agent.call("connected", name=name)

    assert await eventually(refused_or_cut)
    await asyncio.sleep(0.3)
    assert await file_text_or_empty(client, reader, session_id) == before


async def open_document(
    agent: NodeAgent, client: Client, name: str, who: Member, session_id: str
) -> dict[str, Any]:
    result: dict[str, Any] = await agent.call(
        "connect", name=name, url=url(client), room=f"{session_id}/main.py", token=who.token
    )
    return result


async def ws_session(owner: Person, ws: str, name: str = "team") -> str:
    status, session = await owner.call(
        "post", "/api/sessions", {"name": name, "language": "python", "ws_id": ws}
    )
    assert status == 201, session
    return str(session["session_id"])


# -- 2: the workspace role bounds the session role ------------------------------------------


async def test_a_removed_workspace_member_loses_every_way_into_its_sessions(
    client: Client, agent: NodeAgent
) -> None:
    olive, bob = await person(client, "olive"), await person(client, "bob")
    ws = await workspace(olive)
    await member(olive, ws, bob, "editor")
    shared = await ws_session(olive, ws)
    owned = await ws_session(bob, ws, "bob's own")  # bob owns this one
    o, b = as_member(olive, "olive"), as_member(bob, "bob")
    assert (await open_document(agent, client, "bob", b, shared))["synced"]
    await write(agent, client, "bob", o, shared, "by bob\n")
    presence, events = await socket_for(client, b)
    try:
        assert (await presence.call("session:join", {"session_id": shared}))["ok"]

        assert (await olive.call("delete", f"/api/workspaces/{ws}/members/{bob.id}"))[0] == 204

        # The already-open document socket can no longer write, and is cut off.
        await refused_write(agent, client, "bob", o, shared)
        assert await eventually(lambda: _not_connected(agent, "bob"))
        # No new socket, no presence, no events.
        result = await open_document(agent, client, "again", b, shared)
        assert result["errors"] == ["forbidden"]
        ack = await presence.call("session:join", {"session_id": shared})
        assert ack["ok"] is False and ack["error"]["code"] == "not_found"
        await olive.call("patch", f"/api/sessions/{shared}", {"description": "secret plans"})
        await asyncio.sleep(0.3)
        assert "session:updated" not in [name for name, _ in events]
    finally:
        await presence.disconnect()
    # Neither the shared session nor the one he owns: no reading, no deploying.
    for session_id in (shared, owned):
        base = f"/api/sessions/{session_id}"
        for method, path in [
            ("get", base),
            ("get", f"{base}/files"),
            ("get", f"{base}/files/main.py"),
            ("get", f"{base}/participants"),
            ("post", f"{base}/deployments"),
            ("post", f"{base}/invitations"),
        ]:
            body = {"role": "viewer"} if path.endswith("/invitations") else None
            status, body = await call(client, b, method, path, body)
            assert (status, body["error"]["code"]) == (404, "not_found"), (method, path)
    assert (await call(client, b, "get", "/api/sessions"))[1] == []
    # His participant row through the workspace is gone from the session's list.
    _, participants = await call(client, o, "get", f"/api/sessions/{shared}/participants")
    assert [p["user"]["username"] for p in participants] == ["olive"]


async def _not_connected(agent: NodeAgent, name: str) -> bool:
    return not await agent.call("connected", name=name)


async def test_a_member_demoted_to_workspace_viewer_can_no_longer_write(
    client: Client, agent: NodeAgent
) -> None:
    olive, bob = await person(client, "olive"), await person(client, "bob")
    ws = await workspace(olive)
    await member(olive, ws, bob, "editor")
    shared = await ws_session(olive, ws)
    owned = await ws_session(bob, ws, "bob's own")
    o, b = as_member(olive, "olive"), as_member(bob, "bob")
    await open_document(agent, client, "bob", b, shared)
    await open_document(agent, client, "bob-idle", b, shared)  # opened now, written later
    await write(agent, client, "bob", o, shared, "one\n")

    status, _ = await olive.call(
        "put", f"/api/workspaces/{ws}/members/{bob.id}", {"role": "viewer"}
    )
    assert status == 200
    await refused_write(agent, client, "bob", o, shared)
    assert await agent.call("connected", name="bob")  # still reads, as a viewer
    # A new socket is read-only too; HTTP writes and deploys are refused, reading is not.
    await open_document(agent, client, "bob-new", b, shared)
    await refused_write(agent, client, "bob-new", o, shared)
    for session_id in (shared, owned):
        base = f"/api/sessions/{session_id}"
        for method, path, body in [
            ("post", f"{base}/deployments", None),
            ("delete", f"{base}/files/main.py", None),
            ("patch", f"{base}/files/main.py", {"path": "moved.py"}),
        ]:
            status, answer = await call(client, b, method, path, body)
            assert (status, answer["error"]["code"]) == (403, "forbidden"), (method, path)
        assert (await call(client, b, "get", f"{base}/files"))[0] == 200
    # Even as the session's owner he is only a viewer now.
    status, answer = await call(client, b, "patch", f"/api/sessions/{owned}", {"name": "mine"})
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    _, session = await call(client, b, "get", f"/api/sessions/{owned}")
    assert session["role"] == "viewer"
    _, participants = await call(client, o, "get", f"/api/sessions/{shared}/participants")
    assert {p["user"]["username"]: p["role"] for p in participants}["bob"] == "viewer"

    # Promoted back, his open sockets write again at once.
    status, _ = await olive.call(
        "put", f"/api/workspaces/{ws}/members/{bob.id}", {"role": "editor"}
    )
    assert status == 200
    await asyncio.sleep(0.3)
    await write(agent, client, "bob-idle", o, shared, "two\n")


# -- 3: join links do not outlive their maker's role -----------------------------------------


async def test_a_removed_editor_cannot_come_back_through_his_own_link(
    client: Client, db: asyncpg.Connection
) -> None:
    live = await live_session(client)
    base = f"/api/sessions/{live.session_id}"
    status, link = await call(
        client,
        live.editor,
        "post",
        f"{base}/invitations",
        {"role": "editor", "expires_in_hours": 720},
    )
    assert status == 201
    editor_pid = await live.participant_id(client, live.editor)
    assert (await call(client, live.owner, "delete", f"{base}/participants/{editor_pid}"))[0] == 204
    status, body = await call(client, live.editor, "post", f"/api/join/{link['token']}")
    assert (status, body["error"]["code"]) == (410, "gone")
    assert (await call(client, live.editor, "get", base))[0] == 404
    _, links = await call(client, live.owner, "get", f"{base}/invitations")
    assert {i["invitation_id"]: i["status"] for i in links}[link["invitation_id"]] == "revoked"


async def test_a_demoted_editors_links_stop_working(client: Client, db: asyncpg.Connection) -> None:
    live = await live_session(client)
    base = f"/api/sessions/{live.session_id}"
    _, link = await call(client, live.editor, "post", f"{base}/invitations", {"role": "editor"})
    editor_pid = await live.participant_id(client, live.editor)
    status, _ = await call(
        client, live.owner, "patch", f"{base}/participants/{editor_pid}", {"role": "viewer"}
    )
    assert status == 200
    for who in (live.editor, Member("friend", await _register(client, "friend"))):
        status, body = await call(client, who, "post", f"/api/join/{link['token']}")
        assert (status, body["error"]["code"]) == (410, "gone")
    _, session = await call(client, live.editor, "get", base)
    assert session["role"] == "viewer"
    # Redeeming checks the maker's role itself, not only the revocation: a link left
    # pending (made before this rule existed) still fails once its maker lost the role.
    await db.execute(
        "UPDATE session_invitations SET status = 'pending' WHERE invitation_id = $1::uuid",
        link["invitation_id"],
    )
    status, body = await call(client, live.editor, "post", f"/api/join/{link['token']}")
    assert (status, body["error"]["code"]) == (410, "gone")
    _, session = await call(client, live.editor, "get", base)
    assert session["role"] == "viewer"


async def _register(client: Client, name: str) -> dict[str, Any]:
    from tests.accounts_support import register

    return await register(client, name)


async def test_on_a_workspace_session_only_workspace_admins_invite(client: Client) -> None:
    olive, adam, eve = [await person(client, n) for n in ("olive", "adam", "eve")]
    ws = await workspace(olive)
    await member(olive, ws, adam, "admin")
    await member(olive, ws, eve, "editor")
    session_id = await ws_session(olive, ws)
    base = f"/api/sessions/{session_id}"
    for method in ("post", "get"):
        status, body = await eve.call(method, f"{base}/invitations", {"role": "viewer"})
        assert (status, body["error"]["code"]) == (403, "forbidden"), method
    status, link = await adam.call("post", f"{base}/invitations", {"role": "editor"})
    assert status == 201
    assert (await adam.call("get", f"{base}/invitations"))[0] == 200

    # Demoted to workspace editor, adam can no longer invite, and his link is revoked.
    assert (await olive.call("put", f"/api/workspaces/{ws}/members/{adam.id}", {"role": "editor"}))[
        0
    ] == 200
    assert (await adam.call("post", f"{base}/invitations", {"role": "viewer"}))[0] == 403
    outsider = await person(client, "outsider")
    status, body = await outsider.call("post", f"/api/join/{link['token']}")
    assert (status, body["error"]["code"]) == (410, "gone")

    # Someone the workspace owner invites from outside the workspace reads its files.
    _, link = await olive.call("post", f"{base}/invitations", {"role": "viewer"})
    status, joined = await outsider.call("post", f"/api/join/{link['token']}")
    assert (status, joined["participant"]["role"]) == (200, "viewer")
    assert (await outsider.call("get", f"{base}/files"))[0] == 200


async def test_listing_and_revoking_links(client: Client) -> None:
    live = await live_session(client)
    base = f"/api/sessions/{live.session_id}"
    _, by_owner = await call(
        client,
        live.owner,
        "post",
        f"{base}/invitations",
        {"role": "viewer", "email": "guest@example.org", "message": "hi"},
    )
    _, by_editor = await call(
        client, live.editor, "post", f"{base}/invitations", {"role": "editor"}
    )
    for who in (live.owner, live.editor):
        status, links = await call(client, who, "get", f"{base}/invitations")
        assert status == 200
        # Newest first; then the two links live_session() made for the editor and viewer.
        assert [i["invitation_id"] for i in links][:2] == [
            by_editor["invitation_id"],
            by_owner["invitation_id"],
        ]
        assert [i["status"] for i in links] == ["pending", "pending", "accepted", "accepted"]
        assert set(links[1]) == {
            "invitation_id",
            "email",
            "role",
            "message",
            "status",
            "invited_by",
            "created_at",
            "expires_at",
            "responded_at",
        }
        assert (links[1]["email"], links[1]["status"], links[1]["invited_by"]) == (
            "guest@example.org",
            "pending",
            live.owner.user_id,
        )
    outsider = Member("outsider", await _register(client, "outsider"))
    link_path = f"{base}/invitations/{by_owner['invitation_id']}"
    for who, expected in [(live.viewer, (403, "forbidden")), (outsider, (404, "not_found"))]:
        for method, path in [("get", f"{base}/invitations"), ("delete", link_path)]:
            status, body = await call(client, who, method, path)
            assert (status, body["error"]["code"]) == expected, (who.name, method)
    assert (await call(client, live.editor, "delete", link_path))[0] == 204
    status, body = await call(client, outsider, "post", f"/api/join/{by_owner['token']}")
    assert (status, body["error"]["code"]) == (410, "gone")
    for path in (link_path, f"{base}/invitations/{uuid.uuid4()}", f"{base}/invitations/nope"):
        status, body = await call(client, live.owner, "delete", path)
        assert (status, body["error"]["code"]) == (404, "not_found"), path
    _, links = await call(client, live.owner, "get", f"{base}/invitations")
    assert [i["status"] for i in links][:2] == ["pending", "revoked"]


async def test_workspace_invitations_do_not_outlive_their_makers_role(client: Client) -> None:
    olive, adam = await person(client, "olive"), await person(client, "adam")
    carol = await person(client, "carol")
    ws = await workspace(olive)
    await member(olive, ws, adam, "admin")
    status, invitation = await adam.call(
        "post", f"/api/workspaces/{ws}/invitations", {"user_id": carol.id, "role": "admin"}
    )
    assert status == 201
    assert (await olive.call("delete", f"/api/workspaces/{ws}/members/{adam.id}"))[0] == 204
    status, body = await carol.call(
        "post", f"/api/invitations/workspace/{invitation['token']}/accept"
    )
    assert (status, body["error"]["code"]) == (410, "gone")
    assert (await carol.call("get", f"/api/workspaces/{ws}"))[0] == 404


# -- 4: an archived session is read-only -----------------------------------------------------


async def test_an_archived_session_is_read_only_everywhere_until_unarchived(
    client: Client, agent: NodeAgent
) -> None:
    live = await live_session(client)
    base = f"/api/sessions/{live.session_id}"
    await open_document(agent, client, "ed", live.editor, live.session_id)
    await open_document(agent, client, "ed-idle", live.editor, live.session_id)
    await write(agent, client, "ed", live.owner, live.session_id, "kept\n")
    _, pending = await call(client, live.owner, "post", f"{base}/invitations", {"role": "viewer"})
    viewer_pid = await live.participant_id(client, live.viewer)

    status, session = await call(client, live.owner, "patch", base, {"status": "archived"})
    assert (status, session["status"]) == (200, "archived")
    await refused_write(agent, client, "ed", live.owner, live.session_id)
    await open_document(agent, client, "owner", live.owner, live.session_id)
    await refused_write(agent, client, "owner", live.owner, live.session_id)

    newcomer = Member("newcomer", await _register(client, "newcomer"))
    for who, method, path, body in [
        (live.owner, "patch", base, {"name": "renamed"}),
        (live.editor, "delete", f"{base}/files/main.py", None),
        (live.editor, "patch", f"{base}/files/main.py", {"path": "moved.py"}),
        (live.editor, "post", f"{base}/invitations", {"role": "viewer"}),
        (live.editor, "post", f"{base}/deployments", None),
        (live.owner, "patch", f"{base}/participants/{viewer_pid}", {"role": "editor"}),
        # Removing someone and revoking a link stay possible: see
        # test_an_archived_sessions_owner_still_takes_access_away.
        (newcomer, "post", f"/api/join/{pending['token']}", None),
    ]:
        status, answer = await call(client, who, method, path, body)
        assert (status, answer["error"]) == (409, ARCHIVED), (method, path)
    for path in (base, f"{base}/files", f"{base}/files/main.py", f"{base}/participants"):
        assert (await call(client, live.viewer, "get", path))[0] == 200
    assert await file_text(client, live.owner, live.session_id) == "kept\n"

    status, session = await call(client, live.owner, "patch", base, {"status": "active"})
    assert (status, session["status"]) == (200, "active")
    await asyncio.sleep(0.3)
    await write(agent, client, "ed-idle", live.owner, live.session_id, "more\n")
    assert (await call(client, newcomer, "post", f"/api/join/{pending['token']}"))[0] == 200


async def test_an_archived_sessions_owner_still_takes_access_away(client: Client) -> None:
    """A leaked link or a participant gone rogue: the owner archives the session at once, then
    revokes the link and removes the person, without unarchiving (which would reopen writes
    for everyone meanwhile)."""
    live = await live_session(client)
    base = f"/api/sessions/{live.session_id}"
    _, leaked = await call(client, live.owner, "post", f"{base}/invitations", {"role": "editor"})
    editor_pid = await live.participant_id(client, live.editor)
    removal = f"{base}/participants/{editor_pid}"
    revocation = f"{base}/invitations/{leaked['invitation_id']}"
    editor_socket, _ = await socket_for(client, live.editor)
    try:
        assert (await editor_socket.call("session:join", {"session_id": live.session_id}))["ok"]
        assert (await call(client, live.owner, "patch", base, {"status": "archived"}))[0] == 200

        # Archived or not, only the owner removes others and only inviters revoke.
        for path in (removal, revocation):
            status, body = await call(client, live.viewer, "delete", path)
            assert (status, body["error"]["code"]) == (403, "forbidden"), path

        assert (await call(client, live.owner, "delete", revocation))[0] == 204
        assert (await call(client, live.owner, "delete", removal))[0] == 204
        _, session = await call(client, live.owner, "get", base)
        assert session["status"] == "archived"  # it never reopened
        assert (await call(client, live.editor, "get", base))[0] == 404
        ack = await editor_socket.call("session:join", {"session_id": live.session_id})
        assert ack["ok"] is False and ack["error"]["code"] == "not_found"
    finally:
        await editor_socket.disconnect()
    _, links = await call(client, live.owner, "get", f"{base}/invitations")
    assert {i["invitation_id"]: i["status"] for i in links}[leaked["invitation_id"]] == "revoked"

    # Active again, neither the link nor the person comes back.
    assert (await call(client, live.owner, "patch", base, {"status": "active"}))[0] == 200
    outsider = Member("outsider", await _register(client, "outsider"))
    status, body = await call(client, outsider, "post", f"/api/join/{leaked['token']}")
    assert (status, body["error"]["code"]) == (410, "gone")
    assert (await call(client, live.editor, "get", base))[0] == 404


# -- every route that changes a session checks both -------------------------------------------

SAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/api/sessions/{session_id}"): {"name": "renamed"},
    ("PATCH", "/api/sessions/{session_id}/participants/{participant_id}"): {"role": "editor"},
    ("POST", "/api/sessions/{session_id}/invitations"): {"role": "viewer"},
    ("PATCH", "/api/sessions/{session_id}/files/{path}"): {"path": "moved.py"},
    ("POST", "/api/sessions/{session_id}/deployments"): {},
}
SESSION = "/api/sessions/{session_id}"
# Deleting an archived session is allowed: archive first, delete later is the usual order.
# Removing a participant and revoking a join link are too: they only take access away, and
# having to unarchive first would reopen writes for everyone meanwhile.
ALLOWED_WHEN_ARCHIVED = {
    ("DELETE", SESSION),
    ("DELETE", SESSION + "/participants/{participant_id}"),
    ("DELETE", SESSION + "/invitations/{invitation_id}"),
}


def session_routes(app: web.Application, *, writes_only: bool) -> list[tuple[str, str]]:
    """Every route of the app on one session, read from its router."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path") or ""
        if route.method in ("HEAD", "OPTIONS", "*") or (writes_only and route.method == "GET"):
            continue
        if path == "/api/sessions/{session_id}" or path.startswith("/api/sessions/{session_id}/"):
            found.add((route.method, path))
    return sorted(found)


async def drive(
    client: Client, who: Member, method: str, template: str, values: dict[str, str]
) -> tuple[int, Any]:
    path = template
    for name in [part[1:-1] for part in template.split("/") if part.startswith("{")]:
        path = path.replace(f"{{{name}}}", values.get(name, str(uuid.uuid4())))
    body = SAMPLE_BODIES.get((method, template), {} if method != "DELETE" else None)
    return await call(client, who, method.lower(), path, body)


async def test_every_session_write_route_refuses_an_archived_session(client: Client) -> None:
    live = await live_session(client)
    base = f"/api/sessions/{live.session_id}"
    _, link = await call(client, live.owner, "post", f"{base}/invitations", {"role": "viewer"})
    values = {
        "session_id": live.session_id,
        "participant_id": await live.participant_id(client, live.viewer),
        "invitation_id": link["invitation_id"],
        "path": "main.py",
    }
    routes = session_routes(client.app, writes_only=True)
    assert {
        ("PATCH", "/api/sessions/{session_id}"),
        ("DELETE", "/api/sessions/{session_id}/participants/{participant_id}"),
        ("POST", "/api/sessions/{session_id}/invitations"),
        ("DELETE", "/api/sessions/{session_id}/invitations/{invitation_id}"),
        ("DELETE", "/api/sessions/{session_id}/files/{path}"),
        ("POST", "/api/sessions/{session_id}/deployments"),
    } <= set(routes)
    assert (await call(client, live.owner, "patch", base, {"status": "archived"}))[0] == 200
    for method, template in routes:
        if (method, template) in ALLOWED_WHEN_ARCHIVED:
            continue
        status, body = await drive(client, live.owner, method, template, values)
        assert (status, body) == (409, {"error": ARCHIVED}), (method, template, body)
    for method, template in sorted(ALLOWED_WHEN_ARCHIVED - {("DELETE", SESSION)}):
        status, body = await drive(client, live.owner, method, template, values)
        assert status == 204, (method, template, body)
    assert (await call(client, live.owner, "delete", base))[0] == 204


async def test_every_session_route_follows_the_workspace_role(client: Client) -> None:
    olive, bob = await person(client, "olive"), await person(client, "bob")
    ws = await workspace(olive)
    await member(olive, ws, bob, "editor")
    session_id = await ws_session(bob, ws, "bob's")  # bob is the session's owner
    o, b = as_member(olive, "olive"), as_member(bob, "bob")
    presence, _ = await socket_for(client, o)  # olive opens it: a participant through the ws
    try:
        assert (await presence.call("session:join", {"session_id": session_id}))["ok"]
    finally:
        await presence.disconnect()
    _, participants = await call(client, b, "get", f"/api/sessions/{session_id}/participants")
    _, link = await call(
        client, o, "post", f"/api/sessions/{session_id}/invitations", {"role": "viewer"}
    )
    values = {
        "session_id": session_id,
        "participant_id": next(
            p["participant_id"] for p in participants if p["user"]["username"] == "olive"
        ),
        "invitation_id": link["invitation_id"],
        "path": "main.py",
    }
    status, _ = await olive.call(
        "put", f"/api/workspaces/{ws}/members/{bob.id}", {"role": "viewer"}
    )
    assert status == 200
    for method, template in session_routes(client.app, writes_only=True):
        status, body = await drive(client, b, method, template, values)
        assert (status, body["error"]["code"]) == (403, "forbidden"), (method, template, body)
    assert (await olive.call("delete", f"/api/workspaces/{ws}/members/{bob.id}"))[0] == 204
    for method, template in session_routes(client.app, writes_only=False):
        status, body = await drive(client, b, method, template, values)
        assert (status, body["error"]["code"]) == (404, "not_found"), (method, template, body)


# -- emails ----------------------------------------------------------------------------------


async def test_only_owners_see_participants_emails(client: Client) -> None:
    live = await live_session(client)
    path = f"/api/sessions/{live.session_id}/participants"
    _, seen_by_owner = await call(client, live.owner, "get", path)
    assert [p["user"]["email"] for p in seen_by_owner] == [
        "owner@example.org",
        "editor@example.org",
        "viewer@example.org",
    ]
    _, seen_by_viewer = await call(client, live.viewer, "get", path)
    assert [p["user"].get("email") for p in seen_by_viewer] == [None, None, "viewer@example.org"]
    assert "email" not in seen_by_viewer[0]["user"]

    owner_socket, owner_events = await socket_for(client, live.owner)
    viewer_socket, _ = await socket_for(client, live.viewer)
    editor_socket, _ = await socket_for(client, live.editor)
    try:
        ack = await viewer_socket.call("session:join", {"session_id": live.session_id})
        assert [p["user"].get("email") for p in ack["participants"]] == [
            None,
            None,
            "viewer@example.org",
        ]
        ack = await owner_socket.call("session:join", {"session_id": live.session_id})
        assert all(p["user"]["email"] for p in ack["participants"])
        await editor_socket.call("session:join", {"session_id": live.session_id})
        joined = await wait_for(owner_events, "participant:joined")
        assert joined["user"]["username"] == "editor" and "email" not in joined["user"]
    finally:
        for sio in (owner_socket, viewer_socket, editor_socket):
            await sio.disconnect()


# -- quotas ----------------------------------------------------------------------------------


async def test_sessions_per_user_are_limited_even_when_created_at_once(make_client: Any) -> None:
    client = await make_client(max_sessions_per_user=3)
    someone = Member("busy", await _register(client, "busy"))
    results = await asyncio.gather(
        *(
            client.post(
                "/api/sessions",
                json={"name": f"s{i}", "language": "python"},
                headers=someone.headers,
            )
            for i in range(12)
        )
    )
    statuses = sorted(r.status for r in results)
    assert statuses == [201] * 3 + [429] * 9
    refused = next(r for r in results if r.status == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert (await refused.json())["error"]["code"] == "rate_limited"
    # Archiving one frees its slot.
    _, sessions = await call(client, someone, "get", "/api/sessions")
    first = sessions[0]["session_id"]
    patch = {"status": "archived"}
    assert (await call(client, someone, "patch", f"/api/sessions/{first}", patch))[0] == 200
    body = {"name": "one more", "language": "python"}
    assert (await call(client, someone, "post", "/api/sessions", body))[0] == 201
    assert (await call(client, someone, "post", "/api/sessions", body))[0] == 429


async def test_editors_of_a_standalone_session_still_invite(client: Client) -> None:
    """The workspace-admin rule is for workspace sessions only."""
    live = await live_session(client)
    guest = await add_member(client, live.session_id, live.editor, "guest", "viewer")
    _, session = await call(client, guest, "get", f"/api/sessions/{live.session_id}")
    assert session["role"] == "viewer"


# -- on every server process -----------------------------------------------------------------


async def test_changes_reach_sockets_held_by_another_process(
    tmp_path: Path, database_url: str, clean_redis: str, agent: NodeAgent
) -> None:
    env = {
        "COLLAB_DATABASE_URL": database_url,
        "COLLAB_REDIS_URL": clean_redis,
        "COLLAB_SECRET_KEY": TEST_SECRET,
    }
    with (
        ServerProcess(tmp_path / "a", env) as a,
        ServerProcess(tmp_path / "b", env) as b,
    ):
        # The changes are made on process a; the sockets live on process b.
        async with aiohttp.ClientSession() as http:

            async def api(method: str, path: str, token: str, body: Any = None) -> Any:
                headers = {"Authorization": f"Bearer {token}"}
                async with http.request(method, a.url + path, json=body, headers=headers) as r:
                    assert r.status < 300, await r.text()
                    return await r.json() if r.content_type == "application/json" else None

            async def text(session_id: str, token: str) -> str:
                path = f"{a.url}/api/sessions/{session_id}/files/main.py"
                headers = {"Authorization": f"Bearer {token}"}
                async with http.get(path, headers=headers) as r:
                    return await r.text() if r.status == 200 else ""

            people = {}
            for name in ("olive", "bob"):
                people[name] = await api(
                    "POST",
                    "/api/auth/register",
                    "",
                    {
                        "email": f"{name}@example.org",
                        "username": name,
                        "password": "Correct-Horse-7-Battery",
                    },
                )
            olive, bob = (people[n]["access_token"] for n in ("olive", "bob"))
            bob_id = people["bob"]["user"]["user_id"]
            ws = (await api("POST", "/api/workspaces", olive, {"name": "W"}))["ws_id"]
            invitation = await api(
                "POST",
                f"/api/workspaces/{ws}/invitations",
                olive,
                {"user_id": bob_id, "role": "editor"},
            )
            await api("POST", f"/api/invitations/workspace/{invitation['token']}/accept", bob)
            session = await api(
                "POST", "/api/sessions", olive, {"name": "s", "language": "python", "ws_id": ws}
            )
            session_id = session["session_id"]
            room = f"{session_id}/main.py"
            for name in ("first", "second"):
                result = await agent.call("connect", name=name, url=b.url, room=room, token=bob)
                assert result["synced"]
            await agent.call("insert", name="first", index=0, text="hello")

            async def stored(expected: str) -> bool:
                return await text(session_id, olive) == expected

            assert await eventually(lambda: stored("hello"))

            # Archived on a: bob's socket on b reads only.
            await api("PATCH", f"/api/sessions/{session_id}", olive, {"status": "archived"})
            await asyncio.sleep(0.3)
            await agent.call("insert", name="first", index=0, text="ATTACK ")
            await asyncio.sleep(0.5)
            assert [e["code"] for e in await agent.call("syncErrors", name="first")] == [
                "read_only"
            ]
            assert await stored("hello")
            # Active again: his other socket on b writes again.
            await api("PATCH", f"/api/sessions/{session_id}", olive, {"status": "active"})
            await asyncio.sleep(0.3)
            await agent.call("insert", name="second", index=-1, text=" world")
            assert await eventually(lambda: stored("hello world"))

            # Removed from the workspace on a: his socket on b is cut off.
            await api("DELETE", f"/api/workspaces/{ws}/members/{bob_id}", olive)
            assert await eventually(lambda: _not_connected(agent, "second"))
            await agent.call("insert", name="second", index=0, text="ATTACK ")
            await asyncio.sleep(0.3)
            assert await stored("hello world")


async def test_the_join_ack_of_a_workspace_session_lists_the_workspace_files(
    client: Client, agent: NodeAgent
) -> None:
    olive = await person(client, "olive")
    ws = await workspace(olive)
    session_id = await ws_session(olive, ws)
    o = as_member(olive, "olive")
    await open_document(agent, client, "olive", o, session_id)
    await write(agent, client, "olive", o, session_id, "x = 1\n")
    presence, _ = await socket_for(client, o)
    try:
        ack = await presence.call("session:join", {"session_id": session_id})
        assert [f["path"] for f in ack["files"]] == ["main.py"]
    finally:
        await presence.disconnect()
