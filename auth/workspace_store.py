"""Queries on workspaces, their permissions and presence rows (`user_sessions`)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

import asyncpg

from auth.roles import Role
from kernel.sql import Executor

_WS_COLUMNS = """w.ws_id, w.name, w.description, w.owner_id, w.is_public, w.is_template,
    w.status, w.created_at, w.updated_at, w.last_active, w.require_mfa"""

# Role rank in SQL, for "keep the higher of two roles".
RANK_SQL = "array_position(ARRAY['viewer','editor','admin','owner']::varchar[], {})"


def workspace_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "ws_id": str(row["ws_id"]),
        "name": row["name"],
        "description": row["description"],
        "owner_id": str(row["owner_id"]),
        "is_public": row["is_public"],
        "is_template": row["is_template"],
        "status": row["status"],
        "require_mfa": row["require_mfa"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "last_active": row["last_active"].isoformat(),
        "role": row["role"],
    }


class WorkspaceStore:
    async def with_role(
        self, db: Executor, ws_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
    ) -> asyncpg.Record | None:
        return await db.fetchrow(
            f"""SELECT {_WS_COLUMNS}, p.role FROM workspaces w
                LEFT JOIN workspace_permissions p
                  ON p.ws_id = w.ws_id AND p.user_id = $2 AND p.status = 'active'
                WHERE w.ws_id = $1 {"FOR UPDATE OF w" if lock else ""}""",
            ws_id,
            user_id,
        )

    async def visible(
        self, db: Executor, user_id: uuid.UUID, *, templates_only: bool, limit: int
    ) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await db.fetch(
            f"""SELECT {_WS_COLUMNS}, p.role FROM workspaces w
                LEFT JOIN workspace_permissions p
                  ON p.ws_id = w.ws_id AND p.user_id = $1 AND p.status = 'active'
                WHERE (p.role IS NOT NULL OR w.is_public) AND (NOT $2 OR w.is_template)
                ORDER BY w.last_active DESC, w.ws_id LIMIT $3""",
            user_id,
            templates_only,
            limit,
        )
        return rows

    async def create(
        self, db: Executor, owner_id: uuid.UUID, fields: dict[str, Any]
    ) -> asyncpg.Record:
        row: asyncpg.Record = await db.fetchrow(
            f"""WITH w AS (
                    INSERT INTO workspaces (name, description, is_public, is_template, owner_id)
                    VALUES ($1, $2, $3, $4, $5) RETURNING *),
                p AS (
                    INSERT INTO workspace_permissions (ws_id, user_id, role, granted_by)
                    SELECT ws_id, $5, 'owner', $5 FROM w RETURNING role)
                SELECT {_WS_COLUMNS}, p.role FROM w, p""",
            fields["name"],
            fields.get("description"),
            fields.get("is_public", False),
            fields.get("is_template", False),
            owner_id,
        )
        return row

    async def update(self, db: Executor, ws_id: uuid.UUID, changes: dict[str, Any]) -> None:
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
        await db.execute(f"UPDATE workspaces SET {sets} WHERE ws_id = $1", ws_id, *changes.values())

    async def lacks_required_mfa(self, db: Executor, ws_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Whether the workspace requires two-factor login and this user has not turned it on."""
        return bool(
            await db.fetchval(
                """SELECT w.require_mfa AND u.mfa_enabled_at IS NULL
                   FROM workspaces w, users u WHERE w.ws_id = $1 AND u.user_id = $2""",
                ws_id,
                user_id,
            )
        )

    async def lacks_mfa(self, db: Executor, user_id: uuid.UUID) -> bool:
        """Whether this user has not turned two-factor login on."""
        return bool(
            await db.fetchval(
                "SELECT mfa_enabled_at IS NULL FROM users WHERE user_id = $1", user_id
            )
        )

    async def role(self, db: Executor, ws_id: uuid.UUID, user_id: uuid.UUID) -> Role | None:
        value = await db.fetchval(
            "SELECT role FROM workspace_permissions "
            "WHERE ws_id = $1 AND user_id = $2 AND status = 'active'",
            ws_id,
            user_id,
        )
        return Role(value) if value else None

    async def roles_in(
        self, db: Executor, ws_id: uuid.UUID, user_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, Role]:
        """user id → active role in the workspace, for those of these users who hold one."""
        if not user_ids:
            return {}
        rows = await db.fetch(
            "SELECT user_id, role FROM workspace_permissions "
            "WHERE ws_id = $1 AND user_id = ANY($2::uuid[]) AND status = 'active'",
            ws_id,
            list(user_ids),
        )
        return {r["user_id"]: Role(r["role"]) for r in rows}

    async def roles_of_user(self, db: Executor, user_id: uuid.UUID) -> dict[uuid.UUID, Role]:
        """workspace id → the user's active role, for every workspace they are a member of."""
        rows = await db.fetch(
            "SELECT ws_id, role FROM workspace_permissions "
            "WHERE user_id = $1 AND status = 'active'",
            user_id,
        )
        return {r["ws_id"]: Role(r["role"]) for r in rows}

    async def names(self, db: Executor) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
        """workspace id → (owner id, name), for every workspace."""
        rows = await db.fetch("SELECT ws_id, owner_id, name FROM workspaces")
        return {r["ws_id"]: (r["owner_id"], r["name"]) for r in rows}

    async def name(self, db: Executor, ws_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
        """(owner id, name) of the workspace, None when there is no such workspace."""
        row = await db.fetchrow("SELECT owner_id, name FROM workspaces WHERE ws_id = $1", ws_id)
        return (row["owner_id"], row["name"]) if row is not None else None

    # -- who may still invite ------------------------------------------------------------------

    # Whether that active member may now invite to `{role}`: owners and admins, up to their own.
    _MAY_INVITE = (
        "coalesce((SELECT p.role IN ('owner', 'admin') AND "
        + RANK_SQL.format("p.role")
        + " >= "
        + RANK_SQL.format("{role}")
        + """ FROM workspace_permissions p
            WHERE p.ws_id = {ws} AND p.user_id = {user} AND p.status = 'active'), false)"""
    )

    async def may_invite(
        self, db: Executor, ws_id: uuid.UUID, user_id: uuid.UUID | None, role: str
    ) -> bool:
        if user_id is None:
            return False  # the inviter's account is gone
        allowed: bool = await db.fetchval(
            "SELECT " + self._MAY_INVITE.format(role="$3::varchar", ws="$1", user="$2"),
            ws_id,
            user_id,
            role,
        )
        return allowed

    async def revoke_invitations_beyond(
        self, db: Executor, ws_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        """Revoke this person's pending invitations that they may no longer send."""
        await db.execute(
            """UPDATE workspace_invitations i SET status = 'revoked'
               WHERE i.ws_id = $1 AND i.invited_by = $2 AND i.status = 'pending'
                 AND NOT """
            + self._MAY_INVITE.format(role="i.role", ws="$1", user="$2"),
            ws_id,
            user_id,
        )

    async def members(self, db: Executor, ws_id: uuid.UUID) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await db.fetch(
            """SELECT p.role, p.status, p.granted_by, p.created_at, u.user_id, u.username,
                      u.email, u.first_name, u.last_name, u.profile_image_url
               FROM workspace_permissions p JOIN users u USING (user_id)
               WHERE p.ws_id = $1
               ORDER BY """
            + RANK_SQL.format("p.role")
            + " DESC, u.username",
            ws_id,
        )
        return rows

    async def other_owner_count(
        self, conn: asyncpg.Connection, ws_id: uuid.UUID, user_id: uuid.UUID
    ) -> int:
        """Active owners besides this user, with their rows locked against a race."""
        rows = await conn.fetch(
            """SELECT user_id FROM workspace_permissions
               WHERE ws_id = $1 AND role = 'owner' AND status = 'active' AND user_id <> $2
               FOR UPDATE""",
            ws_id,
            user_id,
        )
        return len(rows)

    async def touch_presence(self, db: Executor, ws_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Record that the user has the workspace open (one live row per user and workspace)."""
        await db.execute(
            """WITH touched AS (
                   UPDATE user_sessions SET last_activity = now(), status = 'active'
                   WHERE ws_id = $1 AND user_id = $2 AND status <> 'ended' RETURNING 1)
               INSERT INTO user_sessions (ws_id, user_id)
               SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM touched)""",
            ws_id,
            user_id,
        )
        await db.execute("UPDATE workspaces SET last_active = now() WHERE ws_id = $1", ws_id)

    async def end_presence(self, db: Executor, ws_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await db.execute(
            """UPDATE user_sessions SET status = 'ended', ended_at = now()
               WHERE ws_id = $1 AND user_id = $2 AND status <> 'ended'""",
            ws_id,
            user_id,
        )
