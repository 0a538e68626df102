"""API keys: created, listed, revoked; their scopes narrow REST and Socket.IO, never widen;
they never manage the account's credentials. Each attack of the issue is a test."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import asyncpg
import pytest
import socketio

from tests.accounts_support import bearer, register
from tests.live_support import LiveSession
from tests.node_agent import NodeAgent
from tests.realtime.test_socket_handshake import connect as socket_connect
from tests.realtime.test_socket_handshake import release
from tests.support import Client


def key_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_key(
    client: Client, pair: dict[str, Any], scopes: list[str], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/auth/api-keys",
        json={"name": f"key {'+'.join(scopes)}", "scopes": scopes, **extra},
        headers=bearer(pair),
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def error_code(response: Any) -> tuple[int, str]:
    return response.status, (await response.json())["error"]["code"]


async def test_a_key_is_shown_once_stored_hashed_listed_and_revoked(
    client: Client, db: asyncpg.Connection
) -> None:
    pair = await register(client, "keyowner")
    created = await create_key(client, pair, ["write", "read"], expires_in_days=30)
    key = created["key"]
    # `collab_` and 43 base62 characters: 256 random bits.
    assert re.fullmatch(r"collab_[0-9A-Za-z]{43}", key)
    assert created["prefix"] == key[:12] and created["scopes"] == ["read", "write"]
    assert created["expires_at"] is not None
    stored = await db.fetchrow("SELECT key_hash, prefix FROM api_keys")
    assert key not in str(dict(stored)) and stored["prefix"] == key[:12]

    listed = await (await client.get("/api/auth/api-keys", headers=bearer(pair))).json()
    assert [k["key_id"] for k in listed] == [created["key_id"]]
    assert set(listed[0]) == {
        "key_id",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
    }
    assert listed[0]["last_used_at"] is None
    assert key not in str(listed)

    me = await client.get("/api/auth/me", headers=key_headers(key))
    assert me.status == 200 and (await me.json())["username"] == "keyowner"
    used = (await (await client.get("/api/auth/api-keys", headers=bearer(pair))).json())[0]
    assert used["last_used_at"] is not None and used["last_used_ip"] == "127.0.0.1"

    revoked = await client.delete(f"/api/auth/api-keys/{created['key_id']}", headers=bearer(pair))
    assert revoked.status == 204
    # Revoked at once: the very next request is refused.
    assert await error_code(await client.get("/api/auth/me", headers=key_headers(key))) == (
        401,
        "invalid_token",
    )
    assert await (await client.get("/api/auth/api-keys", headers=bearer(pair))).json() == []
    again = await client.delete(f"/api/auth/api-keys/{created['key_id']}", headers=bearer(pair))
    assert again.status == 404
    actions = await db.fetch(
        "SELECT action FROM audit_logs WHERE action LIKE 'auth.api_key%' ORDER BY log_id"
    )
    assert [r["action"] for r in actions] == ["auth.api_key_created", "auth.api_key_revoked"]


async def test_last_use_is_recorded_at_most_once_a_minute(
    client: Client, db: asyncpg.Connection
) -> None:
    pair = await register(client, "busy")
    key = (await create_key(client, pair, ["read"]))["key"]
    await client.get("/api/auth/me", headers=key_headers(key))
    first = await db.fetchval("SELECT last_used_at FROM api_keys")
    await client.get("/api/auth/me", headers=key_headers(key))
    assert await db.fetchval("SELECT last_used_at FROM api_keys") == first
    await db.execute("UPDATE api_keys SET last_used_at = now() - interval '2 minutes'")
    await client.get("/api/auth/me", headers=key_headers(key))
    assert await db.fetchval("SELECT last_used_at FROM api_keys") > first


async def test_another_persons_key_cannot_be_revoked(client: Client) -> None:
    alice, mallory = await register(client, "alicek"), await register(client, "malloryk")
    created = await create_key(client, alice, ["read"])
    stolen = await client.delete(f"/api/auth/api-keys/{created['key_id']}", headers=bearer(mallory))
    assert stolen.status == 404
    assert (await client.get("/api/auth/me", headers=key_headers(created["key"]))).status == 200
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        response = await client.delete(f"/api/auth/api-keys/{bad}", headers=bearer(alice))
        assert response.status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "x" * 101, "scopes": ["read"]}, "name"),
        ({"name": "ok", "scopes": []}, "scopes"),
        ({"name": "ok", "scopes": ["root"]}, "scopes.0"),
        ({"name": "ok", "scopes": ["read", "read"]}, "scopes"),
        ({"name": "ok", "scopes": ["read"], "expires_in_days": 0}, "expires_in_days"),
        ({"name": "ok", "scopes": ["read"], "expires_in_days": 99999}, "expires_in_days"),
        ({"name": "ok", "scopes": "read"}, "scopes"),
    ],
)
async def test_names_scopes_and_lifetimes_are_validated(
    client: Client, body: dict[str, Any], field: str
) -> None:
    pair = await register(client, "validator")
    response = await client.post("/api/auth/api-keys", json=body, headers=bearer(pair))
    assert response.status == 422, await response.text()
    assert field in (await response.json())["error"]["details"]


async def test_keys_per_user_are_limited(client: Client, db: asyncpg.Connection) -> None:
    from auth.api_keys import MAX_KEYS_PER_USER

    pair = await register(client, "hoarder")
    # Made directly: the creation rate limit would stop a loop of requests first.
    await db.execute(
        """INSERT INTO api_keys (user_id, name, key_hash, prefix, scopes)
           SELECT $1, 'k' || n, md5(n::text) || md5(n::text), 'collab_xxxxx', ARRAY['read']
           FROM generate_series(1, $2) AS n""",
        uuid.UUID(pair["user"]["user_id"]),
        MAX_KEYS_PER_USER,
    )
    response = await client.post(
        "/api/auth/api-keys", json={"name": "one more", "scopes": ["read"]}, headers=bearer(pair)
    )
    assert await error_code(response) == (409, "conflict")


async def test_an_expired_key_is_refused(client: Client, db: asyncpg.Connection) -> None:
    pair = await register(client, "expiring")
    created = await create_key(client, pair, ["read"], expires_in_days=1)
    assert (await client.get("/api/auth/me", headers=key_headers(created["key"]))).status == 200
    await db.execute("UPDATE api_keys SET expires_at = now() - interval '1 second'")
    assert await error_code(
        await client.get("/api/auth/me", headers=key_headers(created["key"]))
    ) == (401, "invalid_token")
    assert await (await client.get("/api/auth/api-keys", headers=bearer(pair))).json() == []


async def test_made_up_and_malformed_keys_are_refused(client: Client) -> None:
    for key in ("collab_" + "A" * 43, "collab_short", "collab_" + "!" * 43):
        assert await error_code(await client.get("/api/auth/me", headers=key_headers(key))) == (
            401,
            "invalid_token",
        )


async def test_a_read_key_reads_but_may_not_write(client: Client) -> None:
    pair = await register(client, "reader")
    key = (await create_key(client, pair, ["read"]))["key"]
    assert (await client.get("/api/workspaces", headers=key_headers(key))).status == 200
    for method, path, body in [
        ("POST", "/api/workspaces", {"name": "nope"}),
        ("POST", "/api/sessions", {"name": "nope", "language": "python"}),
        ("PATCH", "/api/auth/me", {"first_name": "Eve"}),
    ]:
        response = await client.request(method, path, json=body, headers=key_headers(key))
        assert await error_code(response) == (403, "insufficient_scope"), path
        assert (await response.json())["error"]["details"] == {"scope": "write"}
    # Nothing was made.
    assert await (await client.get("/api/workspaces", headers=bearer(pair))).json() == []
    # A write key may (`write` includes `read`).
    writer = (await create_key(client, pair, ["write"]))["key"]
    made = await client.post("/api/workspaces", json={"name": "yes"}, headers=key_headers(writer))
    assert made.status == 201, await made.text()
    assert (await client.get("/api/workspaces", headers=key_headers(writer))).status == 200


async def test_starting_or_stopping_a_deployment_needs_the_deploy_scope(client: Client) -> None:
    pair = await register(client, "deployer")
    no_deploy = (await create_key(client, pair, ["read", "write"]))["key"]
    deploy = (await create_key(client, pair, ["deploy"]))["key"]
    session = str(uuid.uuid4())
    for path in (f"/api/sessions/{session}/deployments", f"/api/deployments/{session}/stop"):
        refused = await client.post(path, headers=key_headers(no_deploy))
        assert await error_code(refused) == (403, "insufficient_scope")
        assert (await refused.json())["error"]["details"] == {"scope": "deploy"}
        # With the scope, the request reaches the route (no such session or deployment).
        assert await error_code(await client.post(path, headers=key_headers(deploy))) == (
            404,
            "not_found",
        )


async def test_admin_routes_need_the_admin_scope(client: Client) -> None:
    pair = await register(client, "notadmin")
    key = (await create_key(client, pair, ["read", "write"]))["key"]
    response = await client.get("/api/admin/users", headers=key_headers(key))
    assert await error_code(response) == (403, "insufficient_scope")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/auth/api-keys", None),
        ("POST", "/api/auth/api-keys", {"name": "child", "scopes": ["read"]}),
        ("DELETE", "/api/auth/api-keys/{key_id}", None),
        ("GET", "/api/auth/mfa", None),
        ("POST", "/api/auth/mfa/totp", None),
        ("POST", "/api/auth/password/change", {"current_password": "x", "new_password": "y"}),
        ("POST", "/api/auth/email/change", {"new_email": "e@example.org", "password": "x"}),
        ("GET", "/api/auth/sessions", None),
        ("DELETE", "/api/auth/sessions/{key_id}", None),
        ("DELETE", "/api/auth/me", {"password": "x"}),
        ("POST", "/api/auth/logout-all", None),
    ],
)
async def test_a_key_never_manages_credentials(
    client: Client, method: str, path: str, body: dict[str, Any] | None
) -> None:
    pair = await register(client, "allpowerful")
    created = await create_key(client, pair, ["read", "write", "deploy", "admin"])
    response = await client.request(
        method,
        path.format(key_id=created["key_id"]),
        json=body,
        headers=key_headers(created["key"]),
    )
    assert await error_code(response) == (403, "insufficient_scope"), await response.text()
    assert "API keys cannot" in (await response.json())["error"]["message"]
    # The key is still there and still works: nothing was done.
    listed = await (await client.get("/api/auth/api-keys", headers=bearer(pair))).json()
    assert [k["key_id"] for k in listed] == [created["key_id"]]


# -- Socket.IO --------------------------------------------------------------------------


async def test_a_key_opens_a_socket_and_revoking_it_closes_the_socket(client: Client) -> None:
    pair = await register(client, "sockkey")
    created = await create_key(client, pair, ["read"])
    sio = await socket_connect(client, created["key"])
    assert sio.connected
    other = await socket_connect(client, pair["access_token"])
    await client.delete(f"/api/auth/api-keys/{created['key_id']}", headers=bearer(pair))
    for _ in range(50):
        if not sio.connected:
            break
        await asyncio.sleep(0.1)
    assert not sio.connected
    assert other.connected  # the login's own socket stays
    await other.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        refused = socketio.AsyncClient(reconnection=False)
        try:
            await refused.connect(
                str(client.make_url("/")),
                auth={"token": created["key"]},
                transports=["websocket"],
                wait_timeout=5,
            )
        finally:
            await release(refused)


async def file_text(client: Client, live: LiveSession, path: str = "main.py") -> str:
    response = await client.get(
        f"/api/sessions/{live.session_id}/files/{path}", headers=live.owner.headers
    )
    assert response.status == 200, await response.text()
    return await response.text()


async def test_a_read_key_cannot_write_a_document_over_socketio(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    url = str(client.make_url("")).rstrip("/")
    # The session's owner: their role could write, but the key says read.
    reader = (await create_key(client, live.owner.pair, ["read"]))["key"]
    writer = (await create_key(client, live.owner.pair, ["write"]))["key"]
    await agent.call("connect", name="w", url=url, room=live.room(), token=writer)
    await agent.call("connect", name="r", url=url, room=live.room(), token=reader)
    await agent.call("insert", name="w", index=0, text="owned ")
    await agent.call("waitText", name="r", text="owned ")
    await agent.call("insert", name="r", index=0, text="VANDALISM ")
    await asyncio.sleep(0.5)
    assert [e["code"] for e in await agent.call("syncErrors", name="r")] == ["read_only"]
    assert await agent.call("text", name="w") == "owned "
    assert await file_text(client, live) == "owned "
    # A role change (a promotion of the user) does not lift the key's cap either.
    from collab.model import SessionRole
    from collab.state import REALTIME

    client.app[REALTIME].sync.set_role(
        uuid.UUID(live.session_id), uuid.UUID(live.owner.user_id), SessionRole.OWNER
    )
    await agent.call("insert", name="r", index=0, text="AGAIN ")
    await asyncio.sleep(0.5)
    assert [e["code"] for e in await agent.call("syncErrors", name="r")] == [
        "read_only",
        "read_only",
    ]
    assert await file_text(client, live) == "owned "
    # The reader still receives every update.
    await agent.call("insert", name="w", index=6, text="more")
    assert await agent.call("waitLength", name="r", length=len("AGAIN VANDALISM owned more"))


async def test_a_key_never_widens_the_users_role(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    url = str(client.make_url("")).rstrip("/")
    viewer_key = (await create_key(client, live.viewer.pair, ["read", "write"]))["key"]
    await agent.call("connect", name="v", url=url, room=live.room(), token=viewer_key)
    await agent.call("insert", name="v", index=0, text="nope")
    await asyncio.sleep(0.5)
    assert [e["code"] for e in await agent.call("syncErrors", name="v")] == ["read_only"]
    assert await file_text(client, live) == ""
    # Nor over REST: a viewer's write key cannot change what the viewer may not.
    response = await client.patch(
        f"/api/sessions/{live.session_id}",
        json={"name": "hijacked"},
        headers=key_headers(viewer_key),
    )
    assert response.status == 403


async def test_a_key_stops_working_while_its_account_awaits_deletion(
    client: Client, db: asyncpg.Connection
) -> None:
    pair = await register(client, "leaving")
    key = (await create_key(client, pair, ["read"]))["key"]
    await db.execute(
        """UPDATE users SET deleted_at = now(), purge_after = now() + interval '7 days'
           WHERE username = 'leaving'"""
    )
    assert await error_code(await client.get("/api/auth/me", headers=key_headers(key))) == (
        401,
        "invalid_token",
    )
    await db.execute(
        "UPDATE users SET deleted_at = NULL, purge_after = NULL WHERE username = 'leaving'"
    )
    assert (await client.get("/api/auth/me", headers=key_headers(key))).status == 200
