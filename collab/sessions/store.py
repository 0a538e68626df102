"""Queries on sessions, session participants and session invitations."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from auth.sql import Executor

_SESSION = """s.session_id, s.name, s.description, s.language, s.framework, s.is_dynamic,
    s.owner_id, s.status, s.created_at, s.updated_at, s.last_active, s.ws_id"""

# A participant's own role; for a session opened on a workspace, a member of the workspace
# who has not joined yet counts as an editor (viewer if a workspace viewer).
_EFFECTIVE_ROLE = """coalesce(p.role, CASE WHEN wp.role IS NULL THEN NULL
                                    WHEN wp.role = 'viewer' THEN 'viewer' ELSE 'editor' END)"""


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def session_json(row: asyncpg.Record) -> dict[str, Any]:
    data = {
        k: _iso(row[k])
        for k in (
            "name",
            "description",
            "language",
            "framework",
            "is_dynamic",
            "status",
            "created_at",
            "updated_at",
            "last_active",
        )
    }
    return {
        "session_id": str(row["session_id"]),
        "owner_id": str(row["owner_id"]),
        **data,
        "ws_id": str(row["ws_id"]) if row["ws_id"] else None,
        "role": row["role"],
    }


def participant_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "participant_id": str(row["participant_id"]),
        "user": {
            "user_id": str(row["user_id"]),
            "username": row["username"],
            "email": row["email"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "profile_image_url": row["profile_image_url"],
        },
        "role": row["role"],
        "joined_at": row["joined_at"].isoformat(),
        "last_active": row["last_active"].isoformat(),
        "is_active": row["is_active"],
    }


class SessionStore:
    async def with_role(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> asyncpg.Record | None:
        """The session, with the user's role (None when not a participant)."""
        row: asyncpg.Record | None = await db.fetchrow(
            f"""SELECT {_SESSION}, {_EFFECTIVE_ROLE} AS role, p.role IS NULL AS not_joined
                FROM sessions s
                LEFT JOIN session_participants p
                  ON p.session_id = s.session_id AND p.user_id = $2
                LEFT JOIN workspace_permissions wp
                  ON wp.ws_id = s.ws_id AND wp.user_id = $2 AND wp.status = 'active'
                WHERE s.session_id = $1""",
            session_id,
            user_id,
        )
        return row

    async def add_participant(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID, role: str
    ) -> None:
        await db.execute(
            """INSERT INTO session_participants (session_id, user_id, email, role)
               SELECT $1, $2, email, $3 FROM users WHERE user_id = $2
               ON CONFLICT (session_id, user_id) DO NOTHING""",
            session_id,
            user_id,
            role,
        )

    async def for_user(self, db: Executor, user_id: uuid.UUID) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await db.fetch(
            f"""SELECT {_SESSION}, p.role FROM sessions s
                JOIN session_participants p ON p.session_id = s.session_id AND p.user_id = $1
                ORDER BY s.last_active DESC, s.session_id""",
            user_id,
        )
        return rows

    async def create(
        self, conn: asyncpg.Connection, owner_id: uuid.UUID, fields: dict[str, Any]
    ) -> asyncpg.Record:
        row: asyncpg.Record = await conn.fetchrow(
            f"""WITH s AS (
                    INSERT INTO sessions (name, description, language, framework, is_dynamic,
                                          owner_id, ws_id)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *),
                p AS (
                    INSERT INTO session_participants (session_id, user_id, email, role)
                    SELECT s.session_id, $6, u.email, 'owner' FROM s, users u
                    WHERE u.user_id = $6 RETURNING role)
                SELECT {_SESSION}, p.role FROM s, p""",
            fields["name"],
            fields.get("description"),
            fields["language"],
            fields.get("framework"),
            fields.get("is_dynamic", False),
            owner_id,
            fields.get("ws_id"),
        )
        return row

    async def update(self, db: Executor, session_id: uuid.UUID, changes: dict[str, Any]) -> None:
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
        await db.execute(
            f"UPDATE sessions SET {sets} WHERE session_id = $1", session_id, *changes.values()
        )

    async def participants(self, db: Executor, session_id: uuid.UUID) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await db.fetch(
            """SELECT p.participant_id, p.role, p.joined_at, p.last_active, p.is_active,
                      u.user_id, u.username, u.email, u.first_name, u.last_name,
                      u.profile_image_url
               FROM session_participants p JOIN users u USING (user_id)
               WHERE p.session_id = $1 ORDER BY p.joined_at, p.participant_id""",
            session_id,
        )
        return rows

    async def participant(
        self, db: Executor, session_id: uuid.UUID, participant_id: uuid.UUID
    ) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await db.fetchrow(
            "SELECT participant_id, user_id, role FROM session_participants "
            "WHERE session_id = $1 AND participant_id = $2",
            session_id,
            participant_id,
        )
        return row

    async def set_active(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID, active: bool
    ) -> None:
        await db.execute(
            "UPDATE session_participants SET is_active = $3, last_active = now() "
            "WHERE session_id = $1 AND user_id = $2",
            session_id,
            user_id,
            active,
        )
        if active:
            await db.execute(
                "UPDATE sessions SET last_active = now() WHERE session_id = $1", session_id
            )
