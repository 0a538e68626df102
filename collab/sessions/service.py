"""Session decisions: who sees and changes a session, its participants and join links.

Rules:
- Only participants see a session; to anyone else it does not exist (404).
- On a session opened on a workspace, the workspace role bounds the session role at every
  check: a workspace viewer only reads, and someone who is no longer a member has no access
  (unless a join link brought them in from outside the workspace). A workspace that requires
  two-factor login refuses whoever lacks it. Changes reach open sockets at once: a removal,
  a demotion, and the rule turned on or TOTP turned off.
- An archived session is read-only for everyone: every change answers 409 until its owner
  sets it active again. What only takes access away stays possible: deleting it, leaving,
  the owner removing someone, revoking a join link.
- The owner changes, archives or deletes it, changes roles and removes people; anyone may
  leave. The owner's own role is fixed.
- Owners and editors invite, never to a role above their own; on a workspace session only the
  workspace's owners and admins do. A join link is single use and expires; one addressed to an
  email works only for the account with that email. A link works only while its maker may
  still grant its role, and a maker's links are revoked when they are removed or demoted.
- Participants' emails are shown to the session's owners and to each person themself only.
- A join link's page URL is `{links base}/join/{token}`; anyone holding the token may look
  it up (the token is the secret), but an addressed link never shows its address. A link
  addressed to an email is mailed there, and declining it (that account only) spends it; a
  link addressed to nobody cannot be declined for everyone, so declining leaves it as is.

The session tables are this package's; workspace roles and people's names and emails are
auth's, asked through `WorkspaceRoles` and `People`. The rules themselves are pure functions
in `roles.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from auth.mail import Mailer
from auth.roles import Role
from auth.tokens import new_opaque_token, token_digest
from collab.model import SessionRole
from collab.sessions.events import SessionEvents
from collab.sessions.invitation_mail import SessionInvitationMail, display_name
from collab.sessions.participants import Participant, People
from collab.sessions.roles import effective_role, may_grant, socket_role
from collab.sessions.scopes import SessionScopes
from collab.sessions.store import SessionStore, invitation_json, session_json
from collab.sessions.validation import (
    ParticipantPatch,
    SessionInput,
    SessionInvitationInput,
    SessionPatch,
)
from collab.webhooks.events import EmitWebhook, emit_nothing
from collab.workspace_documents.parts import SecretBox, render_environment, store_environment
from kernel.audit import AuditEntry, AuditLog
from kernel.background import BackgroundTasks
from kernel.context import Actor
from kernel.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from kernel.sql import Executor


class WorkspaceRoles(Protocol):
    """Who holds which role in a workspace (auth's WorkspaceAccess), asked on `db` when given,
    so that a transaction sees its own change."""

    async def role_of(
        self, ws_id: uuid.UUID, user_id: uuid.UUID, db: Executor | None = None
    ) -> Role | None: ...

    async def roles_in(
        self, ws_id: uuid.UUID, user_ids: Collection[uuid.UUID], db: Executor | None = None
    ) -> dict[uuid.UUID, Role]: ...

    async def workspaces_of(
        self, user_id: uuid.UUID, db: Executor | None = None
    ) -> dict[uuid.UUID, Role]: ...

    async def check_mfa(
        self, ws_id: uuid.UUID, user_id: uuid.UUID, db: Executor | None = None
    ) -> None:
        """Raises (403 `mfa_required`) when the workspace requires two-factor login that
        this user has not turned on."""
        ...


# What else stops when a session is archived (its deployments).
SessionArchived = Callable[[uuid.UUID], Awaitable[None]]
# "Add to this workspace's analytics counters" (the workspace document)
WorkspaceCounter = Callable[[uuid.UUID, dict[str, int]], Awaitable[None]]
# What to do once a transaction has committed.
AfterCommit = Callable[[], Awaitable[None]]

ARCHIVED = "The session is archived."

# Why a join link no longer works, by its status (410 `gone`).
_SPENT = {
    "accepted": "This invitation was already used.",
    "declined": "This invitation was declined.",
    "revoked": "This invitation was revoked.",
    "expired": "This invitation has expired.",
}
_MAKER_GONE = "This invitation was revoked: the person who made it may no longer grant it."


@dataclass(frozen=True)
class SessionAccess:
    """A session and what one person may do in it."""

    row: asyncpg.Record  # the session, and that person's participant row (or NULLs)
    role: SessionRole | None  # effective; None: no access at all
    workspace_role: Role | None

    @property
    def joined(self) -> bool:
        return self.row["participant_role"] is not None

    @property
    def in_workspace(self) -> bool:
        return self.row["ws_id"] is not None

    @property
    def archived(self) -> bool:
        return bool(self.row["status"] == "archived")

    @property
    def role_value(self) -> str | None:
        return self.role.value if self.role is not None else None


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
        links_base_url: str,
        workspaces: WorkspaceRoles,
        people: People,
        count_for_workspace: WorkspaceCounter,
        on_archived: SessionArchived,
        max_sessions_per_user: int = 100,
        *,
        mailer: Mailer | None = None,
        tasks: BackgroundTasks | None = None,
        secrets: SecretBox | None = None,
        webhooks: EmitWebhook = emit_nothing,
    ) -> None:
        """`links_base_url`: where page links point (the front-end when one is configured).
        Without a `mailer` (and the `tasks` that send in the background), addressed
        invitations are not mailed: their link is only answered to the inviter."""
        self._pool = pool
        self._store = store
        self._audit = audit
        # The read-only questions other packages ask of sessions (documents, deployments).
        self.scopes = scopes
        self.document_key = scopes.document_key
        self.sessions_sharing = scopes.sessions_sharing
        self._events = events
        self._links_base_url = links_base_url.rstrip("/")
        self._mailer = mailer
        self._tasks = tasks
        self._workspaces = workspaces
        self._people = people
        self._count_for_workspace = count_for_workspace
        self._max_sessions = max_sessions_per_user
        self._on_archived = on_archived
        # Seals the secrets of a session's environment (none can be stored without it).
        self._secrets = secrets
        # Tells a workspace's webhooks (session.created/archived, participant.joined/left).
        self._webhooks = webhooks

    # -- the questions every check asks ------------------------------------------------------

    async def _access(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> SessionAccess | None:
        """The session and this person's effective role (None: no such session). One query,
        and a second for a workspace's session (the workspace role, asked on `db`)."""
        row = await self._store.access(db, session_id, user_id)
        if row is None:
            return None
        workspace_role = None
        if row["ws_id"] is not None:
            workspace_role = await self._workspaces.role_of(row["ws_id"], user_id, db)
        role = effective_role(
            row["participant_role"],
            row["joined_via"],
            workspace_role,
            in_workspace=row["ws_id"] is not None,
        )
        return SessionAccess(row, role, workspace_role)

    async def _email_of(self, db: Executor, user_id: uuid.UUID) -> str | None:
        profile = (await self._people.profiles(db, [user_id])).get(user_id)
        return profile.email if profile is not None else None

    async def role_of(self, session_id: uuid.UUID, user_id: uuid.UUID) -> SessionRole | None:
        """What a socket of this user may do in the session (None: it may not connect).
        Raises Forbidden (`mfa_required`) when the session's workspace requires two-factor
        login the user lacks.

        Asked on every connection. A workspace member opening a session of that workspace
        for the first time becomes a participant here.
        """
        access = await self._access(self._pool, session_id, user_id)
        if access is None or access.role is None:
            return None
        if access.in_workspace:
            await self._workspaces.check_mfa(access.row["ws_id"], user_id)
        if not access.joined:
            email = await self._email_of(self._pool, user_id)
            if email is not None:
                await self._store.add_participant(self._pool, session_id, user_id, email)
        return socket_role(access.role, archived=access.archived)

    async def _require(
        self,
        db: Executor,
        actor: Actor,
        session_id: uuid.UUID,
        minimum: SessionRole,
        *,
        even_if_archived: bool = False,
    ) -> tuple[SessionAccess, SessionRole]:
        access = await self._access(db, session_id, actor.user_id)
        if access is None or access.role is None:
            raise NotFound("No such session.")
        if access.in_workspace:
            await self._workspaces.check_mfa(access.row["ws_id"], actor.user_id, db)
        if access.role.rank < minimum.rank:
            raise Forbidden(f"This needs the {minimum.value} role in the session.")
        if minimum.can_write and access.archived and not even_if_archived:
            raise Conflict(ARCHIVED)
        return access, access.role

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
        access, role = await self._require(
            db, actor, session_id, minimum, even_if_archived=even_if_archived
        )
        return access.row, role

    async def authorize(
        self, actor: Actor, session_id: uuid.UUID, minimum: SessionRole
    ) -> SessionRole:
        _, role = await self._require(self._pool, actor, session_id, minimum)
        return role

    async def _require_inviter(
        self, db: Any, actor: Actor, session_id: uuid.UUID, *, even_if_archived: bool = False
    ) -> tuple[SessionAccess, SessionRole]:
        access, role = await self._require(
            db, actor, session_id, SessionRole.EDITOR, even_if_archived=even_if_archived
        )
        if access.in_workspace and access.workspace_role not in (Role.OWNER, Role.ADMIN):
            # A link to a workspace's session opens the workspace's files to an outsider.
            raise Forbidden(
                "On a workspace's session, only the workspace's owners and admins invite."
            )
        return access, role

    async def _audit_session(
        self, conn: Any, actor: Actor, action: str, session_id: uuid.UUID, **values: Any
    ) -> None:
        """About the session; a workspace's session is also in the workspace's log (its files
        are the workspace's, and its owners and admins read that log)."""
        ws_id = await self._store.ws_id_of(conn, session_id)
        await self._audit.record(
            conn,
            AuditEntry(action, actor.user_id, ws_id, "session", str(session_id), **values),
            actor.client,
        )

    async def _lacks_mfa(self, access: SessionAccess, user_id: uuid.UUID) -> bool:
        """Whether the session's workspace requires two-factor login this user lacks."""
        if not access.in_workspace:
            return False
        try:
            await self._workspaces.check_mfa(access.row["ws_id"], user_id)
        except Forbidden:
            return True
        return False

    async def _push_access(self, session_id: uuid.UUID, user_ids: list[uuid.UUID]) -> None:
        """Tell these people's open sockets in the session, on every process, what they may
        do now: write or only read, or nothing (disconnected). Lacking the two-factor login
        the session's workspace requires is nothing, as every new connection is refused."""
        for user_id in user_ids:
            access = await self._access(self._pool, session_id, user_id)
            if access is None or access.role is None or await self._lacks_mfa(access, user_id):
                await self._events.removed(session_id, user_id)
            else:
                role = socket_role(access.role, archived=access.archived)
                await self._events.role_changed(session_id, user_id, role.value)

    # -- sessions ---------------------------------------------------------------------------

    async def create(self, actor: Actor, data: SessionInput) -> dict[str, Any]:
        if data.ws_id is not None:
            ws_role = await self._workspaces.role_of(data.ws_id, actor.user_id)
            if ws_role is None:
                raise NotFound("No such workspace.")
            if not ws_role.at_least(Role.EDITOR):
                raise Forbidden("Opening a session on a workspace needs its editor role.")
            await self._workspaces.check_mfa(data.ws_id, actor.user_id)
        async with self._pool.acquire() as conn, conn.transaction():
            if await self._store.owned_live_count(conn, actor.user_id) >= self._max_sessions:
                raise _quota_reached(self._max_sessions)
            email = await self._email_of(conn, actor.user_id)
            if email is None:
                raise Unauthenticated("The account no longer exists.")
            row = await self._store.create(conn, actor.user_id, email, data.model_dump())
            await self._audit_session(
                conn, actor, "session.created", row["session_id"], new_value=data.model_dump()
            )
        session = session_json(row, row["role"])
        if data.ws_id is not None:
            await self._count_for_workspace(data.ws_id, {"sessions": 1})
            await self._webhooks("session.created", data.ws_id, session | {"role": None}, None)
        return session

    async def invitations_involving(self, user_id: uuid.UUID, email: str) -> list[dict[str, Any]]:
        """The session invitations a person made or was sent: their data export."""
        return await self._store.invitations_involving(self._pool, user_id, email)

    async def list_for(self, actor: Actor) -> list[dict[str, Any]]:
        """The sessions the actor may see (two queries: their rows, their workspace roles)."""
        rows = await self._store.for_user(self._pool, actor.user_id)
        workspace_roles = {}
        if any(r["ws_id"] is not None for r in rows):
            workspace_roles = await self._workspaces.workspaces_of(actor.user_id)
        listed = []
        for row in rows:
            role = effective_role(
                row["participant_role"],
                row["joined_via"],
                workspace_roles.get(row["ws_id"]),
                in_workspace=row["ws_id"] is not None,
            )
            if role is not None:
                listed.append(session_json(row, role.value))
        return listed

    async def list_in_workspace(self, actor: Actor, ws_id: uuid.UUID) -> list[dict[str, Any]]:
        """A workspace's sessions, for its members (viewer and up), archived ones included,
        each with the member's effective role, shaped as `list_for` shapes them. Anyone
        else: 404, as a workspace they may not see does not exist."""
        workspace_role = await self._workspaces.role_of(ws_id, actor.user_id)
        if workspace_role is None:
            raise NotFound("No such workspace.")
        await self._workspaces.check_mfa(ws_id, actor.user_id)  # as each session would
        listed = []
        for row in await self._store.in_workspace(self._pool, ws_id, actor.user_id):
            role = effective_role(
                row["participant_role"], row["joined_via"], workspace_role, in_workspace=True
            )
            if role is not None:
                listed.append(session_json(row, role.value))
        return listed

    async def get(self, actor: Actor, session_id: uuid.UUID) -> dict[str, Any]:
        """The session, with its environment (secrets masked) for the one asking."""
        row, role = await self.require(self._pool, actor, session_id, SessionRole.VIEWER)
        environment = await self._store.environment(self._pool, session_id)
        return session_json(row, role.value) | {"environment": render_environment(environment)}

    async def environment_of(self, session_id: uuid.UUID) -> dict[str, Any]:
        """The stored form (secrets sealed), for the session's deployments alone."""
        return await self._store.environment(self._pool, session_id)

    async def update(
        self, actor: Actor, session_id: uuid.UUID, patch: SessionPatch
    ) -> dict[str, Any]:
        changes = {
            k: v
            for k, v in patch.model_dump(exclude_unset=True, exclude={"environment"}).items()
            if not (k in ("name", "language", "is_dynamic", "status") and v is None)
        }
        async with self._pool.acquire() as conn, conn.transaction():
            row, _ = await self.require(
                conn, actor, session_id, SessionRole.OWNER, even_if_archived=True
            )
            # An archived session changes only by being set active again (with other fields
            # in the same request, if the owner likes).
            unarchiving = changes.get("status") == "active"
            touched = set(changes) | ({"environment"} if patch.environment is not None else set())
            if row["status"] == "archived" and not unarchiving and touched - {"status"}:
                raise Conflict(ARCHIVED)
            if row["status"] == "archived" and unarchiving:
                # Active again counts against its owner's quota, as a new session does
                # (under the same lock), or archive-create-unarchive would have no end.
                live = await self._store.owned_live_count(conn, row["owner_id"])
                if live >= self._max_sessions:
                    raise _quota_reached(self._max_sessions)
            environment = await self._store.environment(conn, session_id)
            old_value = {k: row[k] for k in changes}
            new_value = dict(changes)
            stored = dict(changes)
            if patch.environment is not None:
                if self._secrets is None:
                    raise Unavailable("Session environments cannot be stored here.")
                # Secrets sealed; a masked secret keeps its stored value. Only the masked
                # form is audited or answered.
                old_value["environment"] = render_environment(environment)
                environment = store_environment(patch.environment, environment, self._secrets)
                stored["environment"] = environment
                new_value["environment"] = render_environment(environment)
            if stored:
                await self._store.update(conn, session_id, stored)
                await self._audit_session(
                    conn,
                    actor,
                    "session.updated",
                    session_id,
                    old_value=old_value,
                    new_value=new_value,
                )
            fresh = await self._access(conn, session_id, actor.user_id)
        assert fresh is not None
        session = session_json(fresh.row, fresh.role_value)
        if changes.get("status", row["status"]) != row["status"]:
            # Archived: every open socket reads only; active again: each writes as before.
            await self._push_access(session_id, await self._store.user_ids(self._pool, session_id))
        if changes.get("status") == "archived":
            await self._on_archived(session_id)
            if row["ws_id"] is not None:
                await self._webhooks(
                    "session.archived", row["ws_id"], session | {"role": None}, None
                )
        if changes:
            await self._events.emit(session_id, "session:updated", session | {"role": None})
        return session | {"environment": render_environment(environment)}

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

    async def of_workspace(self, ws_id: uuid.UUID) -> list[uuid.UUID]:
        """The workspace's sessions (asked before the workspace is deleted: they go with it)."""
        return await self._store.of_workspace(self._pool, ws_id)

    async def deleted_with_workspace(self, session_ids: Collection[uuid.UUID]) -> None:
        """These sessions were deleted with their workspace: cut off every socket in them, on
        every process, as deleting one session does."""
        for session_id in session_ids:
            await self._events.removed(session_id, None)

    # -- participants -----------------------------------------------------------------------

    async def _participants(self, db: Executor, session_id: uuid.UUID) -> list[Participant]:
        """Everyone with access to the session, each with their effective role, in join order.

        Three queries at most, whatever the number of people: the rows, the workspace roles
        of a workspace's session, the profiles.
        """
        rows = await self._store.participants(db, session_id)
        if not rows:
            return []
        ws_id = rows[0]["ws_id"]
        user_ids = [r["user_id"] for r in rows]
        workspace_roles = await self._workspaces.roles_in(ws_id, user_ids, db) if ws_id else {}
        with_access: list[tuple[asyncpg.Record, SessionRole]] = []
        for row in rows:
            role = effective_role(
                row["role"],
                row["joined_via"],
                workspace_roles.get(row["user_id"]),
                in_workspace=ws_id is not None,
            )
            if role is not None:
                with_access.append((row, role))
        profiles = await self._people.profiles(db, [row["user_id"] for row, _ in with_access])
        # A participant whose account is gone by now is left out, as the join on users did.
        return [
            Participant(row, role, profiles[row["user_id"]])
            for row, role in with_access
            if row["user_id"] in profiles
        ]

    async def _participant(
        self, db: Executor, session_id: uuid.UUID, participant_id: uuid.UUID
    ) -> asyncpg.Record | None:
        """A participant with access, with the role their row grants (before any bound)."""
        row = await self._store.participant(db, session_id, participant_id)
        if row is None:
            return None
        workspace_role = None
        if row["ws_id"] is not None:
            workspace_role = await self._workspaces.role_of(row["ws_id"], row["user_id"], db)
        role = effective_role(
            row["role"], row["joined_via"], workspace_role, in_workspace=row["ws_id"] is not None
        )
        return row if role is not None else None

    async def participants(self, actor: Actor, session_id: uuid.UUID) -> list[dict[str, Any]]:
        _, role = await self.require(self._pool, actor, session_id, SessionRole.VIEWER)
        return await self._participants_seen_by(session_id, actor.user_id, role)

    async def participants_for(
        self, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> list[dict[str, Any]]:
        """The participant list as this user may see it (the Socket.IO `session:join` ack)."""
        access = await self._access(self._pool, session_id, user_id)
        if access is None or access.role is None:
            return []
        return await self._participants_seen_by(session_id, user_id, access.role)

    async def _participants_seen_by(
        self, session_id: uuid.UUID, user_id: uuid.UUID, role: SessionRole
    ) -> list[dict[str, Any]]:
        return [
            p.json(show_email=role is SessionRole.OWNER or p.user_id == user_id)
            for p in await self._participants(self._pool, session_id)
        ]

    async def present(self, session_id: uuid.UUID, user_id: uuid.UUID, present: bool) -> None:
        """Someone's first socket arrived in the session (True), or their last one left."""
        await self._store.set_active(self._pool, session_id, user_id, present)

    async def seen_by_members(
        self, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> dict[str, Any] | None:
        """This person as every member is shown them (no email); None without access."""
        mine = (p for p in await self._participants(self._pool, session_id) if p.user_id == user_id)
        found = next(mine, None)
        return found.json(show_email=False) if found is not None else None

    async def set_role(
        self, actor: Actor, session_id: uuid.UUID, participant_id: uuid.UUID, data: ParticipantPatch
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._require(conn, actor, session_id, SessionRole.OWNER)
            target = await self._participant(conn, session_id, participant_id)
            if target is None:
                raise NotFound("No such participant.")
            if target["role"] == SessionRole.OWNER:
                raise Conflict("The owner's role cannot change.")
            await self._store.set_participant_role(conn, participant_id, data.role)
            await self._revoke_links_beyond(conn, target["user_id"], session_id=session_id)
            await self._audit_session(
                conn,
                actor,
                "participant.role_changed",
                session_id,
                old_value={"role": target["role"]},
                new_value={"role": data.role, "user_id": str(target["user_id"])},
            )
            rows = await self._participants(conn, session_id)
        updated = next(p for p in rows if p.participant_id == participant_id)
        await self._push_access(session_id, [target["user_id"]])
        await self._events.emit(session_id, "participant:updated", updated.json(show_email=False))
        return updated.json(show_email=True)

    async def remove(self, actor: Actor, session_id: uuid.UUID, participant_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            # Anyone may leave, and the owner may remove people, even from an archived session:
            # both only take access away (unarchiving first would reopen writes for everyone).
            access, role = await self._require(conn, actor, session_id, SessionRole.VIEWER)
            target = await self._participant(conn, session_id, participant_id)
            if target is None:
                raise NotFound("No such participant.")
            leaving = target["user_id"] == actor.user_id
            if not leaving and role is not SessionRole.OWNER:
                raise Forbidden("Only the owner removes participants.")
            if target["role"] == SessionRole.OWNER:
                raise Conflict("The owner cannot leave their own session; delete it instead.")
            if access.in_workspace and await self._row_restricts(conn, access, target):
                raise Conflict(
                    "A workspace member has a place in its sessions without this one, with "
                    "more than the role this session gives them: removing it would raise "
                    "their role. Change their role in the workspace instead."
                )
            await self._store.remove_participant(conn, participant_id)
            await self._store.revoke_links_of(conn, session_id, target["user_id"])
            await self._audit_session(
                conn,
                actor,
                "participant.left" if leaving else "participant.removed",
                session_id,
                old_value={"user_id": str(target["user_id"]), "role": target["role"]},
            )
        left = {"participant_id": str(participant_id), "user_id": str(target["user_id"])}
        await self._events.removed(session_id, target["user_id"])
        await self._events.emit(session_id, "participant:left", left)
        if access.row["ws_id"] is not None:
            await self._webhooks(
                "participant.left",
                access.row["ws_id"],
                left | {"session_id": str(session_id)},
                None,
            )

    async def _row_restricts(
        self, db: Executor, access: SessionAccess, target: asyncpg.Record
    ) -> bool:
        """Whether this participant row of a workspace session holds its person below what
        their workspace membership alone would give them (an owner's demotion to viewer):
        without the row they would be back with more."""
        workspace_role = await self._workspaces.role_of(access.row["ws_id"], target["user_id"], db)
        with_row = effective_role(
            target["role"], target["joined_via"], workspace_role, in_workspace=True
        )
        without = effective_role(None, None, workspace_role, in_workspace=True)
        return with_row is not None and without is not None and without.rank > with_row.rank

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
        is_member = await self._workspaces.role_of(ws_id, user_id, conn) is not None
        if not is_member:
            await self._store.drop_workspace_rows(conn, ws_id, user_id)
        await self._revoke_links_beyond(conn, user_id, ws_id=ws_id)

        async def announce() -> None:
            for session_id in await self._store.of_workspace(self._pool, ws_id):
                await self._announce_access(session_id, user_id, had_place.get(session_id), ws_id)

        return announce

    async def workspace_rule_changed(self, ws_id: uuid.UUID) -> None:
        """After commit: the workspace now requires two-factor login. Whoever lacks it is
        cut off from its sessions' open sockets, as a removal cuts them off (their places
        stay: they come back once TOTP is on)."""
        for session_id in await self._store.of_workspace(self._pool, ws_id):
            await self._push_access(session_id, await self._store.user_ids(self._pool, session_id))

    async def mfa_turned_off(self, user_id: uuid.UUID) -> None:
        """After commit: this person turned two-factor login off. Their open sockets in the
        sessions of workspaces that require it are cut off (members, and those a join link
        brought in from outside the workspace, alike)."""
        for row in await self._store.for_user(self._pool, user_id):
            if row["ws_id"] is not None:
                await self._push_access(row["session_id"], [user_id])

    async def _announce_access(
        self,
        session_id: uuid.UUID,
        user_id: uuid.UUID,
        participant_id: uuid.UUID | None,
        ws_id: uuid.UUID,
    ) -> None:
        await self._push_access(session_id, [user_id])
        if participant_id is None:
            return
        rows = await self._participants(self._pool, session_id)
        mine = next((p for p in rows if p.participant_id == participant_id), None)
        if mine is None:
            left = {"participant_id": str(participant_id), "user_id": str(user_id)}
            await self._events.emit(session_id, "participant:left", left)
            await self._webhooks(
                "participant.left", ws_id, left | {"session_id": str(session_id)}, None
            )
        else:
            await self._events.emit(session_id, "participant:updated", mine.json(show_email=False))

    # -- invitations and join links ----------------------------------------------------------

    async def _may_grant(
        self, db: Executor, session_id: uuid.UUID, user_id: uuid.UUID | None, role: str
    ) -> bool:
        """Whether this person may hand out `role` in the session now (invite or redeem)."""
        if user_id is None:
            return False  # the link's maker deleted their account
        access = await self._access(db, session_id, user_id)
        if access is None:
            return False
        return may_grant(
            access.role, access.workspace_role, in_workspace=access.in_workspace, granted=role
        )

    async def _revoke_links_beyond(
        self,
        db: Executor,
        user_id: uuid.UUID,
        *,
        session_id: uuid.UUID | None = None,
        ws_id: uuid.UUID | None = None,
    ) -> int:
        """Revoke the pending links this person made (in one session, or in every session of
        a workspace) that they may no longer hand out. Asked on `db`: the transaction that
        changed their role sees its change."""
        links = await self._store.pending_links_by(db, user_id, session_id=session_id, ws_id=ws_id)
        workspace_roles = {
            w: await self._workspaces.role_of(w, user_id, db)
            for w in {link["ws_id"] for link in links if link["ws_id"] is not None}
        }
        beyond = []
        for link in links:
            in_workspace = link["ws_id"] is not None
            workspace_role = workspace_roles.get(link["ws_id"])
            role = effective_role(
                link["participant_role"],
                link["joined_via"],
                workspace_role,
                in_workspace=in_workspace,
            )
            if not may_grant(role, workspace_role, in_workspace=in_workspace, granted=link["role"]):
                beyond.append(link["invitation_id"])
        return await self._store.revoke_links(db, beyond)

    def join_url(self, token: str) -> str:
        """The page a browser opens (it shows the invitation, then accepts or declines)."""
        return f"{self._links_base_url}/join/{token}"

    async def invite(
        self, actor: Actor, session_id: uuid.UUID, data: SessionInvitationInput
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            access, role = await self._require_inviter(conn, actor, session_id)
            if SessionRole(data.role).rank > role.rank:
                raise Forbidden("Nobody may invite to a role above their own.")
            inviter = (await self._people.profiles(conn, [actor.user_id])).get(actor.user_id)
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
        if data.email is not None and inviter is not None:
            self._mail(
                SessionInvitationMail(
                    to=data.email,
                    inviter=display_name(inviter),
                    session_name=access.row["name"],
                    role=data.role,
                    message=data.message,
                    link=self.join_url(token),
                    expires_at=row["expires_at"],
                )
            )
        return {
            "invitation_id": str(row["invitation_id"]),
            "token": token,
            "join_url": self.join_url(token),
            "expires_at": row["expires_at"].isoformat(),
        }

    @property
    def mails_invitations(self) -> bool:
        """Whether addressed invitations are mailed (a mailer and a task runner were given)."""
        return self._mailer is not None and self._tasks is not None

    def _mail(self, invitation: SessionInvitationMail) -> None:
        """Send in the background: a slow mail server never holds up the inviter."""
        if self._mailer is None or self._tasks is None:
            return
        self._tasks.spawn(self._mailer.send(invitation.mail()), "mail:session-invitation")

    async def _usable(self, db: Executor, invitation: asyncpg.Record) -> str | None:
        """Why this link no longer works (the 410 message), None while it does."""
        if invitation["status"] != "pending":
            return _SPENT.get(invitation["status"], _SPENT["accepted"])
        if invitation["expired"]:
            return _SPENT["expired"]
        if not await self._may_grant(
            db, invitation["session_id"], invitation["invited_by"], invitation["role"]
        ):
            return _MAKER_GONE
        return None

    async def look_up(self, token: str) -> dict[str, Any]:
        """What a join link's page shows before anyone accepts it; no login needed (the
        256-bit token is the secret). Never the address a link is bound to."""
        invitation = await self._store.invitation_by_token(self._pool, token_digest(token))
        if invitation is None:
            raise NotFound("No such invitation.")
        refusal = await self._usable(self._pool, invitation)
        if refusal is not None:
            raise Gone(refusal)
        maker_id = invitation["invited_by"]
        maker = (await self._people.profiles(self._pool, [maker_id])).get(maker_id)
        if maker is None:  # their account went since `_usable` asked
            raise Gone(_MAKER_GONE)
        return {
            "session": {
                "session_id": str(invitation["session_id"]),
                "name": invitation["session_name"],
                "language": invitation["session_language"],
                "status": invitation["session_status"],
            },
            "role": invitation["role"],
            "invited_by": {
                "user_id": str(maker.user_id),
                "username": maker.username,
                "display_name": display_name(maker),
            },
            "expires_at": invitation["expires_at"].isoformat(),
            "message": invitation["message"],
            "email_bound": invitation["email"] is not None,
        }

    async def decline(self, actor: Actor, token: str) -> None:
        """Say no to a join link. One addressed to an email is spent by its addressee's no
        (anyone else: 403); a link addressed to nobody may reach others too, so it stays as
        it is. Either way the answer is audited."""
        async with self._pool.acquire() as conn, conn.transaction():
            invitation = await self._store.invitation_for_redeeming(conn, token_digest(token))
            email = await self._email_of(conn, actor.user_id)
            if invitation is None or email is None:
                raise NotFound("No such invitation.")
            refusal = await self._usable(conn, invitation)
            if refusal is not None:
                raise Gone(refusal)
            addressed_to = invitation["email"]
            if addressed_to is not None:
                if addressed_to.lower() != email.lower():
                    raise Forbidden("This invitation is for someone else.")
                await self._store.mark_invitation(conn, invitation["invitation_id"], "declined")
            await self._audit_session(
                conn,
                actor,
                "session_invitation.declined",
                invitation["session_id"],
                new_value={
                    "invitation_id": str(invitation["invitation_id"]),
                    "spent": addressed_to is not None,
                },
            )

    async def invitations(self, actor: Actor, session_id: uuid.UUID) -> list[dict[str, Any]]:
        """The session's join links, newest first (those who may invite; never the tokens)."""
        await self._require_inviter(self._pool, actor, session_id, even_if_archived=True)
        return [invitation_json(r) for r in await self._store.invitations(self._pool, session_id)]

    async def revoke(self, actor: Actor, session_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            # Even on an archived session: revoking only takes access away.
            await self._require_inviter(conn, actor, session_id, even_if_archived=True)
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
        async with self._pool.acquire() as conn, conn.transaction():
            invitation = await self._store.invitation_for_redeeming(conn, token_digest(token))
            email = await self._email_of(conn, actor.user_id)
            if invitation is None or email is None:
                raise NotFound("No such invitation.")
            refusal = await self._usable(conn, invitation)
            if refusal is None:
                if invitation["session_status"] == "archived":
                    raise Conflict(ARCHIVED)  # the link stays pending for when it is active
                result = await self._admit(conn, actor, invitation, email)
            elif invitation["status"] == "pending":
                # Record what the look-up found, so listings say it too.
                gone = "revoked" if refusal == _MAKER_GONE else "expired"
                await self._store.mark_invitation(conn, invitation["invitation_id"], gone)
        if result is None:
            raise Gone(refusal or _SPENT["accepted"])
        session_id = uuid.UUID(result["session"]["session_id"])
        public = {k: v for k, v in result["participant"].items() if k != "user"}
        public["user"] = {k: v for k, v in result["participant"]["user"].items() if k != "email"}
        await self._events.emit(session_id, "participant:joined", public)
        await self._push_access(session_id, [actor.user_id])
        ws_id = result["session"].get("ws_id")
        if ws_id is not None:
            await self._webhooks(
                "participant.joined",
                uuid.UUID(ws_id),
                public | {"session_id": str(session_id)},
                None,
            )
        return result

    async def _admit(
        self, conn: asyncpg.Connection, actor: Actor, invitation: asyncpg.Record, email: str
    ) -> dict[str, Any]:
        """Make the actor (whose account has `email`) a participant through this link."""
        addressed_to = invitation["email"]
        if addressed_to is not None and addressed_to.lower() != email.lower():
            raise Forbidden("This invitation is for someone else.")
        session_id = invitation["session_id"]
        await self._store.admit(conn, session_id, actor.user_id, email, invitation["role"])
        await self._store.mark_invitation(conn, invitation["invitation_id"], "accepted")
        await self._audit_session(
            conn,
            actor,
            "session_invitation.accepted",
            session_id,
            new_value={"role": invitation["role"]},
        )
        rows = await self._participants(conn, session_id)
        joined = next((p for p in rows if p.user_id == actor.user_id), None)
        session = await self._access(conn, session_id, actor.user_id)
        if joined is None or session is None:
            raise Forbidden("This link cannot give you access to this session.")
        return {
            "session": session_json(session.row, session.role_value),
            "participant": joined.json(show_email=True),
        }
