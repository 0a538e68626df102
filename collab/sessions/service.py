"""Session decisions: who sees and changes a session, its participants and join links.

Rules:
- Only participants see a session; to anyone else it does not exist (404).
- The owner changes, archives or deletes it, changes roles and removes people; anyone may
  leave. The owner's own role is fixed.
- Owners and editors invite, never to a role above their own. A join link is single use and
  expires; one addressed to an email works only for the account with that email.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from auth.audit import AuditEntry, AuditLog
from auth.context import Actor
from auth.errors import Conflict, Forbidden, Gone, NotFound
from auth.roles import Role
from auth.tokens import new_opaque_token, token_digest
from collab.documents.store import DocumentKey
from collab.sessions.events import SessionEvents
from collab.sessions.roles import SessionRole
from collab.sessions.store import SessionStore, participant_json, session_json
from collab.sessions.validation import (
    ParticipantPatch,
    SessionInput,
    SessionInvitationInput,
    SessionPatch,
)

# "What role has this user in that workspace?" (auth's WorkspaceService.role_of)
WorkspaceRoleOf = Callable[[uuid.UUID, uuid.UUID], Awaitable[Role | None]]
# "Add to this workspace's analytics counters" (the workspace document)
WorkspaceCounter = Callable[[uuid.UUID, dict[str, int]], Awaitable[None]]


class SessionService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: SessionStore,
        audit: AuditLog,
        events: SessionEvents,
        base_url: str,
        workspace_role_of: WorkspaceRoleOf,
        count_for_workspace: WorkspaceCounter,
    ) -> None:
        self._pool = pool
        self._store = store
        self._audit = audit
        self._events = events
        self._base_url = base_url
        self._workspace_role_of = workspace_role_of
        self._count_for_workspace = count_for_workspace
        # Set by the composition root: what else stops when a session is archived.
        self.on_archived: Callable[[uuid.UUID], Awaitable[None]] | None = None

    async def role_of(self, session_id: uuid.UUID, user_id: uuid.UUID) -> SessionRole | None:
        """The question the real-time layer asks on every connection.

        A workspace member opening a session of that workspace for the first time becomes
        a participant here, with the role their workspace role gives them.
        """
        row = await self._store.with_role(self._pool, session_id, user_id)
        if row is None or row["role"] is None:
            return None
        if row["not_joined"]:
            await self._store.add_participant(self._pool, session_id, user_id, row["role"])
        if row["status"] == "archived":
            return SessionRole.VIEWER  # an archived session is read-only for everyone
        return SessionRole(row["role"])

    async def document_key(self, session_id: uuid.UUID, path: str = "") -> DocumentKey:
        """Where a session's file lives: the session's own, or its workspace's."""
        ws_id = await self._pool.fetchval(
            "SELECT ws_id FROM sessions WHERE session_id = $1", session_id
        )
        if ws_id is not None:
            return DocumentKey(ws_id, path, in_workspace=True)
        return DocumentKey(session_id, path)

    async def sessions_sharing(self, key: DocumentKey) -> list[uuid.UUID]:
        """The sessions whose members see this document."""
        if not key.in_workspace:
            return [key.scope_id]
        rows = await self._pool.fetch(
            "SELECT session_id FROM sessions WHERE ws_id = $1", key.scope_id
        )
        return [r["session_id"] for r in rows]

    async def require(
        self, db: Any, actor: Actor, session_id: uuid.UUID, minimum: SessionRole
    ) -> tuple[asyncpg.Record, SessionRole]:
        row = await self._store.with_role(db, session_id, actor.user_id)
        if row is None or row["role"] is None:
            raise NotFound("No such session.")
        role = SessionRole(row["role"])
        if role.rank < minimum.rank:
            raise Forbidden(f"This needs the {minimum.value} role in the session.")
        return row, role

    async def authorize(
        self, actor: Actor, session_id: uuid.UUID, minimum: SessionRole
    ) -> SessionRole:
        _, role = await self.require(self._pool, actor, session_id, minimum)
        return role

    async def _audit_session(
        self, conn: Any, actor: Actor, action: str, session_id: uuid.UUID, **values: Any
    ) -> None:
        await self._audit.record(
            conn,
            AuditEntry(action, actor.user_id, None, "session", str(session_id), **values),
            actor.client,
        )

    # -- sessions ---------------------------------------------------------------------------

    async def create(self, actor: Actor, data: SessionInput) -> dict[str, Any]:
        if data.ws_id is not None:
            ws_role = await self._workspace_role_of(data.ws_id, actor.user_id)
            if ws_role is None:
                raise NotFound("No such workspace.")
            if not ws_role.at_least(Role.EDITOR):
                raise Forbidden("Opening a session on a workspace needs its editor role.")
        async with self._pool.acquire() as conn, conn.transaction():
            row = await self._store.create(conn, actor.user_id, data.model_dump())
            await self._audit_session(
                conn, actor, "session.created", row["session_id"], new_value=data.model_dump()
            )
        if data.ws_id is not None:
            await self._count_for_workspace(data.ws_id, {"sessions": 1})
        return session_json(row)

    async def list_for(self, actor: Actor) -> list[dict[str, Any]]:
        return [session_json(r) for r in await self._store.for_user(self._pool, actor.user_id)]

    async def get(self, actor: Actor, session_id: uuid.UUID) -> dict[str, Any]:
        row, _ = await self.require(self._pool, actor, session_id, SessionRole.VIEWER)
        return session_json(row)

    async def update(
        self, actor: Actor, session_id: uuid.UUID, patch: SessionPatch
    ) -> dict[str, Any]:
        changes = {
            k: v
            for k, v in patch.model_dump(exclude_unset=True).items()
            if not (k in ("name", "language", "is_dynamic") and v is None)
        }
        async with self._pool.acquire() as conn, conn.transaction():
            row, _ = await self.require(conn, actor, session_id, SessionRole.OWNER)
            if changes:
                await self._store.update(conn, session_id, changes)
                await self._audit_session(
                    conn,
                    actor,
                    "session.updated",
                    session_id,
                    old_value={k: row[k] for k in changes},
                    new_value=changes,
                )
            fresh = await self._store.with_role(conn, session_id, actor.user_id)
        assert fresh is not None
        session = session_json(fresh)
        if changes.get("status") == "archived" and self.on_archived is not None:
            await self.on_archived(session_id)
        if changes:
            await self._events.emit(session_id, "session:updated", session | {"role": None})
        return session

    async def delete(self, actor: Actor, session_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            row, _ = await self.require(conn, actor, session_id, SessionRole.OWNER)
            await self._audit_session(
                conn, actor, "session.deleted", session_id, old_value={"name": row["name"]}
            )
            await conn.execute("DELETE FROM sessions WHERE session_id = $1", session_id)
        await self._events.removed(session_id, None)

    # -- participants -----------------------------------------------------------------------

    async def participants(self, actor: Actor, session_id: uuid.UUID) -> list[dict[str, Any]]:
        await self.require(self._pool, actor, session_id, SessionRole.VIEWER)
        return [participant_json(r) for r in await self._store.participants(self._pool, session_id)]

    async def set_role(
        self, actor: Actor, session_id: uuid.UUID, participant_id: uuid.UUID, data: ParticipantPatch
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            await self.require(conn, actor, session_id, SessionRole.OWNER)
            target = await self._store.participant(conn, session_id, participant_id)
            if target is None:
                raise NotFound("No such participant.")
            if target["role"] == SessionRole.OWNER:
                raise Conflict("The owner's role cannot change.")
            await conn.execute(
                "UPDATE session_participants SET role = $2 WHERE participant_id = $1",
                participant_id,
                data.role,
            )
            await self._audit_session(
                conn,
                actor,
                "participant.role_changed",
                session_id,
                old_value={"role": target["role"]},
                new_value={"role": data.role, "user_id": str(target["user_id"])},
            )
            rows = await self._store.participants(conn, session_id)
        updated = next(participant_json(r) for r in rows if r["participant_id"] == participant_id)
        await self._events.role_changed(session_id, target["user_id"], data.role)
        await self._events.emit(session_id, "participant:updated", updated)
        return updated

    async def remove(self, actor: Actor, session_id: uuid.UUID, participant_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            _, role = await self.require(conn, actor, session_id, SessionRole.VIEWER)
            target = await self._store.participant(conn, session_id, participant_id)
            if target is None:
                raise NotFound("No such participant.")
            leaving = target["user_id"] == actor.user_id
            if not leaving and role is not SessionRole.OWNER:
                raise Forbidden("Only the owner removes participants.")
            if target["role"] == SessionRole.OWNER:
                raise Conflict("The owner cannot leave their own session; delete it instead.")
            await conn.execute(
                "DELETE FROM session_participants WHERE participant_id = $1", participant_id
            )
            await self._audit_session(
                conn,
                actor,
                "participant.left" if leaving else "participant.removed",
                session_id,
                old_value={"user_id": str(target["user_id"]), "role": target["role"]},
            )
        await self._events.removed(session_id, target["user_id"])
        await self._events.emit(
            session_id,
            "participant:left",
            {"participant_id": str(participant_id), "user_id": str(target["user_id"])},
        )

    # -- invitations and join links ----------------------------------------------------------

    def join_url(self, token: str) -> str:
        return f"{self._base_url}/api/join/{token}"

    async def invite(
        self, actor: Actor, session_id: uuid.UUID, data: SessionInvitationInput
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            _, role = await self.require(conn, actor, session_id, SessionRole.EDITOR)
            if SessionRole(data.role).rank > role.rank:
                raise Forbidden("Nobody may invite to a role above their own.")
            token = new_opaque_token()
            row = await conn.fetchrow(
                """INSERT INTO session_invitations (session_id, email, invited_by, role, message,
                                                    expires_at, token_hash)
                   VALUES ($1, $2, $3, $4, $5, now() + make_interval(hours => $6), $7)
                   RETURNING invitation_id, expires_at""",
                session_id,
                data.email,
                actor.user_id,
                data.role,
                data.message,
                data.expires_in_hours,
                token_digest(token),
            )
            await self._audit_session(
                conn,
                actor,
                "session_invitation.sent",
                session_id,
                new_value={"email": data.email, "role": data.role},
            )
        return {
            "invitation_id": str(row["invitation_id"]),
            "token": token,
            "join_url": self.join_url(token),
            "expires_at": row["expires_at"].isoformat(),
        }

    async def join(self, actor: Actor, token: str) -> dict[str, Any]:
        result: dict[str, Any] | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            invitation = await conn.fetchrow(
                """SELECT i.*, i.expires_at <= now() AS expired, u.email AS user_email
                   FROM session_invitations i, users u
                   WHERE i.token_hash = $1 AND u.user_id = $2 FOR UPDATE OF i""",
                token_digest(token),
                actor.user_id,
            )
            if invitation is None:
                raise NotFound("No such invitation.")
            if invitation["status"] == "pending" and not invitation["expired"]:
                result = await self._admit(conn, actor, invitation)
            elif invitation["status"] == "pending":
                await conn.execute(
                    "UPDATE session_invitations SET status = 'expired' WHERE invitation_id = $1",
                    invitation["invitation_id"],
                )
        if result is None:
            raise Gone("This join link has expired or was already used.")
        await self._events.emit(
            uuid.UUID(result["session"]["session_id"]), "participant:joined", result["participant"]
        )
        return result

    async def _admit(
        self, conn: asyncpg.Connection, actor: Actor, invitation: asyncpg.Record
    ) -> dict[str, Any]:
        email = invitation["email"]
        if email is not None and email.lower() != invitation["user_email"].lower():
            raise Forbidden("This invitation is for someone else.")
        session_id = invitation["session_id"]
        await conn.execute(
            """INSERT INTO session_participants (session_id, user_id, email, role)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (session_id, user_id) DO UPDATE SET role = CASE
                   WHEN session_participants.role = 'viewer' THEN EXCLUDED.role
                   ELSE session_participants.role END""",
            session_id,
            actor.user_id,
            invitation["user_email"],
            invitation["role"],
        )
        await conn.execute(
            "UPDATE session_invitations SET status = 'accepted', responded_at = now() "
            "WHERE invitation_id = $1",
            invitation["invitation_id"],
        )
        await self._audit_session(
            conn,
            actor,
            "session_invitation.accepted",
            session_id,
            new_value={"role": invitation["role"]},
        )
        rows = await self._store.participants(conn, session_id)
        joined = next(participant_json(r) for r in rows if r["user_id"] == actor.user_id)
        session = await self._store.with_role(conn, session_id, actor.user_id)
        assert session is not None
        return {"session": session_json(session), "participant": joined}
