"""Audit a person can read: their own security events (and nobody else's), a session's log
for its owner only, entries carrying metadata, newest first and paged."""

from __future__ import annotations

import uuid

import asyncpg

from collab.state import DB_POOL
from kernel.audit import AuditEntry, AuditLog
from kernel.context import ClientInfo
from tests.accounts_support import STRONG_PASSWORD, bearer, register
from tests.support import Client
from tests.workspace_support import person


async def test_my_security_events_newest_first_and_paged(
    client: Client, db: asyncpg.Connection
) -> None:
    alice = await register(client, "alice")
    bob = await register(client, "bob")
    await client.post("/api/auth/login", json={"login": "alice", "password": "Wrong-pass-123"})
    await client.post("/api/auth/login", json={"login": "alice", "password": STRONG_PASSWORD})
    await client.post("/api/auth/login", json={"login": "bob", "password": STRONG_PASSWORD})
    await AuditLog().record(
        client.app[DB_POOL],  # the app's pool: its connections carry the JSON codec
        AuditEntry(
            "auth.password_changed",
            uuid.UUID(alice["user"]["user_id"]),
            resource_type="user",
            resource_id=alice["user"]["user_id"],
        ),
        ClientInfo("203.0.113.9", "test"),
        metadata={"other_logins_ended": 2},
    )
    response = await client.get("/api/auth/me/audit-logs", headers=bearer(alice))
    assert response.status == 200
    body = await response.json()
    actions = [e["action"] for e in body["items"]]
    assert actions == [
        "auth.password_changed",
        "user.login",
        "user.login_failed",
        "user.registered",
    ]
    assert body["items"][0]["metadata"] == {"other_logins_ended": 2}
    assert body["items"][0]["ip_address"] == "203.0.113.9"
    assert all(e["user_id"] == alice["user"]["user_id"] for e in body["items"])
    # Bob's events are not Alice's.
    bob_actions = [
        e["action"]
        for e in (await (await client.get("/api/auth/me/audit-logs", headers=bearer(bob))).json())[
            "items"
        ]
    ]
    assert bob_actions == ["user.login", "user.registered"]

    first = await (
        await client.get("/api/auth/me/audit-logs?limit=2", headers=bearer(alice))
    ).json()
    assert [e["action"] for e in first["items"]] == actions[:2]
    rest = await (
        await client.get(
            f"/api/auth/me/audit-logs?limit=2&before={first['next_before']}", headers=bearer(alice)
        )
    ).json()
    assert [e["action"] for e in rest["items"]] == actions[2:]
    assert (
        await client.get("/api/auth/me/audit-logs?limit=0", headers=bearer(alice))
    ).status == 422
    assert (await client.get("/api/auth/me/audit-logs")).status == 401


async def test_my_events_show_what_others_did_to_my_account_not_where_they_were(
    client: Client,
) -> None:
    alice = await register(client, "alice")
    admin = await register(client, "admin")
    await AuditLog().record(
        client.app[DB_POOL],
        AuditEntry(
            "admin.user_deactivated",
            uuid.UUID(admin["user"]["user_id"]),
            resource_type="user",
            resource_id=alice["user"]["user_id"],
        ),
        ClientInfo("198.51.100.7", "AdminBrowser/1"),
    )
    items = (await (await client.get("/api/auth/me/audit-logs", headers=bearer(alice))).json())[
        "items"
    ]
    [by_admin] = [e for e in items if e["action"] == "admin.user_deactivated"]
    assert by_admin["user_id"] == admin["user"]["user_id"]
    assert (by_admin["ip_address"], by_admin["user_agent"]) == (None, None)
    # Once that admin's account is purged, the entry's actor is NULL: still not hers to see.
    await AuditLog().record(
        client.app[DB_POOL],
        AuditEntry(
            "admin.user_reactivated",
            None,
            resource_type="user",
            resource_id=alice["user"]["user_id"],
        ),
        ClientInfo("198.51.100.8", "AdminBrowser/2"),
    )
    items = (await (await client.get("/api/auth/me/audit-logs", headers=bearer(alice))).json())[
        "items"
    ]
    [by_purged] = [e for e in items if e["action"] == "admin.user_reactivated"]
    assert (by_purged["ip_address"], by_purged["user_agent"]) == (None, None)
    # Her own entries keep hers.
    [registered] = [e for e in items if e["action"] == "user.registered"]
    assert registered["ip_address"] == "127.0.0.1"


async def test_a_session_log_is_for_its_owner(client: Client) -> None:
    owner = await person(client, "owner")
    editor = await person(client, "editor")
    status, session = await owner.call("post", "/api/sessions", {"name": "S", "language": "python"})
    assert status == 201
    sid = session["session_id"]
    status, invitation = await owner.call(
        "post", f"/api/sessions/{sid}/invitations", {"role": "editor"}
    )
    assert status == 201
    assert (await editor.call("post", f"/api/join/{invitation['token']}"))[0] == 200
    await owner.call("patch", f"/api/sessions/{sid}", {"name": "Renamed"})

    status, log = await owner.call("get", f"/api/sessions/{sid}/audit-logs")
    assert status == 200
    actions = [e["action"] for e in log["items"]]
    assert actions[0] == "session.updated" and actions[-1] == "session.created"
    assert all("metadata" in e for e in log["items"])
    # A participant who is not the owner, and a stranger, are refused.
    assert (await editor.call("get", f"/api/sessions/{sid}/audit-logs"))[0] == 403
    stranger = await person(client, "stranger")
    assert (await stranger.call("get", f"/api/sessions/{sid}/audit-logs"))[0] == 404
    assert (await owner.call("get", "/api/sessions/not-a-uuid/audit-logs"))[0] == 404
