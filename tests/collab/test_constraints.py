"""The database itself refuses what it must, whatever the application does."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest


async def _user(db: asyncpg.Connection, name: str) -> uuid.UUID:
    user_id: uuid.UUID = await db.fetchval(
        "INSERT INTO users (email, username, password_hash) VALUES ($1, $2, 'x') RETURNING user_id",
        f"{name}@example.org",
        name,
    )
    return user_id


async def test_duplicate_email_is_rejected_case_insensitively(db: asyncpg.Connection) -> None:
    await _user(db, "alice")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "INSERT INTO users (email, username, password_hash) "
            "VALUES ('ALICE@example.org', 'alice2', 'x')"
        )


async def test_duplicate_username_is_rejected(db: asyncpg.Connection) -> None:
    await _user(db, "bob")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "INSERT INTO users (email, username, password_hash) "
            "VALUES ('other@example.org', 'Bob', 'x')"
        )


async def test_unknown_role_is_rejected(db: asyncpg.Connection) -> None:
    owner = await _user(db, "carol")
    ws = await db.fetchval(
        "INSERT INTO workspaces (name, owner_id) VALUES ('w', $1) RETURNING ws_id", owner
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO workspace_permissions (ws_id, user_id, role) VALUES ($1, $2, 'god')",
            ws,
            owner,
        )


async def test_unknown_deployment_status_is_rejected(db: asyncpg.Connection) -> None:
    owner = await _user(db, "dave")
    session = await db.fetchval(
        "INSERT INTO sessions (name, language, owner_id) VALUES ('s', 'python', $1) "
        "RETURNING session_id",
        owner,
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO deployments (session_id, deployment_url, owner_id, status) "
            "VALUES ($1, 'http://x', $2, 'exploded')",
            session,
            owner,
        )


async def test_dangling_foreign_key_is_rejected(db: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("INSERT INTO workspaces (name, owner_id) VALUES ('w', $1)", uuid.uuid4())


async def test_updated_at_is_maintained_by_the_database(db: asyncpg.Connection) -> None:
    user_id = await _user(db, "frank")
    before = await db.fetchval("SELECT updated_at FROM users WHERE user_id = $1", user_id)
    await asyncio.sleep(0.01)
    await db.execute("UPDATE users SET first_name = 'Frank' WHERE user_id = $1", user_id)
    after = await db.fetchval("SELECT updated_at FROM users WHERE user_id = $1", user_id)
    assert after > before


async def test_deleting_a_user_keeps_their_audit_trail(db: asyncpg.Connection) -> None:
    user_id = await _user(db, "grace")
    await db.execute("INSERT INTO audit_logs (user_id, action) VALUES ($1, 'user.login')", user_id)
    await db.execute("DELETE FROM users WHERE user_id = $1", user_id)
    row = await db.fetchrow("SELECT user_id, action FROM audit_logs")
    assert row is not None
    assert (row["user_id"], row["action"]) == (None, "user.login")
