"""Account lifecycle over HTTP: the export (complete, never a hash or secret), deletion with
re-authentication (and its attacks), what becomes of owned things, restoring by logging in
within the grace period, and the purge that keeps the audit trail with the actor NULL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import socketio

from auth.account_deletion import AccountLifecycle, PurgeSchedule
from collab.lifecycle_wiring import LIFECYCLE
from tests.accounts_support import STRONG_PASSWORD, bearer, register
from tests.mfa_support import enable_totp
from tests.support import Client, run_collab
from tests.workspace_support import Person, member, person, workspace


async def delete_me(client: Client, pair: dict[str, Any], **body: Any) -> Any:
    return await client.delete("/api/auth/me", headers=bearer(pair), json=body)


async def login(client: Client, name: str, password: str = STRONG_PASSWORD) -> Any:
    return await client.post("/api/auth/login", json={"login": name, "password": password})


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


async def test_export_holds_everything_and_no_secret(
    client: Client, db: asyncpg.Connection
) -> None:
    alice = await person(client, "alice")
    bob = await person(client, "bob")
    ws = await workspace(alice, name="Shared")
    await member(alice, ws, bob, "editor")
    status, session = await alice.call("post", "/api/sessions", {"name": "S", "language": "python"})
    assert status == 201
    status, _ = await alice.call(
        "post",
        f"/api/sessions/{session['session_id']}/invitations",
        {"role": "viewer", "email": "carol@example.org"},
    )
    assert status == 201
    key = await client.post(
        "/api/auth/api-keys", headers=bearer(alice.pair), json={"name": "ci", "scopes": ["read"]}
    )
    assert key.status == 201, await key.text()
    secret_key = (await key.json())["key"]
    await login(client, "alice", "Wrong-password-1")  # a failure, in the audit

    response = await client.get("/api/auth/me/export", headers=bearer(alice.pair))
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = await response.text()
    archive = json.loads(text)
    assert archive["profile"]["email"] == "alice@example.org"
    assert {m["workspace_name"] for m in archive["workspace_memberships"]} == {"Shared"}
    assert [i["invited_user_id"] for i in archive["workspace_invitations_made"]] == [bob.id]
    assert [s["session_id"] for s in archive["sessions"]] == [session["session_id"]]
    assert [k["name"] for k in archive["api_keys"]] == ["ci"]
    [made] = archive["session_invitations"]
    assert (made["email"], made["role"], made["session_id"]) == (
        "carol@example.org",
        "viewer",
        session["session_id"],
    )
    assert archive["logins"] and archive["devices"]
    actions = {e["action"] for e in archive["audit_logs"]}
    assert {"user.registered", "user.login_failed", "workspace.created"} <= actions

    # Never a secret: no hash/sealed/password column, and no stored secret value.
    leaked = {k for k in _keys(archive) if any(m in k for m in ("hash", "sealed", "password"))}
    assert leaked == set()
    stored = await db.fetch(
        """SELECT password_hash AS v FROM users
           UNION ALL SELECT token_hash FROM refresh_tokens
           UNION ALL SELECT token_hash FROM workspace_invitations
           UNION ALL SELECT token_hash FROM session_invitations
           UNION ALL SELECT key_hash FROM api_keys"""
    )
    for row in stored:
        assert row["v"] not in text
    assert secret_key not in text and alice.pair["refresh_token"] not in text

    # Audited.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'account.exported' AND user_id = $1",
            alice.id,
        )
        == 1
    )
    assert (await client.get("/api/auth/me/export")).status == 401


async def test_deletion_without_reauthentication_is_refused(
    client: Client, db: asyncpg.Connection
) -> None:
    pair = await register(client, "mallory_victim")
    # A stolen access token alone cannot delete the account.
    missing = await delete_me(client, pair)
    assert missing.status == 422
    wrong = await delete_me(client, pair, password="Not-the-password-9")
    assert wrong.status == 401
    assert (await wrong.json())["error"]["code"] == "invalid_credentials"
    assert await db.fetchval("SELECT deleted_at FROM users") is None
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'account.deletion_refused'"
        )
        == 1
    )
    # With TOTP on, the password alone is not enough either.
    authenticator, _ = await enable_totp(client, pair)
    no_code = await delete_me(client, pair, password=STRONG_PASSWORD)
    assert no_code.status == 422 and "code" in (await no_code.json())["error"]["details"]
    bad_code = await delete_me(
        client, pair, password=STRONG_PASSWORD, code=authenticator.wrong_code()
    )
    assert bad_code.status == 422
    assert await db.fetchval("SELECT deleted_at FROM users") is None
    done = await delete_me(client, pair, password=STRONG_PASSWORD, code=authenticator.next_code())
    assert done.status == 202, await done.text()
    assert await db.fetchval("SELECT deleted_at FROM users") is not None


async def test_sole_owned_workspaces_refuse_deletion_by_name(client: Client) -> None:
    alice = await person(client, "alice")
    bob = await person(client, "bob")
    mine = await workspace(alice, name="Only mine")
    shared = await workspace(alice, name="Co-owned")
    await member(alice, shared, bob, "admin")
    await alice.call("put", f"/api/workspaces/{shared}/members/{bob.id}", {"role": "owner"})
    refused = await delete_me(client, alice.pair, password=STRONG_PASSWORD)
    assert refused.status == 409
    error = (await refused.json())["error"]
    assert error["code"] == "conflict"
    assert error["details"] == {mine: "Only mine"}
    assert "Only mine" in error["message"]
    assert (await alice.call("delete", f"/api/workspaces/{mine}"))[0] == 204
    accepted = await delete_me(client, alice.pair, password=STRONG_PASSWORD)
    assert accepted.status == 202
    body = await accepted.json()
    assert body["status"] == "deletion_scheduled" and body["purge_after"]


async def test_deletion_ends_logins_sockets_and_sessions(client: Client) -> None:
    alice = await person(client, "alice")
    status, session = await alice.call("post", "/api/sessions", {"name": "S", "language": "python"})
    assert status == 201
    sio = socketio.AsyncClient(reconnection=False)
    disconnected = []
    sio.on("disconnect", lambda *a: disconnected.append(True))
    await sio.connect(
        str(client.make_url("/")),
        auth={"token": alice.pair["access_token"]},
        transports=["websocket"],
        wait_timeout=5,
    )
    try:
        response = await delete_me(client, alice.pair, password=STRONG_PASSWORD)
        assert response.status == 202
        for _ in range(100):
            if disconnected:
                break
            await asyncio.sleep(0.05)
        assert disconnected, "the deleted account's socket stayed open"
    finally:
        await sio.disconnect()
    # Every login ended: the access token and the refresh token are refused.
    assert (await client.get("/api/auth/me", headers=bearer(alice.pair))).status == 401
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": alice.pair["refresh_token"]}
    )
    assert refreshed.status == 401
    # Their session is archived (the service's path: participants read only, deploys stop).
    fresh = await login(client, "alice")
    assert fresh.status == 200  # (and this login restores the account)
    again = Person(client, await fresh.json())
    status, seen = await again.call("get", f"/api/sessions/{session['session_id']}")
    assert status == 200 and seen["status"] == "archived"


async def test_login_within_the_grace_period_restores(
    client: Client, db: asyncpg.Connection
) -> None:
    pair = await register(client, "alice")
    assert (await delete_me(client, pair, password=STRONG_PASSWORD)).status == 202
    assert await db.fetchval("SELECT deleted_at FROM users") is not None
    back = await login(client, "alice")
    assert back.status == 200
    row = await db.fetchrow("SELECT deleted_at, purge_after FROM users")
    assert row["deleted_at"] is None and row["purge_after"] is None
    assert (
        await db.fetchval("SELECT count(*) FROM audit_logs WHERE action = 'account.restored'") == 1
    )
    # Nothing left for the purge.
    assert await client.app[LIFECYCLE].purge() == []
    assert await db.fetchval("SELECT count(*) FROM users") == 1


async def test_after_the_grace_period_login_is_refused_and_purge_keeps_the_audit(
    client: Client, db: asyncpg.Connection
) -> None:
    alice = await person(client, "alice")
    bob = await person(client, "bob")
    shared = await workspace(alice, name="Co-owned")
    await member(alice, shared, bob, "admin")
    await alice.call("put", f"/api/workspaces/{shared}/members/{bob.id}", {"role": "owner"})
    assert (await delete_me(client, alice.pair, password=STRONG_PASSWORD)).status == 202
    actions_before = await db.fetchval(
        "SELECT count(*) FROM audit_logs WHERE user_id = $1", alice.id
    )
    assert actions_before > 0
    await db.execute(
        """UPDATE users SET deleted_at = now() - interval '8 days',
                            purge_after = now() - interval '1 day' WHERE user_id = $1""",
        alice.id,
    )
    # Past the grace period: logging in no longer restores, and answers like a wrong password.
    late = await login(client, "alice")
    assert late.status == 401
    assert (await late.json())["error"]["code"] == "invalid_credentials"

    lifecycle: AccountLifecycle = client.app[LIFECYCLE]
    assert [str(u) for u in await lifecycle.purge()] == [alice.id]
    assert await db.fetchval("SELECT count(*) FROM users WHERE user_id = $1", alice.id) == 0
    # The audit trail stays, with the actor NULL.
    assert await db.fetchval("SELECT count(*) FROM audit_logs WHERE user_id = $1", alice.id) == 0
    kept = await db.fetchval(
        """SELECT count(*) FROM audit_logs WHERE user_id IS NULL
           AND action IN ('user.registered', 'account.deletion_requested', 'workspace.created')"""
    )
    assert kept >= 3
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'account.purged' AND resource_id = $1",
            alice.id,
        )
        == 1
    )
    # The co-owned workspace stays, now recorded as Bob's.
    assert (
        await db.fetchval("SELECT owner_id::text FROM workspaces WHERE ws_id = $1", shared)
        == bob.id
    )


async def test_purge_deleted_command(
    client: Client, db: asyncpg.Connection, external_env: dict[str, str]
) -> None:
    pair = await register(client, "alice")
    assert (await delete_me(client, pair, password=STRONG_PASSWORD)).status == 202
    done = run_collab("users", "purge-deleted", env=external_env)
    assert done.returncode == 0, done.stderr
    assert "purged 0" in done.stdout  # still within the grace period
    await db.execute(
        """UPDATE users SET deleted_at = now() - interval '8 days',
                            purge_after = now() - interval '1 day'"""
    )
    done = run_collab("users", "purge-deleted", env=external_env)
    assert done.returncode == 0, done.stderr
    assert "purged 1" in done.stdout
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_the_server_purges_on_its_own(client: Client, db: asyncpg.Connection) -> None:
    pair = await register(client, "alice")
    assert (await delete_me(client, pair, password=STRONG_PASSWORD)).status == 202
    await db.execute(
        """UPDATE users SET deleted_at = now() - interval '8 days',
                            purge_after = now() - interval '1 day'"""
    )
    schedule = PurgeSchedule(client.app[LIFECYCLE], interval=0.05, first_delay=0)
    schedule.start()
    try:
        for _ in range(100):
            if await db.fetchval("SELECT count(*) FROM users") == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        await schedule.stop()
    assert await db.fetchval("SELECT count(*) FROM users") == 0
