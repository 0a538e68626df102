"""`GET /api/workspaces/{ws_id}/sessions`: a workspace's sessions, for its members."""

from __future__ import annotations

from tests.support import Client
from tests.workspace_support import Person, member, person, workspace


async def open_session(owner: Person, ws: str | None, name: str) -> str:
    body = {"name": name, "language": "python"} | ({"ws_id": ws} if ws else {})
    status, session = await owner.call("post", "/api/sessions", body)
    assert status == 201, session
    return str(session["session_id"])


async def test_members_see_every_session_of_the_workspace_with_their_role(
    client: Client,
) -> None:
    olive, eddie, vera = (
        await person(client, "olive"),
        await person(client, "eddie"),
        await person(client, "vera"),
    )
    ws, elsewhere = await workspace(olive), await workspace(olive, name="Other")
    await member(olive, ws, eddie, "editor")
    await member(olive, ws, vera, "viewer")
    first = await open_session(olive, ws, "first")
    second = await open_session(eddie, ws, "second")
    await open_session(olive, elsewhere, "elsewhere")
    await open_session(olive, None, "standalone")
    status, _ = await olive.call("patch", f"/api/sessions/{first}", {"status": "archived"})
    assert status == 200

    path = f"/api/workspaces/{ws}/sessions"
    status, seen = await olive.call("get", path)
    assert status == 200
    by_id = {s["session_id"]: s for s in seen}
    assert set(by_id) == {first, second}  # nothing of another workspace, nor standalone
    assert (by_id[first]["status"], by_id[first]["role"]) == ("archived", "owner")
    assert (by_id[second]["status"], by_id[second]["role"]) == ("active", "editor")
    # Each item is shaped as GET /api/sessions shapes it.
    _, mine = await olive.call("get", "/api/sessions")
    listed = next(s for s in mine if s["session_id"] == first)
    assert by_id[first] == listed

    # Vera never opened either: she sees both, and may only read them.
    status, seen = await vera.call("get", path)
    assert status == 200
    assert sorted((s["name"], s["role"], s["ws_id"]) for s in seen) == [
        ("first", "viewer", ws),
        ("second", "viewer", ws),
    ]
    status, seen = await eddie.call("get", path)
    assert {s["session_id"]: s["role"] for s in seen} == {first: "editor", second: "owner"}


async def test_outsiders_are_answered_as_other_workspace_routes_answer_them(
    client: Client,
) -> None:
    olive, mallory = await person(client, "olive"), await person(client, "mallory")
    private, public = await workspace(olive), await workspace(olive, is_public=True)
    await open_session(olive, private, "secret")
    await open_session(olive, public, "open")
    for ws, expected in [(private, (404, "not_found")), (public, (403, "forbidden"))]:
        status, body = await mallory.call("get", f"/api/workspaces/{ws}/sessions")
        assert (status, body["error"]["code"]) == expected, ws
        members = await mallory.call("get", f"/api/workspaces/{ws}/members")
        assert members[0] == expected[0]  # the same answer as the members list
    response = await client.get(f"/api/workspaces/{private}/sessions")
    assert response.status == 401
    status, body = await olive.call("get", "/api/workspaces/not-a-uuid/sessions")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_a_removed_member_no_longer_sees_them(client: Client) -> None:
    olive, eddie = await person(client, "olive"), await person(client, "eddie")
    ws = await workspace(olive)
    await member(olive, ws, eddie, "editor")
    await open_session(eddie, ws, "his")
    assert len((await eddie.call("get", f"/api/workspaces/{ws}/sessions"))[1]) == 1
    assert (await olive.call("delete", f"/api/workspaces/{ws}/members/{eddie.id}"))[0] == 204
    status, body = await eddie.call("get", f"/api/workspaces/{ws}/sessions")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, seen = await olive.call("get", f"/api/workspaces/{ws}/sessions")
    assert [(s["name"], s["role"]) for s in seen] == [("his", "editor")]
