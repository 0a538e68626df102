"""Workspaces, roles, invitations and the audit log, over HTTP as an IDE uses them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import asyncpg
import pytest

from collab.state import SETTINGS
from tests.accounts_support import bearer, outbox, register
from tests.support import Client
from tests.workspace_support import member, person, workspace


async def test_create_read_update_delete(client: Client) -> None:
    ann = await person(client, "ann")
    status, created = await ann.call(
        "post", "/api/workspaces", {"name": "Demo", "description": "d", "is_public": False}
    )
    assert status == 201
    assert created["role"] == "owner" and created["owner_id"] == ann.id
    ws = created["ws_id"]
    assert (await ann.call("get", f"/api/workspaces/{ws}"))[1]["name"] == "Demo"
    status, updated = await ann.call("patch", f"/api/workspaces/{ws}", {"name": "Renamed"})
    assert (status, updated["name"]) == (200, "Renamed")
    assert (await ann.call("patch", f"/api/workspaces/{ws}", {"owner_id": ann.id}))[0] == 422
    assert (await ann.call("delete", f"/api/workspaces/{ws}"))[0] == 204
    assert (await ann.call("get", f"/api/workspaces/{ws}"))[0] == 404


async def test_listing_shows_owned_member_and_public_workspaces(client: Client) -> None:
    ann = await person(client, "ann2")
    bob = await person(client, "bob")
    cat = await person(client, "cat")
    mine = await workspace(ann, name="mine")
    shared = await workspace(bob, name="shared")
    await member(bob, shared, ann, "viewer")
    public = await workspace(cat, name="public", is_public=True, is_template=True)
    await workspace(cat, name="private")
    status, listed = await ann.call("get", "/api/workspaces")
    assert status == 200
    assert {w["ws_id"]: w["role"] for w in listed} == {
        mine: "owner",
        shared: "viewer",
        public: None,
    }
    status, templates = await ann.call("get", "/api/workspaces?template=true")
    assert [w["ws_id"] for w in templates] == [public]


async def test_public_workspaces_are_readable_but_not_writable(client: Client) -> None:
    owner, stranger = await person(client, "own"), await person(client, "str")
    ws = await workspace(owner, is_public=True)
    assert (await stranger.call("get", f"/api/workspaces/{ws}"))[0] == 200
    assert (await stranger.call("patch", f"/api/workspaces/{ws}", {"name": "mine"}))[0] == 403
    assert (await stranger.call("get", f"/api/workspaces/{ws}/members"))[0] == 403


async def test_one_user_cannot_reach_another_users_workspace_by_id(client: Client) -> None:
    owner, thief = await person(client, "own"), await person(client, "thief")
    ws = await workspace(owner)
    for method, path, body in [
        ("get", f"/api/workspaces/{ws}", None),
        ("patch", f"/api/workspaces/{ws}", {"name": "pwned"}),
        ("delete", f"/api/workspaces/{ws}", None),
        ("get", f"/api/workspaces/{ws}/members", None),
        ("put", f"/api/workspaces/{ws}/members/{thief.id}", {"role": "owner"}),
        ("post", f"/api/workspaces/{ws}/invitations", {"user_id": thief.id, "role": "admin"}),
        ("get", f"/api/workspaces/{ws}/audit-logs", None),
    ]:
        status, body = await thief.call(method, path, body)
        assert (status, body["error"]["code"]) == (404, "not_found"), (method, path)
    assert (await owner.call("get", f"/api/workspaces/{ws}"))[1]["name"] == "Project X"


@pytest.mark.parametrize("role", ["viewer", "editor"])
async def test_viewers_and_editors_cannot_do_admin_things(client: Client, role: str) -> None:
    owner = await person(client, "owner1")
    user = await person(client, "user1")
    other = await person(client, "other1")
    ws = await workspace(owner)
    await member(owner, ws, user, role)
    await member(owner, ws, other, "viewer")
    attempts = [
        ("patch", f"/api/workspaces/{ws}", {"name": "x"}),
        ("delete", f"/api/workspaces/{ws}", None),
        ("put", f"/api/workspaces/{ws}/members/{other.id}", {"role": "editor"}),
        ("put", f"/api/workspaces/{ws}/members/{user.id}", {"role": "admin"}),
        ("delete", f"/api/workspaces/{ws}/members/{other.id}", None),
        ("post", f"/api/workspaces/{ws}/invitations", {"email": "x@example.org", "role": "viewer"}),
        ("get", f"/api/workspaces/{ws}/audit-logs", None),
    ]
    for method, path, body in attempts:
        status, answer = await user.call(method, path, body)
        assert (status, answer["error"]["code"]) == (403, "forbidden"), (method, path)
    assert (await user.call("get", f"/api/workspaces/{ws}/members"))[0] == 200


async def test_nobody_grants_above_their_own_role(client: Client) -> None:
    owner, admin, user = (
        await person(client, "own"),
        await person(client, "adm"),
        await person(client, "usr"),
    )
    ws = await workspace(owner)
    await member(owner, ws, admin, "admin")
    await member(owner, ws, user, "viewer")
    assert (await admin.call("put", f"/api/workspaces/{ws}/members/{user.id}", {"role": "editor"}))[
        0
    ] == 200
    assert (await admin.call("put", f"/api/workspaces/{ws}/members/{user.id}", {"role": "owner"}))[
        0
    ] == 403
    assert (
        await admin.call("put", f"/api/workspaces/{ws}/members/{owner.id}", {"role": "viewer"})
    )[0] == 403
    assert (await admin.call("delete", f"/api/workspaces/{ws}/members/{owner.id}"))[0] == 403
    assert (
        await admin.call(
            "post", f"/api/workspaces/{ws}/invitations", {"email": "z@x.org", "role": "admin"}
        )
    )[0] == 201
    assert (await owner.call("put", f"/api/workspaces/{ws}/members/{user.id}", {"role": "god"}))[
        0
    ] == 422


async def test_the_last_owner_cannot_leave_or_be_demoted(client: Client) -> None:
    owner, second = await person(client, "own1"), await person(client, "own2")
    ws = await workspace(owner)
    status, body = await owner.call(
        "put", f"/api/workspaces/{ws}/members/{owner.id}", {"role": "admin"}
    )
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert (await owner.call("delete", f"/api/workspaces/{ws}/members/{owner.id}"))[0] == 409
    await member(owner, ws, second, "admin")
    assert (
        await owner.call("put", f"/api/workspaces/{ws}/members/{second.id}", {"role": "owner"})
    )[0] == 200
    assert (await owner.call("delete", f"/api/workspaces/{ws}/members/{owner.id}"))[0] == 204
    status, body = await second.call("get", f"/api/workspaces/{ws}")
    assert body["owner_id"] == second.id and body["role"] == "owner"


async def test_members_listing_shape(client: Client) -> None:
    owner, viewer = await person(client, "own"), await person(client, "vie")
    ws = await workspace(owner)
    await member(owner, ws, viewer, "viewer")
    status, members = await viewer.call("get", f"/api/workspaces/{ws}/members")
    assert status == 200
    assert [(m["user"]["username"], m["role"], m["status"]) for m in members] == [
        ("own", "owner", "active"),
        ("vie", "viewer", "active"),
    ]
    assert members[1]["granted_by"] == owner.id
    assert "password_hash" not in members[0]["user"]


async def test_invitation_by_email_is_mailed_and_single_use(client: Client, tmp_path: Path) -> None:
    owner, guest = await person(client, "host"), await person(client, "guest")
    ws = await workspace(owner)
    status, invitation = await owner.call(
        "post",
        f"/api/workspaces/{ws}/invitations",
        {"email": "GUEST@example.org", "role": "editor"},
    )
    assert status == 201
    assert invitation["accept_url"] == (
        f"{client.app[SETTINGS].base_url}/invitations/{invitation['token']}"
    )
    mails = [m for m in await outbox(client, tmp_path) if "invited" in m["subject"]]
    assert mails[0]["to"] == "guest@example.org"
    assert mails[0]["subject"] == 'host invited you to the workspace "Project X"'
    # Who invites to what with which role, and the page link; never "POST this".
    assert 'host invited you to join the workspace "Project X" as editor.' in mails[0]["body"]
    assert f"\n{invitation['accept_url']}\n" in mails[0]["body"]
    assert "POST" not in mails[0]["body"] and "/api/" not in mails[0]["body"]

    accept = f"/api/invitations/workspace/{invitation['token']}/accept"
    status, membership = await guest.call("post", accept)
    assert (status, membership["role"]) == (200, "editor")
    status, body = await guest.call("post", accept)
    assert (status, body["error"]["code"]) == (410, "gone")


async def test_an_invitation_only_works_for_the_invited_person(client: Client) -> None:
    owner, invited, other = (
        await person(client, "hst"),
        await person(client, "inv"),
        await person(client, "oth"),
    )
    ws = await workspace(owner)
    _, invitation = await owner.call(
        "post", f"/api/workspaces/{ws}/invitations", {"user_id": invited.id, "role": "viewer"}
    )
    status, _ = await other.call("post", f"/api/invitations/workspace/{invitation['token']}/accept")
    assert status == 403
    assert (await other.call("get", f"/api/workspaces/{ws}"))[0] == 404


async def test_expired_and_revoked_invitations_are_gone(
    client: Client, db: asyncpg.Connection
) -> None:
    owner, guest = await person(client, "hst2"), await person(client, "gst2")
    ws = await workspace(owner)
    _, expired = await owner.call(
        "post", f"/api/workspaces/{ws}/invitations", {"user_id": guest.id, "role": "viewer"}
    )
    await db.execute("UPDATE workspace_invitations SET expires_at = now() - interval '1 minute'")
    assert (await guest.call("post", f"/api/invitations/workspace/{expired['token']}/accept"))[
        0
    ] == 410
    assert await db.fetchval("SELECT status FROM workspace_invitations") == "expired"

    _, revoked = await owner.call(
        "post", f"/api/workspaces/{ws}/invitations", {"user_id": guest.id, "role": "viewer"}
    )
    assert (
        await owner.call("delete", f"/api/workspaces/{ws}/invitations/{revoked['invitation_id']}")
    )[0] == 204
    assert (await guest.call("post", f"/api/invitations/workspace/{revoked['token']}/accept"))[
        0
    ] == 410
    status, listed = await owner.call("get", f"/api/workspaces/{ws}/invitations")
    assert status == 200
    assert sorted(i["status"] for i in listed) == ["expired", "revoked"]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM workspace_invitations WHERE token_hash = $1", revoked["token"]
        )
        == 0
    )  # only the hash is stored


async def test_seven_day_default_expiry_and_decline(client: Client, db: asyncpg.Connection) -> None:
    owner, guest = await person(client, "hst3"), await person(client, "gst3")
    ws = await workspace(owner)
    _, invitation = await owner.call(
        "post", f"/api/workspaces/{ws}/invitations", {"user_id": guest.id, "role": "viewer"}
    )
    days = await db.fetchval(
        "SELECT extract(day FROM expires_at - created_at) FROM workspace_invitations"
    )
    assert int(days) == 7
    status, body = await guest.call(
        "post", f"/api/invitations/workspace/{invitation['token']}/decline"
    )
    assert (status, body["status"]) == (200, "declined")
    assert (await guest.call("get", f"/api/workspaces/{ws}"))[0] == 404


async def test_audit_log_pages_newest_first_for_admins(client: Client) -> None:
    owner, guest = await person(client, "aud"), await person(client, "gst4")
    ws = await workspace(owner)
    await owner.call("patch", f"/api/workspaces/{ws}", {"description": "one"})
    await member(owner, ws, guest, "editor")
    await owner.call("put", f"/api/workspaces/{ws}/members/{guest.id}", {"role": "viewer"})
    status, page = await owner.call("get", f"/api/workspaces/{ws}/audit-logs?limit=2")
    assert status == 200
    assert [e["action"] for e in page["items"]] == ["member.role_changed", "invitation.accepted"]
    assert page["items"][0]["old_value"] == {"role": "editor"}
    assert page["items"][0]["ip_address"] == "127.0.0.1"
    status, rest = await owner.call(
        "get", f"/api/workspaces/{ws}/audit-logs?before={page['next_before']}"
    )
    assert [e["action"] for e in rest["items"]] == [
        "invitation.sent",
        "workspace.updated",
        "workspace.created",
    ]
    assert (await owner.call("get", f"/api/workspaces/{ws}/audit-logs?limit=abc"))[0] == 422


async def test_audit_entries_never_contain_secrets(client: Client, db: asyncpg.Connection) -> None:
    owner = await person(client, "sec")
    ws = await workspace(owner)
    await owner.call(
        "post", f"/api/workspaces/{ws}/invitations", {"email": "a@b.org", "role": "viewer"}
    )
    dump = json.dumps(
        [dict(r) for r in await db.fetch("SELECT old_value, new_value FROM audit_logs")],
        default=str,
    )
    assert "Correct-Horse" not in dump and "token" not in dump.lower().replace("[redacted]", "")


async def test_opening_and_leaving_a_workspace_writes_user_sessions(
    client: Client, db: asyncpg.Connection
) -> None:
    owner, guest = await person(client, "pres"), await person(client, "gst5")
    ws = await workspace(owner)
    await member(owner, ws, guest, "viewer")
    await guest.call("get", f"/api/workspaces/{ws}")
    await guest.call("get", f"/api/workspaces/{ws}")
    rows = await db.fetch(
        "SELECT status, ended_at FROM user_sessions WHERE user_id = $1::uuid", guest.id
    )
    assert [(r["status"], r["ended_at"]) for r in rows] == [("active", None)]
    assert (await guest.call("delete", f"/api/workspaces/{ws}/members/{guest.id}"))[0] == 204
    rows = await db.fetch(
        "SELECT status, ended_at FROM user_sessions WHERE user_id = $1::uuid", guest.id
    )
    assert rows[0]["status"] == "ended" and rows[0]["ended_at"] is not None


async def test_requests_without_a_token_are_401(client: Client) -> None:
    response = await client.get("/api/workspaces")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "value", ["' OR 1=1 --", "x'); DROP TABLE workspaces; --", "x" * 1_000_000]
)
async def test_hostile_strings_in_workspace_fields_never_500(client: Client, value: str) -> None:
    owner = await person(client, "hostile")
    ws = await workspace(owner)
    for method, path, body in [
        ("post", "/api/workspaces", {"name": value, "description": value}),
        ("patch", f"/api/workspaces/{ws}", {"name": value, "description": value}),
        ("put", f"/api/workspaces/{ws}/members/{owner.id}", {"role": value}),
        ("post", f"/api/workspaces/{ws}/invitations", {"email": value, "role": value}),
        ("post", f"/api/invitations/workspace/{value[:5000]}/accept", {}),
        ("get", f"/api/invitations/workspace/{value[:5000]}", None),
        ("post", f"/api/invitations/workspace/{value[:5000]}/decline", None),
        ("get", f"/api/workspaces/{value[:5000]}/sessions", None),
        ("get", f"/api/workspaces/{value[:5000]}", None),
    ]:
        data = io.BytesIO(json.dumps(body).encode()) if body is not None else None
        response = await getattr(client, method)(
            path, data=data, headers=bearer(owner.pair) | {"Content-Type": "application/json"}
        )
        assert response.status in (201, 200, 404, 413, 414, 422), (path, response.status)
    status, body = await owner.call("get", f"/api/workspaces/{ws}")
    # Stored literally when it fits (no injection), untouched when it was refused.
    assert status == 200 and body["name"] == (value if len(value) <= 255 else "Project X")
    assert (await owner.call("get", "/api/workspaces"))[0] == 200


async def test_an_invitation_names_a_real_user_id_or_gets_422(client: Client) -> None:
    """Found by the REST fuzz: 36 dashes passed the old pattern and reached uuid.UUID (500)."""
    owner = await register(client, "uuidowner")
    created = await client.post("/api/workspaces", json={"name": "Ids"}, headers=bearer(owner))
    ws_id = (await created.json())["ws_id"]
    for bad in ("-" * 36, "g" * 36, "not-a-uuid"):
        response = await client.post(
            f"/api/workspaces/{ws_id}/invitations",
            json={"user_id": bad, "role": "viewer"},
            headers=bearer(owner),
        )
        assert response.status == 422, (bad, await response.text())
        assert "user_id" in (await response.json())["error"]["details"]
    invitee = await register(client, "uuidinvitee")
    response = await client.post(
        f"/api/workspaces/{ws_id}/invitations",
        json={"user_id": invitee["user"]["user_id"], "role": "viewer"},
        headers=bearer(owner),
    )
    assert response.status == 201, await response.text()
