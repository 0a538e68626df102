"""Workspace invitations: by email or user id, a single-use link token stored as a hash.

Statuses: pending → accepted | declined | revoked | expired. Only the invited person (the
user named, or the account holding the invited email) may accept or decline; accepting never
lowers a role someone already has. An invitation works only while its sender may still invite
to its role (removing or demoting the sender revokes it).

Its link is the page `{links base}/invitations/{token}`, which a browser opens: anyone
holding the token may look the invitation up without logging in (the token is the secret),
and is shown who invites to which workspace with which role, never the invited address.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from auth.mail import Mail, Mailer
from auth.roles import Role
from auth.tokens import new_opaque_token, token_digest
from auth.users import User, UserStore
from auth.workspace_inputs import InvitationInput
from auth.workspace_store import RANK_SQL
from auth.workspaces import WorkspaceService
from kernel.audit import AuditEntry, AuditLog
from kernel.background import BackgroundTasks
from kernel.context import Actor
from kernel.errors import Conflict, Forbidden, Gone, NotFound, ValidationFailed

# Why an invitation no longer works, by its status (410 `gone`).
_GONE = {
    "accepted": "This invitation was already used.",
    "declined": "This invitation was declined.",
    "revoked": "This invitation was revoked.",
    "expired": "This invitation has expired.",
}
_SENDER_GONE = "This invitation was revoked: its sender may no longer invite to it."


def _display_name(first_name: str | None, last_name: str | None, username: str) -> str:
    """How people are named to others: their full name when they gave one, else username."""
    return " ".join(part for part in (first_name, last_name) if part).strip() or username


def _invitation_mail(
    to: str, inviter: User, workspace_name: str, role: Role, link: str, row: asyncpg.Record
) -> Mail:
    """Who invites to which workspace with which role, and the page that answers it."""
    name = _display_name(inviter.first_name, inviter.last_name, inviter.username)
    return Mail(
        to,
        f'{name} invited you to the workspace "{workspace_name}"',
        f'{name} invited you to join the workspace "{workspace_name}" as {role.value}.\n\n'
        "Open the invitation to accept or decline it:\n\n"
        f"{link}\n\n"
        f"The link works until {row['expires_at']:%Y-%m-%d %H:%M} UTC, and only for the "
        f"account with the address {to}.\n",
    )


class InvitationService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        workspaces: WorkspaceService,
        users: UserStore,
        audit: AuditLog,
        mailer: Mailer,
        tasks: BackgroundTasks,
        links_base_url: str,
        ttl: timedelta,
    ) -> None:
        self._pool = pool
        self._workspaces = workspaces
        self._users = users
        self._audit = audit
        self._mailer = mailer
        self._tasks = tasks
        self._links_base_url = links_base_url.rstrip("/")
        self._ttl = ttl

    def accept_url(self, token: str) -> str:
        """The page a browser opens (it shows the invitation, then accepts or declines)."""
        return f"{self._links_base_url}/invitations/{token}"

    async def invite(self, actor: Actor, ws_id: uuid.UUID, data: InvitationInput) -> dict[str, Any]:
        if (data.email is None) == (data.user_id is None):
            raise ValidationFailed({"email": "give exactly one of email or user_id"})
        role = Role(data.role)
        async with self._pool.acquire() as conn, conn.transaction():
            workspace, actor_role = await self._workspaces.require(conn, actor, ws_id, Role.ADMIN)
            assert actor_role is not None
            if role.rank > actor_role.rank:
                raise Forbidden("Nobody may invite to a role above their own.")
            invitee = None
            if data.user_id is not None:
                invitee = await self._users.by_id(conn, data.user_id)
                if invitee is None:
                    raise NotFound("No such user.")
            elif data.email is not None:
                invitee = await self._users.by_email(conn, data.email)
            email = invitee.email if invitee else data.email
            inviter = await self._users.by_id(conn, actor.user_id)
            if invitee is not None and await self._workspaces.role_of(ws_id, invitee.user_id):
                raise Conflict("That user is already a member.")
            token = new_opaque_token()
            row = await conn.fetchrow(
                """INSERT INTO workspace_invitations (ws_id, invited_by, invited_user_id,
                       invited_email, role, expires_at, token_hash)
                   VALUES ($1, $2, $3, $4, $5, now() + $6::interval, $7)
                   RETURNING invitation_id, expires_at""",
                ws_id,
                actor.user_id,
                invitee.user_id if invitee else None,
                email,
                role.value,
                self._ttl,
                token_digest(token),
            )
            await self._audit.record(
                conn,
                AuditEntry(
                    "invitation.sent",
                    actor.user_id,
                    ws_id,
                    "invitation",
                    str(row["invitation_id"]),
                    new_value={"email": email, "role": role.value},
                ),
                actor.client,
            )
        if email and inviter is not None:
            self._tasks.spawn(
                self._mailer.send(
                    _invitation_mail(
                        email, inviter, workspace["name"], role, self.accept_url(token), row
                    )
                ),
                "mail:invitation",
            )
        return {
            "invitation_id": str(row["invitation_id"]),
            "token": token,
            "accept_url": self.accept_url(token),
            "expires_at": row["expires_at"].isoformat(),
        }

    async def look_up(self, token: str) -> dict[str, Any]:
        """What the invitation's page shows before anyone answers it (no login needed)."""
        row = await self._pool.fetchrow(
            """SELECT i.ws_id, i.role, i.status, i.expires_at, i.invited_by,
                      i.expires_at <= now() AS expired, w.name AS workspace_name,
                      u.username, u.first_name, u.last_name
               FROM workspace_invitations i
               JOIN workspaces w ON w.ws_id = i.ws_id
               LEFT JOIN users u ON u.user_id = i.invited_by
               WHERE i.token_hash = $1""",
            token_digest(token),
        )
        if row is None:
            raise NotFound("No such invitation.")
        if row["status"] != "pending":
            raise Gone(_GONE.get(row["status"], _GONE["accepted"]))
        if row["expired"]:
            raise Gone(_GONE["expired"])
        if row["username"] is None or not await self._workspaces.may_invite(
            self._pool, row["ws_id"], row["invited_by"], row["role"]
        ):
            raise Gone(_SENDER_GONE)
        return {
            "workspace": {"ws_id": str(row["ws_id"]), "name": row["workspace_name"]},
            "role": row["role"],
            "invited_by": {
                "user_id": str(row["invited_by"]),
                "username": row["username"],
                "display_name": _display_name(row["first_name"], row["last_name"], row["username"]),
            },
            "expires_at": row["expires_at"].isoformat(),
            # Always addressed (to an account or an email): only that person may answer it.
            "email_bound": True,
        }

    async def list_for(self, actor: Actor, ws_id: uuid.UUID) -> list[dict[str, Any]]:
        await self._workspaces.require(self._pool, actor, ws_id, Role.ADMIN)
        rows = await self._pool.fetch(
            """SELECT invitation_id, invited_user_id, invited_email, role, invited_by,
                      CASE WHEN status = 'pending' AND expires_at <= now() THEN 'expired'
                           ELSE status END AS status, expires_at, created_at
               FROM workspace_invitations WHERE ws_id = $1 ORDER BY created_at DESC""",
            ws_id,
        )
        return [
            {
                k: (
                    str(v)
                    if isinstance(v, uuid.UUID)
                    else v.isoformat()
                    if hasattr(v, "isoformat")
                    else v
                )
                for k, v in dict(r).items()
            }
            for r in rows
        ]

    async def revoke(self, actor: Actor, ws_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._workspaces.require(conn, actor, ws_id, Role.ADMIN)
            status = await conn.fetchval(
                "UPDATE workspace_invitations SET status = 'revoked' "
                "WHERE invitation_id = $1 AND ws_id = $2 AND status = 'pending' RETURNING status",
                invitation_id,
                ws_id,
            )
            if status is None:
                raise NotFound("No pending invitation with that id in this workspace.")
            await self._audit.record(
                conn,
                AuditEntry(
                    "invitation.revoked", actor.user_id, ws_id, "invitation", str(invitation_id)
                ),
                actor.client,
            )

    async def _claim(
        self, conn: asyncpg.Connection, actor: Actor, token: str
    ) -> asyncpg.Record | str:
        """The invitation, locked, when the actor may answer it; else why it is gone."""
        row = await conn.fetchrow(
            """SELECT i.*, i.expires_at <= now() AS expired, u.email AS actor_email
               FROM workspace_invitations i, users u
               WHERE i.token_hash = $1 AND u.user_id = $2 FOR UPDATE OF i""",
            token_digest(token),
            actor.user_id,
        )
        if row is None:
            raise NotFound("No such invitation.")
        if row["status"] != "pending":
            return _GONE.get(row["status"], _GONE["accepted"])
        if row["expired"]:
            await conn.execute(
                "UPDATE workspace_invitations SET status = 'expired' WHERE invitation_id = $1",
                row["invitation_id"],
            )
            return _GONE["expired"]
        if not await self._workspaces.may_invite(
            conn, row["ws_id"], row["invited_by"], row["role"]
        ):
            # Its sender was removed or demoted since: the invitation goes with their role.
            await conn.execute(
                "UPDATE workspace_invitations SET status = 'revoked' WHERE invitation_id = $1",
                row["invitation_id"],
            )
            return _SENDER_GONE
        for_actor = row["invited_user_id"] == actor.user_id or (
            row["invited_email"] is not None
            and row["invited_email"].lower() == row["actor_email"].lower()
        )
        if not for_actor:
            raise Forbidden("This invitation is for someone else.")
        return row

    async def respond(self, actor: Actor, token: str, *, accept: bool) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await self._claim(conn, actor, token)
            if isinstance(claimed, asyncpg.Record):
                result = await self._apply(conn, actor, claimed, accept)
                committed = await self._workspaces.membership_changed(
                    conn, claimed["ws_id"], actor.user_id
                )
        if isinstance(claimed, asyncpg.Record):
            await committed()  # a new or higher role reaches open sockets at once
            return result
        raise Gone(claimed)

    async def _apply(
        self, conn: asyncpg.Connection, actor: Actor, row: asyncpg.Record, accept: bool
    ) -> dict[str, Any]:
        ws_id = row["ws_id"]
        await conn.execute(
            "UPDATE workspace_invitations SET status = $2 WHERE invitation_id = $1",
            row["invitation_id"],
            "accepted" if accept else "declined",
        )
        role = None
        if accept:
            role = await conn.fetchval(
                f"""INSERT INTO workspace_permissions (ws_id, user_id, role, granted_by)
                    VALUES ($1, $2, $3, $4)
                    ON CONFLICT (ws_id, user_id) DO UPDATE SET status = 'active',
                        role = CASE WHEN {RANK_SQL.format("EXCLUDED.role")}
                                         > {RANK_SQL.format("workspace_permissions.role")}
                                    THEN EXCLUDED.role ELSE workspace_permissions.role END
                    RETURNING role""",
                ws_id,
                actor.user_id,
                row["role"],
                row["invited_by"],
            )
        await self._audit.record(
            conn,
            AuditEntry(
                "invitation.accepted" if accept else "invitation.declined",
                actor.user_id,
                ws_id,
                "invitation",
                str(row["invitation_id"]),
                new_value={"role": role} if role else None,
            ),
            actor.client,
        )
        return {
            "ws_id": str(ws_id),
            "user_id": str(actor.user_id),
            "role": role,
            "status": "active" if accept else "declined",
            "granted_by": str(row["invited_by"]) if row["invited_by"] else None,
        }
