"""Platform administrators: who is one (`users.is_admin`, granted only from the command
line), and what they may do through `/api/admin/...`: find users, deactivate and reactivate
them, end every login of one, read any audit log.

Each admin action is audited twice over: the account's own entry (`user.deactivated`, ... as
the account services write it) and an `admin.*` entry whose actor is the admin and whose
target is the user, with the admin's reason in `metadata` when one is given.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from auth.accounts import AccountService
from auth.identifiers import normal_form
from auth.users import UserStore
from kernel.audit import AuditEntry, AuditLog
from kernel.context import Actor, ClientInfo
from kernel.errors import Conflict, Forbidden, NotFound
from kernel.sql import Executor


async def is_admin(db: Executor, user_id: uuid.UUID) -> bool:
    return bool(await db.fetchval("SELECT is_admin FROM users WHERE user_id = $1", user_id))


async def set_admin(db: Executor, email: str, admin: bool, client: ClientInfo) -> bool:
    """The command line's grant/revoke; False when no account has this email."""
    user_id = await db.fetchval(
        "UPDATE users SET is_admin = $2 WHERE lower(email) = lower($1) RETURNING user_id",
        normal_form(email),
        admin,
    )
    if user_id is None:
        return False
    await AuditLog().record(
        db,
        AuditEntry(
            "admin.granted" if admin else "admin.revoked",
            None,
            resource_type="user",
            resource_id=str(user_id),
        ),
        client,
        metadata={"by": "command line"},
    )
    return True


def _user_json(row: asyncpg.Record) -> dict[str, Any]:
    def when(name: str) -> str | None:
        value = row[name]
        return value.isoformat() if value is not None else None

    return {
        "user_id": str(row["user_id"]),
        "email": row["email"],
        "username": row["username"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "is_active": row["is_active"],
        "is_admin": row["is_admin"],
        "email_verified": row["email_verified"],
        "mfa_enabled": row["mfa_enabled"],
        "oauth_provider": row["oauth_provider"],
        "created_at": when("created_at"),
        "last_login": when("last_login"),
        "deleted_at": when("deleted_at"),
        "purge_after": when("purge_after"),
    }


class AdminService:
    def __init__(
        self, pool: asyncpg.Pool, accounts: AccountService, users: UserStore, audit: AuditLog
    ) -> None:
        self._pool = pool
        self._accounts = accounts
        self._users = users
        self._audit = audit

    async def require_admin(self, actor: Actor) -> None:
        """403 (not 404: the routes are no secret) unless the caller is a platform admin."""
        if not await is_admin(self._pool, actor.user_id):
            raise Forbidden("This needs a platform administrator.")

    async def users(
        self, actor: Actor, *, q: str | None, limit: int, before: uuid.UUID | None
    ) -> dict[str, Any]:
        """Newest accounts first; `q` matches within the email or the username."""
        await self.require_admin(actor)
        pattern = None
        if q:
            escaped = q.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
            pattern = f"%{escaped}%"
        rows = await self._pool.fetch(
            """SELECT u.*, u.mfa_enabled_at IS NOT NULL AS mfa_enabled FROM users u
               WHERE ($1::text IS NULL OR lower(u.email) LIKE $1 OR lower(u.username) LIKE $1)
                 AND ($2::uuid IS NULL OR (u.created_at, u.user_id) <
                      (SELECT created_at, user_id FROM users WHERE user_id = $2))
               ORDER BY u.created_at DESC, u.user_id DESC LIMIT $3""",
            pattern,
            before,
            limit,
        )
        items = [_user_json(r) for r in rows]
        return {"items": items, "next_before": items[-1]["user_id"] if len(rows) == limit else None}

    async def _target(self, actor: Actor, user_id: uuid.UUID) -> None:
        await self.require_admin(actor)
        if await self._users.by_id(self._pool, user_id) is None:
            raise NotFound("No such user.")

    async def _record(
        self, actor: Actor, action: str, user_id: uuid.UUID, reason: str | None
    ) -> None:
        await self._audit.record(
            self._pool,
            AuditEntry(action, actor.user_id, resource_type="user", resource_id=str(user_id)),
            actor.client,
            metadata={"admin": True, "reason": reason} if reason else {"admin": True},
        )

    async def set_active(
        self, actor: Actor, user_id: uuid.UUID, active: bool, reason: str | None
    ) -> dict[str, Any]:
        await self._target(actor, user_id)
        if not active and user_id == actor.user_id:
            raise Conflict("Admins cannot deactivate themselves.")
        # The account service's path: a deactivation ends every login and socket.
        await self._accounts.set_active(user_id, active, actor.client)
        await self._record(
            actor, "admin.user_reactivated" if active else "admin.user_deactivated", user_id, reason
        )
        return await self.user(actor, user_id)

    async def logout(self, actor: Actor, user_id: uuid.UUID, reason: str | None) -> None:
        await self._target(actor, user_id)
        user = await self._users.by_id(self._pool, user_id)
        assert user is not None
        await self._accounts.logout_all(user, actor.client)  # logout-all's path: sockets too
        await self._record(actor, "admin.user_logged_out", user_id, reason)

    async def user(self, actor: Actor, user_id: uuid.UUID) -> dict[str, Any]:
        await self.require_admin(actor)
        row = await self._pool.fetchrow(
            """SELECT u.*, u.mfa_enabled_at IS NOT NULL AS mfa_enabled FROM users u
               WHERE user_id = $1""",
            user_id,
        )
        if row is None:
            raise NotFound("No such user.")
        return _user_json(row)
