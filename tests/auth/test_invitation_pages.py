"""Workspace invitations as a browser meets them: the look-up its page makes before anyone
answers (no login), why a dead one is dead (410), and who may decline it."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from tests.support import Client
from tests.workspace_support import Person, member, person, workspace


async def anonymous(client: Client, path: str) -> tuple[int, Any]:
    response = await client.get(path)
    return response.status, await response.json()


async def invite(owner: Person, ws: str, **fields: Any) -> dict[str, Any]:
    status, invitation = await owner.call(
        "post", f"/api/workspaces/{ws}/invitations", {"role": "editor"} | fields
    )
    assert status == 201, invitation
    return dict(invitation)


async def test_the_page_shows_who_invites_to_what_without_the_address(client: Client) -> None:
    owner = await person(client, "olive")
    body = {"first_name": "Olive", "last_name": "Oak"}
    assert (await owner.call("patch", "/api/auth/me", body))[0] == 200
    ws = await workspace(owner, name="Apollo")
    invitation = await invite(owner, ws, email="guest@example.org", role="viewer")
    status, shown = await anonymous(client, f"/api/invitations/workspace/{invitation['token']}")
    assert status == 200, shown
    assert shown == {
        "workspace": {"ws_id": ws, "name": "Apollo"},
        "role": "viewer",
        "invited_by": {"user_id": owner.id, "username": "olive", "display_name": "Olive Oak"},
        "expires_at": invitation["expires_at"],
        "email_bound": True,
    }
    status, body = await anonymous(client, "/api/invitations/workspace/nope")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_a_dead_invitation_says_why(client: Client, db: asyncpg.Connection) -> None:
    owner, adam = await person(client, "own"), await person(client, "adam")
    guest = await person(client, "guest")
    ws = await workspace(owner)
    await member(owner, ws, adam, "admin")
    accepted, declined, revoked, expired = [
        await invite(owner, ws, user_id=guest.id) for _ in range(4)
    ]
    by_adam = await invite(adam, ws, email="later@example.org", role="admin")
    assert (await guest.call("post", f"/api/invitations/workspace/{accepted['token']}/accept"))[
        0
    ] == 200
    # Another invitation to someone who is a member by now still answers; declining it spends it.
    assert (await guest.call("post", f"/api/invitations/workspace/{declined['token']}/decline"))[
        0
    ] == 200
    path = f"/api/workspaces/{ws}/invitations/{revoked['invitation_id']}"
    assert (await owner.call("delete", path))[0] == 204
    await db.execute(
        "UPDATE workspace_invitations SET expires_at = now() - interval '1 second' "
        "WHERE invitation_id = $1",
        uuid.UUID(expired["invitation_id"]),
    )
    assert (await owner.call("put", f"/api/workspaces/{ws}/members/{adam.id}", {"role": "editor"}))[
        0
    ] == 200
    for invitation, message in [
        (accepted, "This invitation was already used."),
        (declined, "This invitation was declined."),
        (revoked, "This invitation was revoked."),
        (expired, "This invitation has expired."),
        (by_adam, "This invitation was revoked."),  # its sender was demoted
    ]:
        token = invitation["token"]
        status, body = await anonymous(client, f"/api/invitations/workspace/{token}")
        assert (status, body["error"]) == (410, {"code": "gone", "message": message}), message
        status, body = await guest.call("post", f"/api/invitations/workspace/{token}/accept")
        assert status in (403, 410), (message, body)


async def test_only_the_invited_person_declines(client: Client) -> None:
    owner, guest, other = (
        await person(client, "hst"),
        await person(client, "gst"),
        await person(client, "oth"),
    )
    ws = await workspace(owner)
    invitation = await invite(owner, ws, email=guest.email)
    decline = f"/api/invitations/workspace/{invitation['token']}/decline"
    assert (await client.post(decline)).status == 401
    status, body = await other.call("post", decline)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert (await anonymous(client, f"/api/invitations/workspace/{invitation['token']}"))[0] == 200
    status, body = await guest.call("post", decline)
    assert (status, body["status"], body["role"]) == (200, "declined", None)
    status, body = await guest.call(
        "post", f"/api/invitations/workspace/{invitation['token']}/accept"
    )
    assert (status, body["error"]["message"]) == (410, "This invitation was declined.")
    assert (await guest.call("get", f"/api/workspaces/{ws}"))[0] == 404
    _, listed = await owner.call("get", f"/api/workspaces/{ws}/invitations")
    assert [i["status"] for i in listed] == ["declined"]
