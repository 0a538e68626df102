"""Queries on sessions, session participants and session invitations."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from kernel.sql import Executor

_SESSION = """s.session_id, s.name, s.description, s.language, s.framework, s.is_dynamic,
    s.owner_id, s.status, s.created_at, s.updated_at, s.last_active, s.ws_id"""


def _access_joins(user: str) -> str:
    """That person's participant row `p` and active membership `wp` of session `s`'s workspace."""
    return f"""LEFT JOIN session_participants p
          ON p.session_id = s.session_id AND p.user_id = {user}
        LEFT JOIN workspace_permissions wp
          ON wp.ws_id = s.ws_id AND wp.user_id = {user} AND wp.status = 'active'"""


# The role someone really holds in session `s`, from `p` and `wp` (NULL: no access at all).
# - A session of no workspace: the participant's role.
# - A workspace session, for the workspace's members: the participant's role (editor before
#   they first open it), but never more than viewer for a workspace viewer.
# - A workspace session, for anyone else: only what a join link gave them. Rows of owners and
#   of members who came in through the workspace count only while they are members.
EFFECTIVE_ROLE = """CASE
    WHEN s.ws_id IS NULL THEN p.role
    WHEN wp.role IS NULL THEN CASE WHEN p.joined_via = 'invitation' THEN p.role END
    WHEN wp.role = 'viewer' THEN 'viewer'
    ELSE coalesce(p.role, 'editor') END"""

_RANK = "array_position(ARRAY['viewer', 'editor', 'owner']::varchar[], {})"

# Whether that person may now hand out `{}` with a join link: owners and editors, up to their
# own role; on a workspace session only the workspace's owners and admins.
_MAY_GRANT = f"""coalesce(({EFFECTIVE_ROLE}) IN ('owner', 'editor')
        AND (s.ws_id IS NULL OR wp.role IN ('owner', 'admin'))
        AND {_RANK.format(EFFECTIVE_ROLE)} >= {_RANK.format("{}")}, false)"""

_INVITATION = """i.invitation_id, i.email, i.role, i.message, i.invited_by,
    CASE WHEN i.status = 'pending' AND i.expires_at <= now() THEN 'expired' ELSE i.status END
        AS status, i.created_at, i.expires_at, i.responded_at"""


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


def participant_json(row: asyncpg.Record, *, show_email: bool) -> dict[str, Any]:
    """A participant; the email only for those allowed to see it (owners, the person)."""
    user = {
        "user_id": str(row["user_id"]),
        "username": row["username"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "profile_image_url": row["profile_image_url"],
    }
    if not show_email:
        del user["email"]
    return {
        "participant_id": str(row["participant_id"]),
        "user": user,
        "role": row["role"],
        "joined_at": row["joined_at"].isoformat(),
        "last_active": row["last_active"].isoformat(),
        "is_active": row["is_active"],
    }


def invitation_json(row: asyncpg.Record) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, uuid.UUID) else _iso(v) for k, v in dict(row).items()}


class SessionStore:
    async def with_role(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> asyncpg.Record | None:
        """The session, with the user's effective role (None: no access) and workspace role."""
        row: asyncpg.Record | None = await db.fetchrow(
            f"""SELECT {_SESSION}, {EFFECTIVE_ROLE} AS role, p.role IS NULL AS not_joined,
                       wp.role AS ws_role
                FROM sessions s {_access_joins("$2")}
                WHERE s.session_id = $1""",
            session_id,
            user_id,
        )
        return row

    async def add_participant(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        """A workspace member opening one of its sessions for the first time.

        The row grants editor; their workspace role bounds it at every check (a workspace
        viewer reads only, and reads nothing once no longer a member).
        """
        await db.execute(
            """INSERT INTO session_participants (session_id, user_id, email, role, joined_via)
               SELECT $1, $2, email, 'editor', 'workspace' FROM users WHERE user_id = $2
               ON CONFLICT (session_id, user_id) DO NOTHING""",
            session_id,
            user_id,
        )

    async def for_user(self, db: Executor, user_id: uuid.UUID) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await db.fetch(
            f"""SELECT {_SESSION}, {EFFECTIVE_ROLE} AS role FROM sessions s
                JOIN session_participants p ON p.session_id = s.session_id AND p.user_id = $1
                LEFT JOIN workspace_permissions wp
                  ON wp.ws_id = s.ws_id AND wp.user_id = $1 AND wp.status = 'active'
                WHERE {EFFECTIVE_ROLE} IS NOT NULL
                ORDER BY s.last_active DESC, s.session_id""",
            user_id,
        )
        return rows

    async def owned_live_count(self, conn: asyncpg.Connection, owner_id: uuid.UUID) -> int:
        """Sessions the user owns that are not archived, counted under a per-user lock.

        The transaction-scoped advisory lock makes concurrent creates by one user take turns,
        so two of them cannot both take the last free slot.
        """
        await conn.execute(
            "SELECT pg_advisory_xact_lock("
            "hashtextextended('collab-sessions:' || $1::uuid::text, 0))",
            owner_id,
        )
        count: int = await conn.fetchval(
            "SELECT count(*) FROM sessions WHERE owner_id = $1 AND status <> 'archived'",
            owner_id,
        )
        return count

    async def create(
        self, conn: asyncpg.Connection, owner_id: uuid.UUID, fields: dict[str, Any]
    ) -> asyncpg.Record:
        row: asyncpg.Record = await conn.fetchrow(
            f"""WITH s AS (
                    INSERT INTO sessions (name, description, language, framework, is_dynamic,
                                          owner_id, ws_id)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *),
                p AS (
                    INSERT INTO session_participants (session_id, user_id, email, role,
                                                      joined_via)
                    SELECT s.session_id, $6, u.email, 'owner', 'owner' FROM s, users u
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
        """Everyone with access to the session, each with their effective role."""
        rows: list[asyncpg.Record] = await db.fetch(
            f"""SELECT p.participant_id, {EFFECTIVE_ROLE} AS role, p.joined_at, p.last_active,
                       p.is_active, u.user_id, u.username, u.email, u.first_name, u.last_name,
                       u.profile_image_url
                FROM sessions s
                JOIN session_participants p ON p.session_id = s.session_id
                JOIN users u ON u.user_id = p.user_id
                LEFT JOIN workspace_permissions wp
                  ON wp.ws_id = s.ws_id AND wp.user_id = p.user_id AND wp.status = 'active'
                WHERE s.session_id = $1 AND {EFFECTIVE_ROLE} IS NOT NULL
                ORDER BY p.joined_at, p.participant_id""",
            session_id,
        )
        return rows

    async def participant(
        self, db: Executor, session_id: uuid.UUID, participant_id: uuid.UUID
    ) -> asyncpg.Record | None:
        """A participant with access, with the role their row grants (before any bound)."""
        row: asyncpg.Record | None = await db.fetchrow(
            f"""SELECT p.participant_id, p.user_id, p.role
                FROM sessions s
                JOIN session_participants p ON p.session_id = s.session_id
                LEFT JOIN workspace_permissions wp
                  ON wp.ws_id = s.ws_id AND wp.user_id = p.user_id AND wp.status = 'active'
                WHERE s.session_id = $1 AND p.participant_id = $2
                  AND {EFFECTIVE_ROLE} IS NOT NULL""",
            session_id,
            participant_id,
        )
        return row

    async def user_ids(self, db: Executor, session_id: uuid.UUID) -> list[uuid.UUID]:
        """Everyone with a participant row, with access or not (whose sockets to update)."""
        rows = await db.fetch(
            "SELECT user_id FROM session_participants WHERE session_id = $1", session_id
        )
        return [r["user_id"] for r in rows]

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

    # -- workspace sessions -------------------------------------------------------------------

    async def of_workspace(self, db: Executor, ws_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await db.fetch("SELECT session_id FROM sessions WHERE ws_id = $1", ws_id)
        return [r["session_id"] for r in rows]

    async def drop_workspace_rows(self, db: Executor, ws_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Someone left the workspace: their places in its sessions go (ownership records stay,
        and count again only if they become a member again)."""
        await db.execute(
            """DELETE FROM session_participants p USING sessions s
               WHERE s.session_id = p.session_id AND s.ws_id = $1 AND p.user_id = $2
                 AND p.joined_via <> 'owner'""",
            ws_id,
            user_id,
        )

    # -- join links ---------------------------------------------------------------------------

    async def may_grant(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID | None, role: str
    ) -> bool:
        """Whether this person may hand out `role` in the session now (invite or redeem)."""
        if user_id is None:
            return False  # the link's maker deleted their account
        allowed: bool = await db.fetchval(
            f"""SELECT {_MAY_GRANT.format("$3::varchar")}
                FROM sessions s {_access_joins("$2")} WHERE s.session_id = $1""",
            session_id,
            user_id,
            role,
        )
        return bool(allowed)

    async def invitations(self, db: Executor, session_id: uuid.UUID) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await db.fetch(
            f"""SELECT {_INVITATION} FROM session_invitations i WHERE i.session_id = $1
                ORDER BY i.created_at DESC, i.invitation_id""",
            session_id,
        )
        return rows

    async def revoke_invitation(
        self, db: Executor, session_id: uuid.UUID, invitation_id: uuid.UUID
    ) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await db.fetchrow(
            """UPDATE session_invitations SET status = 'revoked', responded_at = now()
               WHERE invitation_id = $2 AND session_id = $1 AND status = 'pending'
               RETURNING invitation_id, email, role""",
            session_id,
            invitation_id,
        )
        return row

    async def revoke_links_of(self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID) -> int:
        """Revoke every pending link this person made in the session (they were removed)."""
        done: str = await db.execute(
            """UPDATE session_invitations SET status = 'revoked', responded_at = now()
               WHERE session_id = $1 AND invited_by = $2 AND status = 'pending'""",
            session_id,
            user_id,
        )
        return int(done.split()[-1])

    async def revoke_links_beyond(
        self,
        db: Executor,
        user_id: uuid.UUID,
        *,
        session_id: uuid.UUID | None = None,
        ws_id: uuid.UUID | None = None,
    ) -> int:
        """Revoke the pending links this person made (in one session, or in every session of
        a workspace) that they may no longer hand out."""
        done: str = await db.execute(
            f"""UPDATE session_invitations SET status = 'revoked', responded_at = now()
                WHERE invitation_id IN (
                    SELECT i.invitation_id FROM session_invitations i
                    JOIN sessions s ON s.session_id = i.session_id
                    {_access_joins("i.invited_by")}
                    WHERE i.invited_by = $1 AND i.status = 'pending'
                      AND (s.session_id = $2 OR s.ws_id = $3)
                      AND NOT {_MAY_GRANT.format("i.role")})""",
            user_id,
            session_id,
            ws_id,
        )
        return int(done.split()[-1])

    # -- moved from the service: one method per statement, SQL unchanged ----------------------

    async def ws_id_of(self, db: Executor, session_id: uuid.UUID) -> uuid.UUID | None:
        ws_id: uuid.UUID | None = await db.fetchval(
            "SELECT ws_id FROM sessions WHERE session_id = $1", session_id
        )
        return ws_id

    async def delete(self, db: Executor, session_id: uuid.UUID) -> None:
        await db.execute("DELETE FROM sessions WHERE session_id = $1", session_id)

    async def set_participant_role(
        self, db: Executor, participant_id: uuid.UUID, role: str
    ) -> None:
        await db.execute(
            "UPDATE session_participants SET role = $2 WHERE participant_id = $1",
            participant_id,
            role,
        )

    async def remove_participant(self, db: Executor, participant_id: uuid.UUID) -> None:
        await db.execute(
            "DELETE FROM session_participants WHERE participant_id = $1", participant_id
        )

    async def places_in_workspace(
        self, db: Executor, ws_id: uuid.UUID, user_id: uuid.UUID
    ) -> dict[uuid.UUID, uuid.UUID]:
        """session id → participant id, for this person in every session of the workspace."""
        rows = await db.fetch(
            """SELECT p.session_id, p.participant_id FROM session_participants p
               JOIN sessions s ON s.session_id = p.session_id
               WHERE s.ws_id = $1 AND p.user_id = $2""",
            ws_id,
            user_id,
        )
        return {r["session_id"]: r["participant_id"] for r in rows}

    async def insert_invitation(
        self,
        db: Executor,
        session_id: uuid.UUID,
        *,
        email: str | None,
        invited_by: uuid.UUID,
        role: str,
        message: str | None,
        expires_in_hours: int,
        token_hash: str,
    ) -> asyncpg.Record:
        row: asyncpg.Record = await db.fetchrow(
            """INSERT INTO session_invitations (session_id, email, invited_by, role, message,
                                                expires_at, token_hash)
               VALUES ($1, $2, $3, $4, $5, now() + make_interval(hours => $6), $7)
               RETURNING invitation_id, expires_at""",
            session_id,
            email,
            invited_by,
            role,
            message,
            expires_in_hours,
            token_hash,
        )
        return row

    async def invitation_for_redeeming(
        self, conn: asyncpg.Connection, token_hash: str, user_id: uuid.UUID
    ) -> asyncpg.Record | None:
        """The link with that token, locked, with the redeemer's email and the session status."""
        row: asyncpg.Record | None = await conn.fetchrow(
            """SELECT i.*, i.expires_at <= now() AS expired, u.email AS user_email,
                      s.status AS session_status
               FROM session_invitations i JOIN sessions s USING (session_id), users u
               WHERE i.token_hash = $1 AND u.user_id = $2 FOR UPDATE OF i""",
            token_hash,
            user_id,
        )
        return row

    async def mark_invitation(self, db: Executor, invitation_id: uuid.UUID, status: str) -> None:
        """revoked or accepted (with the time of the answer), or expired (without)."""
        if status == "expired":
            await db.execute(
                "UPDATE session_invitations SET status = 'expired' WHERE invitation_id = $1",
                invitation_id,
            )
            return
        assert status in ("revoked", "accepted"), status
        await db.execute(
            f"UPDATE session_invitations SET status = '{status}', responded_at = now() "
            "WHERE invitation_id = $1",
            invitation_id,
        )

    async def admit(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID, email: str, role: str
    ) -> None:
        """Join through a link: never lowers a role, and an owner stays the owner."""
        await db.execute(
            """INSERT INTO session_participants (session_id, user_id, email, role, joined_via)
               VALUES ($1, $2, $3, $4, 'invitation')
               ON CONFLICT (session_id, user_id) DO UPDATE SET
                   role = CASE WHEN session_participants.role = 'viewer' THEN EXCLUDED.role
                               ELSE session_participants.role END,
                   joined_via = CASE WHEN session_participants.joined_via = 'owner' THEN 'owner'
                                     ELSE 'invitation' END""",
            session_id,
            user_id,
            email,
            role,
        )
