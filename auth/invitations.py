"""Workspace invitations: by email or user id, a single-use link token stored as a hash.

Statuses: pending → accepted | declined | revoked | expired. Only the invited person (the
user named, or the account holding the invited email) may accept; accepting never lowers a
role someone already has. An invitation works only while its sender may still invite to its
role (removing or demoting the sender revokes it).
"""

from __future__ import annotations

import enum
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from auth.mail import Mail, Mailer
from auth.roles import Role
from auth.tokens import new_opaque_token, token_digest
from auth.users import UserStore
from auth.workspace_inputs import InvitationInput
from auth.workspace_store import RANK_SQL
from auth.workspaces import WorkspaceService
from kernel.audit import AuditEntry, AuditLog
from kernel.background import BackgroundTasks
from kernel.context import Actor
from kernel.errors import Conflict, Forbidden, Gone, NotFound, ValidationFailed


class _Refusal(enum.Enum):
    EXPIRED = "expired"
    SPENT = "spent"
    REVOKED = "revoked"


class InvitationService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        workspaces: WorkspaceService,
        users: UserStore,
        audit: AuditLog,
        mailer: Mailer,
        tasks: BackgroundTasks,
        api_base_url: str,
        ttl: timedelta,
    ) -> None:
        self._pool = pool
        self._workspaces = workspaces
        self._users = users
        self._audit = audit
        self._mailer = mailer
        self._tasks = tasks
        self._api_base_url = api_base_url
        self._ttl = ttl

    def accept_url(self, token: str) -> str:
        return f"{self._api_base_url}/api/invitations/workspace/{token}/accept"

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
                invitee = await self._users.by_id(conn, uuid.UUID(data.user_id))
                if invitee is None:
                    raise NotFound("No such user.")
            elif data.email is not None:
                invitee = await self._users.by_email(conn, data.email)
            email = invitee.email if invitee else data.email
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
        if email:
            self._tasks.spawn(
                self._mailer.send(
                    Mail(
                        email,
                        f"You are invited to the workspace {workspace['name']}",
                        f'You were invited to join the workspace "{workspace["name"]}" as '
                        f"{role.value}. Accept within {self._ttl.days} days by sending, "
                        "logged in:\n\n"
                        f"POST {self.accept_url(token)}\n",
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
    ) -> asyncpg.Record | _Refusal:
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
            return _Refusal.SPENT
        if row["expired"]:
            await conn.execute(
                "UPDATE workspace_invitations SET status = 'expired' WHERE invitation_id = $1",
                row["invitation_id"],
            )
            return _Refusal.EXPIRED
        if not await self._workspaces.may_invite(
            conn, row["ws_id"], row["invited_by"], row["role"]
        ):
            # Its sender was removed or demoted since: the invitation goes with their role.
            await conn.execute(
                "UPDATE workspace_invitations SET status = 'revoked' WHERE invitation_id = $1",
                row["invitation_id"],
            )
            return _Refusal.REVOKED
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
        if claimed is _Refusal.EXPIRED:
            raise Gone("This invitation has expired.")
        if claimed is _Refusal.REVOKED:
            raise Gone("This invitation was revoked: its sender may no longer invite to it.")
        raise Gone("This invitation was already used, declined or revoked.")

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
