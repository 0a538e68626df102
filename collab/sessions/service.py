"""Session decisions: who sees and changes a session, its participants and join links.

Rules:
- Only participants see a session; to anyone else it does not exist (404).
- On a session opened on a workspace, the workspace role bounds the session role at every
  check: a workspace viewer only reads, and someone who is no longer a member has no access
  (unless a join link brought them in from outside the workspace). Changes reach open
  sockets at once.
- An archived session is read-only for everyone: every change answers 409 until its owner
  sets it active again (deleting it stays possible).
- The owner changes, archives or deletes it, changes roles and removes people; anyone may
  leave. The owner's own role is fixed.
- Owners and editors invite, never to a role above their own; on a workspace session only the
  workspace's owners and admins do. A join link is single use and expires; one addressed to an
  email works only for the account with that email. A link works only while its maker may
  still grant its role, and a maker's links are revoked when they are removed or demoted.
- Participants' emails are shown to the session's owners and to each person themself only.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg

from auth.roles import Role
from auth.tokens import new_opaque_token, token_digest
from collab.model import SessionRole
from collab.sessions.events import SessionEvents
from collab.sessions.scopes import SessionScopes
from collab.sessions.store import SessionStore, invitation_json, participant_json, session_json
from collab.sessions.validation import (
    ParticipantPatch,
    SessionInput,
    SessionInvitationInput,
    SessionPatch,
)
from kernel.audit import AuditEntry, AuditLog
from kernel.context import Actor
from kernel.errors import Conflict, Forbidden, Gone, NotFound, RateLimited
from kernel.sql import Executor


class WorkspaceRoleOf(Protocol):
    """Answers "what role has this user in that workspace?" (auth's WorkspaceAccess.role_of),
    on `db` when given, so that a transaction sees its own change."""

    async def __call__(
        self, ws_id: uuid.UUID, user_id: uuid.UUID, db: Executor | None = None
    ) -> Role | None: ...


# What else stops when a session is archived (its deployments).
SessionArchived = Callable[[uuid.UUID], Awaitable[None]]
# "Add to this workspace's analytics counters" (the workspace document)
WorkspaceCounter = Callable[[uuid.UUID, dict[str, int]], Awaitable[None]]
# What to do once a transaction has committed.
AfterCommit = Callable[[], Awaitable[None]]

ARCHIVED = "The session is archived."


def _socket_role(row: asyncpg.Record) -> SessionRole:
    """What an open socket may do: the effective role, read-only while archived."""
    return SessionRole.VIEWER if row["status"] == "archived" else SessionRole(row["role"])


def _quota_reached(limit: int) -> RateLimited:
    refusal = RateLimited(60)
    refusal.message = (
        f"You already own {limit} sessions that are not archived; archive or delete one first."
    )
    return refusal


class SessionService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: SessionStore,
        scopes: SessionScopes,
        audit: AuditLog,
        events: SessionEvents,
        base_url: str,
        workspace_role_of: WorkspaceRoleOf,
        count_for_workspace: WorkspaceCounter,
        on_archived: SessionArchived,
        max_sessions_per_user: int = 100,
    ) -> None:
        self._pool = pool
        self._store = store
        self._audit = audit
        # Where a session's files live, and which sessions see a document.
        self.document_key = scopes.document_key
        self.sessions_sharing = scopes.sessions_sharing
        self._events = events
        self._base_url = base_url
        self._workspace_role_of = workspace_role_of
        self._count_for_workspace = count_for_workspace
        self._max_sessions = max_sessions_per_user
        self._on_archived = on_archived

    # -- the questions every check asks ------------------------------------------------------

    async def role_of(self, session_id: uuid.UUID, user_id: uuid.UUID) -> SessionRole | None:
        """What a socket of this user may do in the session (None: it may not connect).

        Asked on every connection. A workspace member opening a session of that workspace
        for the first time becomes a participant here.
        """
        row = await self._store.with_role(self._pool, session_id, user_id)
        if row is None or row["role"] is None:
            return None
        if row["not_joined"]:
            await self._store.add_participant(self._pool, session_id, user_id)
        return _socket_role(row)

    async def require(
        self,
        db: Any,
        actor: Actor,
        session_id: uuid.UUID,
        minimum: SessionRole,
        *,
        even_if_archived: bool = False,
    ) -> tuple[asyncpg.Record, SessionRole]:
        """The session and the actor's effective role in it, or NotFound/Forbidden/Conflict.

        Every HTTP check goes through here. Asking for editor or owner is asking to change
        the session, which an archived one refuses (409) unless `even_if_archived`.
        """
        row = await self._store.with_role(db, session_id, actor.user_id)
        if row is None or row["role"] is None:
            raise NotFound("No such session.")
        role = SessionRole(row["role"])
        if role.rank < minimum.rank:
            raise Forbidden(f"This needs the {minimum.value} role in the session.")
        if minimum.can_write and row["status"] == "archived" and not even_if_archived:
            raise Conflict(ARCHIVED)
        return row, role

    async def authorize(
        self, actor: Actor, session_id: uuid.UUID, minimum: SessionRole
    ) -> SessionRole:
        _, role = await self.require(self._pool, actor, session_id, minimum)
        return role

    async def _require_inviter(
        self, db: Any, actor: Actor, session_id: uuid.UUID, *, even_if_archived: bool = False
    ) -> tuple[asyncpg.Record, SessionRole]:
        row, role = await self.require(
            db, actor, session_id, SessionRole.EDITOR, even_if_archived=even_if_archived
        )
        if row["ws_id"] is not None and row["ws_role"] not in (Role.OWNER, Role.ADMIN):
            # A link to a workspace's session opens the workspace's files to an outsider.
            raise Forbidden(
                "On a workspace's session, only the workspace's owners and admins invite."
            )
        return row, role

    async def _audit_session(
        self, conn: Any, actor: Actor, action: str, session_id: uuid.UUID, **values: Any
    ) -> None:
        await self._audit.record(
            conn,
            AuditEntry(action, actor.user_id, None, "session", str(session_id), **values),
            actor.client,
        )

    async def _push_access(self, session_id: uuid.UUID, user_ids: list[uuid.UUID]) -> None:
        """Tell these people's open sockets in the session, on every process, what they may
        do now: write or only read, or nothing (disconnected)."""
        for user_id in user_ids:
            row = await self._store.with_role(self._pool, session_id, user_id)
            if row is None or row["role"] is None:
                await self._events.removed(session_id, user_id)
            else:
                await self._events.role_changed(session_id, user_id, _socket_role(row).value)

    # -- sessions ---------------------------------------------------------------------------

    async def create(self, actor: Actor, data: SessionInput) -> dict[str, Any]:
        if data.ws_id is not None:
            ws_role = await self._workspace_role_of(data.ws_id, actor.user_id)
            if ws_role is None:
                raise NotFound("No such workspace.")
            if not ws_role.at_least(Role.EDITOR):
                raise Forbidden("Opening a session on a workspace needs its editor role.")
        async with self._pool.acquire() as conn, conn.transaction():
            if await self._store.owned_live_count(conn, actor.user_id) >= self._max_sessions:
                raise _quota_reached(self._max_sessions)
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
            row, _ = await self.require(
                conn, actor, session_id, SessionRole.OWNER, even_if_archived=True
            )
            # An archived session changes only by being set active again (with other fields
            # in the same request, if the owner likes).
            unarchiving = changes.get("status") == "active"
            if row["status"] == "archived" and not unarchiving and set(changes) - {"status"}:
                raise Conflict(ARCHIVED)
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
        if changes.get("status", row["status"]) != row["status"]:
            # Archived: every open socket reads only; active again: each writes as before.
            await self._push_access(session_id, await self._store.user_ids(self._pool, session_id))
        if changes.get("status") == "archived":
            await self._on_archived(session_id)
        if changes:
            await self._events.emit(session_id, "session:updated", session | {"role": None})
        return session

    async def delete(self, actor: Actor, session_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            row, _ = await self.require(
                conn, actor, session_id, SessionRole.OWNER, even_if_archived=True
            )
            await self._audit_session(
                conn, actor, "session.deleted", session_id, old_value={"name": row["name"]}
            )
            await self._store.delete(conn, session_id)
        await self._events.removed(session_id, None)

    # -- participants -----------------------------------------------------------------------

    async def participants(self, actor: Actor, session_id: uuid.UUID) -> list[dict[str, Any]]:
        _, role = await self.require(self._pool, actor, session_id, SessionRole.VIEWER)
        return await self._participants_seen_by(session_id, actor.user_id, role)

    async def participants_for(
        self, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> list[dict[str, Any]]:
        """The participant list as this user may see it (the Socket.IO `session:join` ack)."""
        row = await self._store.with_role(self._pool, session_id, user_id)
        if row is None or row["role"] is None:
            return []
        return await self._participants_seen_by(session_id, user_id, SessionRole(row["role"]))

    async def _participants_seen_by(
        self, session_id: uuid.UUID, user_id: uuid.UUID, role: SessionRole
    ) -> list[dict[str, Any]]:
        return [
            participant_json(r, show_email=role is SessionRole.OWNER or r["user_id"] == user_id)
            for r in await self._store.participants(self._pool, session_id)
        ]

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
            await self._store.set_participant_role(conn, participant_id, data.role)
            await self._store.revoke_links_beyond(conn, target["user_id"], session_id=session_id)
            await self._audit_session(
                conn,
                actor,
                "participant.role_changed",
                session_id,
                old_value={"role": target["role"]},
                new_value={"role": data.role, "user_id": str(target["user_id"])},
            )
            rows = await self._store.participants(conn, session_id)
        updated = next(r for r in rows if r["participant_id"] == participant_id)
        await self._push_access(session_id, [target["user_id"]])
        await self._events.emit(
            session_id, "participant:updated", participant_json(updated, show_email=False)
        )
        return participant_json(updated, show_email=True)

    async def remove(self, actor: Actor, session_id: uuid.UUID, participant_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            # Anyone may leave, even an archived session; removing others is a change.
            row, role = await self.require(conn, actor, session_id, SessionRole.VIEWER)
            target = await self._store.participant(conn, session_id, participant_id)
            if target is None:
                raise NotFound("No such participant.")
            leaving = target["user_id"] == actor.user_id
            if not leaving and role is not SessionRole.OWNER:
                raise Forbidden("Only the owner removes participants.")
            if not leaving and row["status"] == "archived":
                raise Conflict(ARCHIVED)
            if target["role"] == SessionRole.OWNER:
                raise Conflict("The owner cannot leave their own session; delete it instead.")
            await self._store.remove_participant(conn, participant_id)
            await self._store.revoke_links_of(conn, session_id, target["user_id"])
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

    # -- when a workspace membership changes ---------------------------------------------------

    async def membership_changing(
        self, conn: asyncpg.Connection, ws_id: uuid.UUID, user_id: uuid.UUID
    ) -> AfterCommit:
        """Inside the transaction that changed or ended someone's workspace membership.

        A former member loses their places in the workspace's sessions; anyone loses the
        links they may no longer hand out. The answer, run after commit, brings their open
        sockets and the sessions' members up to date.
        """
        had_place = await self._store.places_in_workspace(conn, ws_id, user_id)
        # Asked on this transaction's connection: it sees the change being made.
        is_member = await self._workspace_role_of(ws_id, user_id, conn) is not None
        if not is_member:
            await self._store.drop_workspace_rows(conn, ws_id, user_id)
        await self._store.revoke_links_beyond(conn, user_id, ws_id=ws_id)

        async def announce() -> None:
            for session_id in await self._store.of_workspace(self._pool, ws_id):
                await self._announce_access(session_id, user_id, had_place.get(session_id))

        return announce

    async def _announce_access(
        self, session_id: uuid.UUID, user_id: uuid.UUID, participant_id: uuid.UUID | None
    ) -> None:
        await self._push_access(session_id, [user_id])
        if participant_id is None:
            return
        rows = await self._store.participants(self._pool, session_id)
        mine = next((r for r in rows if r["participant_id"] == participant_id), None)
        if mine is None:
            await self._events.emit(
                session_id,
                "participant:left",
                {"participant_id": str(participant_id), "user_id": str(user_id)},
            )
        else:
            await self._events.emit(
                session_id, "participant:updated", participant_json(mine, show_email=False)
            )

    # -- invitations and join links ----------------------------------------------------------

    def join_url(self, token: str) -> str:
        return f"{self._base_url}/api/join/{token}"

    async def invite(
        self, actor: Actor, session_id: uuid.UUID, data: SessionInvitationInput
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            _, role = await self._require_inviter(conn, actor, session_id)
            if SessionRole(data.role).rank > role.rank:
                raise Forbidden("Nobody may invite to a role above their own.")
            token = new_opaque_token()
            row = await self._store.insert_invitation(
                conn,
                session_id,
                email=data.email,
                invited_by=actor.user_id,
                role=data.role,
                message=data.message,
                expires_in_hours=data.expires_in_hours,
                token_hash=token_digest(token),
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

    async def invitations(self, actor: Actor, session_id: uuid.UUID) -> list[dict[str, Any]]:
        """The session's join links, newest first (those who may invite; never the tokens)."""
        await self._require_inviter(self._pool, actor, session_id, even_if_archived=True)
        return [invitation_json(r) for r in await self._store.invitations(self._pool, session_id)]

    async def revoke(self, actor: Actor, session_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._require_inviter(conn, actor, session_id)
            revoked = await self._store.revoke_invitation(conn, session_id, invitation_id)
            if revoked is None:
                raise NotFound("No pending join link with that id in this session.")
            await self._audit_session(
                conn,
                actor,
                "session_invitation.revoked",
                session_id,
                old_value={"invitation_id": str(invitation_id), "role": revoked["role"]},
            )

    async def join(self, actor: Actor, token: str) -> dict[str, Any]:
        result: dict[str, Any] | None = None
        refusal = "This join link has expired or was already used."
        async with self._pool.acquire() as conn, conn.transaction():
            invitation = await self._store.invitation_for_redeeming(
                conn, token_digest(token), actor.user_id
            )
            if invitation is None:
                raise NotFound("No such invitation.")
            if invitation["status"] == "pending" and not invitation["expired"]:
                if invitation["session_status"] == "archived":
                    raise Conflict(ARCHIVED)  # the link stays pending for when it is active
                if await self._store.may_grant(
                    conn, invitation["session_id"], invitation["invited_by"], invitation["role"]
                ):
                    result = await self._admit(conn, actor, invitation)
                else:
                    await self._store.mark_invitation(conn, invitation["invitation_id"], "revoked")
                    refusal = "This join link was revoked: its maker may no longer grant it."
            elif invitation["status"] == "pending":
                await self._store.mark_invitation(conn, invitation["invitation_id"], "expired")
        if result is None:
            raise Gone(refusal)
        session_id = uuid.UUID(result["session"]["session_id"])
        public = {k: v for k, v in result["participant"].items() if k != "user"}
        public["user"] = {k: v for k, v in result["participant"]["user"].items() if k != "email"}
        await self._events.emit(session_id, "participant:joined", public)
        await self._push_access(session_id, [actor.user_id])
        return result

    async def _admit(
        self, conn: asyncpg.Connection, actor: Actor, invitation: asyncpg.Record
    ) -> dict[str, Any]:
        email = invitation["email"]
        if email is not None and email.lower() != invitation["user_email"].lower():
            raise Forbidden("This invitation is for someone else.")
        session_id = invitation["session_id"]
        await self._store.admit(
            conn, session_id, actor.user_id, invitation["user_email"], invitation["role"]
        )
        await self._store.mark_invitation(conn, invitation["invitation_id"], "accepted")
        await self._audit_session(
            conn,
            actor,
            "session_invitation.accepted",
            session_id,
            new_value={"role": invitation["role"]},
        )
        rows = await self._store.participants(conn, session_id)
        joined = next((r for r in rows if r["user_id"] == actor.user_id), None)
        session = await self._store.with_role(conn, session_id, actor.user_id)
        if joined is None or session is None:
            raise Forbidden("This link cannot give you access to this session.")
        return {
            "session": session_json(session),
            "participant": participant_json(joined, show_email=True),
        }
