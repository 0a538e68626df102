"""Queries on sessions, session participants and session invitations."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from kernel.sql import Executor

_SESSION = """s.session_id, s.name, s.description, s.language, s.framework, s.is_dynamic,
    s.owner_id, s.status, s.created_at, s.updated_at, s.last_active, s.ws_id"""


_INVITATION = """i.invitation_id, i.email, i.role, i.message, i.invited_by,
    CASE WHEN i.status = 'pending' AND i.expires_at <= now() THEN 'expired' ELSE i.status END
        AS status, i.created_at, i.expires_at, i.responded_at"""


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def session_json(row: asyncpg.Record, role: str | None) -> dict[str, Any]:
    """A session as its participant sees it, with their effective role."""
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
        "role": role,
    }


def invitation_json(row: asyncpg.Record) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, uuid.UUID) else _iso(v) for k, v in dict(row).items()}


class SessionStore:
    """Every query on the session tables. What someone may do is decided from the rows these
    answer (`collab/sessions/roles.py`); people's names and workspace roles are auth's."""

    async def access(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> asyncpg.Record | None:
        """The session, with that person's participant row (`participant_role` and
        `joined_via` are NULL when they have none)."""
        row: asyncpg.Record | None = await db.fetchrow(
            f"""SELECT {_SESSION}, p.role AS participant_role, p.joined_via
                FROM sessions s
                LEFT JOIN session_participants p
                  ON p.session_id = s.session_id AND p.user_id = $2
                WHERE s.session_id = $1""",
            session_id,
            user_id,
        )
        return row

    async def add_participant(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID, email: str
    ) -> None:
        """A workspace member opening one of its sessions for the first time.

        The row grants editor; their workspace role bounds it at every check (a workspace
        viewer reads only, and reads nothing once no longer a member).
        """
        await db.execute(
            """INSERT INTO session_participants (session_id, user_id, email, role, joined_via)
               VALUES ($1, $2, $3, 'editor', 'workspace')
               ON CONFLICT (session_id, user_id) DO NOTHING""",
            session_id,
            user_id,
            email,
        )

    async def for_user(self, db: Executor, user_id: uuid.UUID) -> list[asyncpg.Record]:
        """The sessions where this person has a participant row, most recently active first."""
        rows: list[asyncpg.Record] = await db.fetch(
            f"""SELECT {_SESSION}, p.role AS participant_role, p.joined_via FROM sessions s
                JOIN session_participants p ON p.session_id = s.session_id AND p.user_id = $1
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
        self, conn: asyncpg.Connection, owner_id: uuid.UUID, email: str, fields: dict[str, Any]
    ) -> asyncpg.Record:
        """The session, and its owner as its first participant."""
        row: asyncpg.Record = await conn.fetchrow(
            f"""WITH s AS (
                    INSERT INTO sessions (name, description, language, framework, is_dynamic,
                                          owner_id, ws_id)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *),
                p AS (
                    INSERT INTO session_participants (session_id, user_id, email, role,
                                                      joined_via)
                    SELECT s.session_id, $6, $8, 'owner', 'owner' FROM s RETURNING role)
                SELECT {_SESSION}, p.role FROM s, p""",
            fields["name"],
            fields.get("description"),
            fields["language"],
            fields.get("framework"),
            fields.get("is_dynamic", False),
            owner_id,
            fields.get("ws_id"),
            email,
        )
        return row

    async def update(self, db: Executor, session_id: uuid.UUID, changes: dict[str, Any]) -> None:
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
        await db.execute(
            f"UPDATE sessions SET {sets} WHERE session_id = $1", session_id, *changes.values()
        )

    async def environment(self, db: Executor, session_id: uuid.UUID) -> dict[str, Any]:
        """The session's variables in their stored form (secrets sealed)."""
        stored: dict[str, Any] | None = await db.fetchval(
            "SELECT environment FROM sessions WHERE session_id = $1", session_id
        )
        return stored or {}

    async def participants(self, db: Executor, session_id: uuid.UUID) -> list[asyncpg.Record]:
        """Every participant row of the session, with the session's workspace, in join order
        (with access or not: the caller bounds each by the workspace role)."""
        rows: list[asyncpg.Record] = await db.fetch(
            """SELECT p.participant_id, p.user_id, p.role, p.joined_via, p.joined_at,
                      p.last_active, p.is_active, s.ws_id
               FROM sessions s
               JOIN session_participants p ON p.session_id = s.session_id
               WHERE s.session_id = $1
               ORDER BY p.joined_at, p.participant_id""",
            session_id,
        )
        return rows

    async def participant(
        self, db: Executor, session_id: uuid.UUID, participant_id: uuid.UUID
    ) -> asyncpg.Record | None:
        """A participant row of the session, with the session's workspace (access unchecked)."""
        row: asyncpg.Record | None = await db.fetchrow(
            """SELECT p.participant_id, p.user_id, p.role, p.joined_via, s.ws_id
               FROM sessions s
               JOIN session_participants p ON p.session_id = s.session_id
               WHERE s.session_id = $1 AND p.participant_id = $2""",
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

    # -- what deployments ask -----------------------------------------------------------------

    async def dynamic(self, db: Executor, session_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Those of these sessions that are dynamic (their edits go into running containers)."""
        rows = await db.fetch(
            "SELECT session_id FROM sessions WHERE is_dynamic AND session_id = ANY($1::uuid[])",
            session_ids,
        )
        return {r["session_id"] for r in rows}

    async def recently_active(
        self, db: Executor, session_ids: list[uuid.UUID], within_seconds: float
    ) -> set[uuid.UUID]:
        """Those of these sessions with a participant present within the last seconds."""
        rows = await db.fetch(
            """SELECT DISTINCT session_id FROM session_participants
               WHERE session_id = ANY($1::uuid[]) AND is_active
                 AND last_active > now() - make_interval(secs => $2)""",
            session_ids,
            within_seconds,
        )
        return {r["session_id"] for r in rows}

    async def participant_role(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> str | None:
        """The role this person's participant row grants (before any bound), None without one."""
        role: str | None = await db.fetchval(
            "SELECT role FROM session_participants WHERE session_id = $1 AND user_id = $2",
            session_id,
            user_id,
        )
        return role

    # -- workspace sessions -------------------------------------------------------------------

    async def in_workspace(
        self, db: Executor, ws_id: uuid.UUID, user_id: uuid.UUID
    ) -> list[asyncpg.Record]:
        """The workspace's sessions, each with this person's participant row (NULLs when they
        have none), most recently active first, as `for_user` orders them."""
        rows: list[asyncpg.Record] = await db.fetch(
            f"""SELECT {_SESSION}, p.role AS participant_role, p.joined_via FROM sessions s
                LEFT JOIN session_participants p
                  ON p.session_id = s.session_id AND p.user_id = $2
                WHERE s.ws_id = $1
                ORDER BY s.last_active DESC, s.session_id""",
            ws_id,
            user_id,
        )
        return rows

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

    async def pending_links_by(
        self,
        db: Executor,
        user_id: uuid.UUID,
        *,
        session_id: uuid.UUID | None = None,
        ws_id: uuid.UUID | None = None,
    ) -> list[asyncpg.Record]:
        """The pending links this person made (in one session, or in every session of a
        workspace), each with its session's workspace and the maker's participant row there."""
        rows: list[asyncpg.Record] = await db.fetch(
            """SELECT i.invitation_id, i.role, s.ws_id, p.role AS participant_role,
                      p.joined_via
               FROM session_invitations i
               JOIN sessions s ON s.session_id = i.session_id
               LEFT JOIN session_participants p
                 ON p.session_id = s.session_id AND p.user_id = i.invited_by
               WHERE i.invited_by = $1 AND i.status = 'pending'
                 AND (s.session_id = $2 OR s.ws_id = $3)""",
            user_id,
            session_id,
            ws_id,
        )
        return rows

    async def revoke_links(self, db: Executor, invitation_ids: list[uuid.UUID]) -> int:
        """Revoke those links that are still pending."""
        if not invitation_ids:
            return 0
        done: str = await db.execute(
            """UPDATE session_invitations SET status = 'revoked', responded_at = now()
               WHERE invitation_id = ANY($1::uuid[]) AND status = 'pending'""",
            invitation_ids,
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
        self, conn: asyncpg.Connection, token_hash: str
    ) -> asyncpg.Record | None:
        """The link with that token, locked, with the session's status."""
        row: asyncpg.Record | None = await conn.fetchrow(
            """SELECT i.*, i.expires_at <= now() AS expired, s.status AS session_status
               FROM session_invitations i JOIN sessions s USING (session_id)
               WHERE i.token_hash = $1 FOR UPDATE OF i""",
            token_hash,
        )
        return row

    async def invitation_by_token(self, db: Executor, token_hash: str) -> asyncpg.Record | None:
        """The link with that token, unlocked (a look-up), with what its page shows of the
        session."""
        row: asyncpg.Record | None = await db.fetchrow(
            """SELECT i.invitation_id, i.session_id, i.email, i.role, i.message, i.invited_by,
                      i.status, i.expires_at, i.expires_at <= now() AS expired,
                      s.name AS session_name, s.language AS session_language,
                      s.status AS session_status
               FROM session_invitations i JOIN sessions s USING (session_id)
               WHERE i.token_hash = $1""",
            token_hash,
        )
        return row

    async def mark_invitation(self, db: Executor, invitation_id: uuid.UUID, status: str) -> None:
        """revoked, accepted or declined (with the time of the answer), or expired (without)."""
        if status == "expired":
            await db.execute(
                "UPDATE session_invitations SET status = 'expired' WHERE invitation_id = $1",
                invitation_id,
            )
            return
        assert status in ("revoked", "accepted", "declined"), status
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

    async def invitations_involving(
        self, db: Executor, user_id: uuid.UUID, email: str
    ) -> list[dict[str, Any]]:
        """Session invitations this person made or was sent (by email), for their data
        export; the link tokens are never stored in the clear, so none is here."""
        rows = await db.fetch(
            f"""SELECT {_INVITATION}, i.session_id FROM session_invitations i
                WHERE i.invited_by = $1 OR lower(i.email) = lower($2)
                ORDER BY i.created_at""",
            user_id,
            email,
        )
        return [
            {k: str(v) if isinstance(v, uuid.UUID) else _iso(v) for k, v in dict(r).items()}
            for r in rows
        ]
