"""Platform admins: granted only from the command line; /api/admin refuses everyone else
with 403; search, deactivate, reactivate, force logout (sockets too), any audit log; every
admin action audited with the admin as actor and the user as target."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import socketio

from tests.accounts_support import STRONG_PASSWORD, bearer, register
from tests.support import Client, run_collab


async def make_admin(external_env: dict[str, str], email: str) -> None:
    done = run_collab("users", "grant-admin", email, env=external_env)
    assert done.returncode == 0, done.stderr


async def test_a_non_admin_is_refused_every_admin_route(
    client: Client, db: asyncpg.Connection
) -> None:
    mallory = await register(client, "mallory")
    victim = await register(client, "victim")
    target = victim["user"]["user_id"]
    attempts = [
        ("get", "/api/admin/users"),
        ("get", f"/api/admin/users/{target}"),
        ("post", f"/api/admin/users/{target}/deactivate"),
        ("post", f"/api/admin/users/{target}/reactivate"),
        ("post", f"/api/admin/users/{target}/logout"),
        ("get", "/api/admin/audit-logs"),
    ]
    for method, path in attempts:
        response = await getattr(client, method)(path, headers=bearer(mallory))
        assert response.status == 403, (path, await response.text())
        assert (await response.json())["error"]["code"] == "forbidden"
        anonymous = await getattr(client, method)(path)
        assert anonymous.status == 401
    # Nothing happened to the victim.
    assert (await client.get("/api/auth/me", headers=bearer(victim))).status == 200
    # Admin rights cannot be given through the API (the profile ignores or refuses it).
    patched = await client.patch("/api/auth/me", headers=bearer(mallory), json={"is_admin": True})
    assert patched.status == 422
    assert await db.fetchval("SELECT bool_or(is_admin) FROM users") is False


async def test_grant_and_revoke_from_the_command_line(
    client: Client, db: asyncpg.Connection, external_env: dict[str, str]
) -> None:
    pair = await register(client, "root")
    await make_admin(external_env, "ROOT@example.org")
    assert (await client.get("/api/admin/users", headers=bearer(pair))).status == 200
    done = run_collab("users", "revoke-admin", "root@example.org", env=external_env)
    assert done.returncode == 0, done.stderr
    assert (await client.get("/api/admin/users", headers=bearer(pair))).status == 403
    unknown = run_collab("users", "grant-admin", "nobody@example.org", env=external_env)
    assert unknown.returncode == 1
    actions = [
        r["action"]
        for r in await db.fetch(
            "SELECT action FROM audit_logs WHERE action LIKE 'admin.%' ORDER BY log_id"
        )
    ]
    assert actions == ["admin.granted", "admin.revoked"]


async def test_search_deactivate_reactivate_and_force_logout(
    client: Client, db: asyncpg.Connection, external_env: dict[str, str]
) -> None:
    admin = await register(client, "root")
    await make_admin(external_env, "root@example.org")
    for name in ("alice", "alicia", "bob"):
        await register(client, name)
    bob = await client.post("/api/auth/login", json={"login": "bob", "password": STRONG_PASSWORD})
    bob_pair = await bob.json()
    bob_id = bob_pair["user"]["user_id"]

    found = await (await client.get("/api/admin/users?q=ali", headers=bearer(admin))).json()
    assert sorted(u["username"] for u in found["items"]) == ["alice", "alicia"]
    assert all("password_hash" not in u for u in found["items"])
    first = await (await client.get("/api/admin/users?limit=2", headers=bearer(admin))).json()
    assert len(first["items"]) == 2 and first["next_before"]
    rest = await (
        await client.get(
            f"/api/admin/users?limit=2&before={first['next_before']}", headers=bearer(admin)
        )
    ).json()
    seen = [u["username"] for u in first["items"] + rest["items"]]
    assert sorted(seen) == ["alice", "alicia", "bob", "root"]

    # Force logout: every login ends and the live socket is dropped.
    sio = socketio.AsyncClient(reconnection=False)
    gone: list[Any] = []
    sio.on("disconnect", lambda *a: gone.append(True))
    await sio.connect(
        str(client.make_url("/")),
        auth={"token": bob_pair["access_token"]},
        transports=["websocket"],
        wait_timeout=5,
    )
    try:
        out = await client.post(
            f"/api/admin/users/{bob_id}/logout",
            headers=bearer(admin),
            json={"reason": "stolen laptop"},
        )
        assert out.status == 204
        for _ in range(100):
            if gone:
                break
            await asyncio.sleep(0.05)
        assert gone
    finally:
        await sio.disconnect()
    assert (await client.get("/api/auth/me", headers=bearer(bob_pair))).status == 401

    off = await client.post(f"/api/admin/users/{bob_id}/deactivate", headers=bearer(admin))
    assert off.status == 200 and (await off.json())["is_active"] is False
    refused = await client.post(
        "/api/auth/login", json={"login": "bob", "password": STRONG_PASSWORD}
    )
    assert refused.status == 401
    on = await client.post(f"/api/admin/users/{bob_id}/reactivate", headers=bearer(admin))
    assert on.status == 200 and (await on.json())["is_active"] is True
    again = await client.post("/api/auth/login", json={"login": "bob", "password": STRONG_PASSWORD})
    assert again.status == 200

    # An admin cannot lock themselves out.
    me = admin["user"]["user_id"]
    assert (
        await client.post(f"/api/admin/users/{me}/deactivate", headers=bearer(admin))
    ).status == 409
    assert (
        await client.post("/api/admin/users/not-a-uuid/logout", headers=bearer(admin))
    ).status == 404

    # Audited as admin actions: actor the admin, target the user.
    rows = await db.fetch(
        """SELECT action, user_id::text AS actor, resource_id, metadata FROM audit_logs
           WHERE action LIKE 'admin.user%' ORDER BY log_id"""
    )
    assert [r["action"] for r in rows] == [
        "admin.user_logged_out",
        "admin.user_deactivated",
        "admin.user_reactivated",
    ]
    assert {r["actor"] for r in rows} == {me} and {r["resource_id"] for r in rows} == {bob_id}
    assert json.loads(rows[0]["metadata"]) == {"admin": True, "reason": "stolen laptop"}

    # Any audit log, filtered.
    logs = await (
        await client.get(
            f"/api/admin/audit-logs?target=user:{bob_id}&action=admin.*", headers=bearer(admin)
        )
    ).json()
    assert [e["action"] for e in logs["items"]] == [
        "admin.user_reactivated",
        "admin.user_deactivated",
        "admin.user_logged_out",
    ]
    by_actor = await (
        await client.get(
            f"/api/admin/audit-logs?actor={bob_id}&action=user.login", headers=bearer(admin)
        )
    ).json()
    assert [e["action"] for e in by_actor["items"]] == ["user.login", "user.login"]
    bad = await client.get("/api/admin/audit-logs?actor=nope", headers=bearer(admin))
    assert bad.status == 422
