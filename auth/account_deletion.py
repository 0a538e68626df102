"""An account's end: export, deletion with re-authentication, and the purge after the grace
period (undoing a deletion at login is `auth.lifecycle.restore_on_login`).

What becomes of what the person owns: workspaces they alone own refuse the deletion (409
naming them) until transferred or deleted; workspaces with another owner stay (at purge the
record's owner_id passes to another owner). Their active sessions are archived through the
session service (participants' sockets turn read-only, deployments stop), and every login
and socket of theirs ends. The purge deletes the row; the database cascades the rest, and
audit entries stay with the actor NULL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import asyncpg

from auth.account_export import export_user
from auth.accounts import AccountService
from auth.passwords import PasswordHashing
from auth.rate_limit import RateLimiter
from auth.users import User, UserStore
from kernel.audit import AuditEntry, AuditLog
from kernel.context import Actor, ClientInfo
from kernel.errors import Conflict, Forbidden, InvalidCredentials, ValidationFailed
from kernel.sql import Executor

log = logging.getLogger(__name__)

# Audit entries an export holds at most (of each kind: done by them, done to their account).
EXPORT_LIMIT = 100_000


class SecondFactor(Protocol):
    """X1's TOTP check: raises (ValidationFailed, RateLimited) unless the code is current."""

    async def __call__(self, user: User, code: str, client: ClientInfo) -> None: ...


Archive = Callable[[Actor, uuid.UUID], Awaitable[None]]
StopDeploymentsOf = Callable[[uuid.UUID], Awaitable[None]]
InvitationsOf = Callable[[uuid.UUID, str], Awaitable[list[dict[str, Any]]]]
SessionsOf = Callable[[Actor], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class LifecycleDependencies:
    pool: asyncpg.Pool
    accounts: AccountService
    users: UserStore
    hashing: PasswordHashing
    limiter: RateLimiter
    audit: AuditLog
    second_factor: SecondFactor | None
    sessions_of: SessionsOf  # the sessions a person sees, with their role and status
    archive_session: Archive  # the session service's own archive path (sockets, deployments)
    grace: timedelta
    # Deployments the person started in sessions of others (their own sessions' stop with
    # the archive).
    stop_deployments_of: StopDeploymentsOf | None = None
    # Session invitations made or received (the sessions package owns that table).
    session_invitations_of: InvitationsOf | None = None


async def sole_owned_workspaces(db: Executor, user_id: uuid.UUID) -> dict[str, str]:
    """ws_id → name of each workspace this user is the only active owner of."""
    rows = await db.fetch(
        """SELECT w.ws_id, w.name FROM workspaces w
           JOIN workspace_permissions p ON p.ws_id = w.ws_id AND p.user_id = $1
                AND p.role = 'owner' AND p.status = 'active'
           WHERE NOT EXISTS (SELECT 1 FROM workspace_permissions o
                             WHERE o.ws_id = w.ws_id AND o.user_id <> $1
                               AND o.role = 'owner' AND o.status = 'active')
           ORDER BY w.created_at""",
        user_id,
    )
    return {str(r["ws_id"]): r["name"] for r in rows}


class AccountLifecycle:
    def __init__(self, deps: LifecycleDependencies) -> None:
        self._d = deps

    def close(self) -> None:
        self._d.hashing.close()

    async def export(self, user: User, client: ClientInfo) -> dict[str, Any]:
        """Everything stored about the user (`auth.account_export`); audited."""
        await self._d.limiter.hit_account("login", f"export:{user.user_id}")
        actor = Actor(user.user_id, client)

        async def audit_entries() -> list[dict[str, Any]]:
            """What they did and what was done to their account, oldest first."""
            done = await self._d.audit.search(
                self._d.pool, actor=user.user_id, limit=EXPORT_LIMIT, before=None
            )
            about = await self._d.audit.about(
                self._d.pool, [("user", str(user.user_id))], limit=EXPORT_LIMIT, before=None
            )
            merged = {e["log_id"]: e for e in [*done, *about]}
            return [merged[k] for k in sorted(merged)]

        async def session_invitations() -> list[dict[str, Any]]:
            if self._d.session_invitations_of is None:
                return []
            return await self._d.session_invitations_of(user.user_id, user.email)

        async with self._d.pool.acquire() as conn, conn.transaction(readonly=True):
            archive = await export_user(
                conn,
                user.user_id,
                {
                    "sessions": lambda: self._d.sessions_of(actor),
                    "session_invitations": session_invitations,
                    "audit_logs": audit_entries,
                },
            )
        await self._d.audit.record(
            self._d.pool,
            AuditEntry(
                "account.exported",
                user.user_id,
                resource_type="user",
                resource_id=str(user.user_id),
            ),
            client,
        )
        return archive

    async def _reauthenticate(
        self, user: User, password: str, code: str | None, client: ClientInfo
    ) -> None:
        """The password (under the login slow-down) and, with TOTP on, a current code."""
        await self._d.limiter.hit_account("login", user.email)
        await self._d.limiter.check_login_delay(user.email)
        verdict = await self._d.hashing.verify(user.password_hash, password)
        if not verdict.ok:
            await self._d.limiter.record_login_failure(user.email)
            await self._d.audit.record(
                self._d.pool,
                AuditEntry(
                    "account.deletion_refused",
                    user.user_id,
                    resource_type="user",
                    resource_id=str(user.user_id),
                ),
                client,
                metadata={"reason": "password"},
            )
            raise InvalidCredentials()
        mfa_on = await self._d.pool.fetchval(
            "SELECT mfa_enabled_at IS NOT NULL FROM users WHERE user_id = $1", user.user_id
        )
        if not mfa_on:
            return
        if not code:
            raise ValidationFailed({"code": "two-factor login is on: send a current code"})
        if self._d.second_factor is None:  # pragma: no cover - wired whenever TOTP exists
            raise Forbidden("Two-factor codes cannot be checked on this server.")
        await self._d.second_factor(user, code, client)

    async def delete(
        self, user: User, password: str, code: str | None, client: ClientInfo
    ) -> dict[str, Any]:
        """Mark the account deleted (purged after the grace period) and end what it runs."""
        await self._reauthenticate(user, password, code, client)
        async with self._d.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE", user.user_id)
            sole = await sole_owned_workspaces(conn, user.user_id)
            kept = await conn.fetchval(
                """SELECT count(*) FROM workspace_permissions
                   WHERE user_id = $1 AND status = 'active'""",
                user.user_id,
            )
            if sole:
                raise Conflict(
                    "Transfer or delete the workspaces you alone own first: "
                    + ", ".join(sole.values()),
                    sole,
                )
            row = await conn.fetchrow(
                """UPDATE users SET deleted_at = now(), purge_after = now() + $2::interval
                   WHERE user_id = $1 RETURNING deleted_at, purge_after""",
                user.user_id,
                self._d.grace,
            )
            await self._d.audit.record(
                conn,
                AuditEntry(
                    "account.deletion_requested",
                    user.user_id,
                    resource_type="user",
                    resource_id=str(user.user_id),
                ),
                client,
                metadata={"purge_after": row["purge_after"], "workspaces_kept": kept},
            )
        actor = Actor(user.user_id, client)
        # Every login and socket ends first (no credential of a deleted account works a
        # moment longer, whatever fails next); then, through the services' own paths,
        # participants learn the session is archived and the deployments stop.
        await self._d.accounts.logout_all(user, client)
        for session in await self._d.sessions_of(actor):
            if session["role"] == "owner" and session["status"] == "active":
                await self._d.archive_session(actor, uuid.UUID(session["session_id"]))
        if self._d.stop_deployments_of is not None:
            await self._d.stop_deployments_of(user.user_id)
        return {
            "status": "deletion_scheduled",
            "deleted_at": row["deleted_at"].isoformat(),
            "purge_after": row["purge_after"].isoformat(),
        }

    async def prune_credentials(self) -> int:
        """Delete refresh tokens and logins past any use (`RefreshTokens.prune`); how many
        tokens went. Run with the purge, so the tables do not grow with every refresh."""
        return await self._d.accounts.dependencies.refresh.prune(self._d.pool)

    async def purge(self) -> list[uuid.UUID]:
        """Remove, for good, every account whose grace period is over; the ids purged.

        One transaction per account. The audit trail stays (its actor becomes NULL). An
        account that meanwhile became a workspace's only owner (the others left) is kept
        and logged: purging it would delete the workspace with it.
        """
        due = await self._d.pool.fetch(
            "SELECT user_id FROM users WHERE purge_after <= now() ORDER BY purge_after"
        )
        purged = []
        for record in due:
            user_id = record["user_id"]
            async with self._d.pool.acquire() as conn, conn.transaction():
                still_due = await conn.fetchval(
                    """SELECT 1 FROM users WHERE user_id = $1 AND purge_after <= now()
                       FOR UPDATE SKIP LOCKED""",
                    user_id,
                )
                if not still_due:
                    continue
                sole = await sole_owned_workspaces(conn, user_id)
                if sole:
                    log.warning(
                        "account %s is due for purge but alone owns workspaces %s; kept",
                        user_id,
                        ", ".join(sole),
                    )
                    continue
                # Workspaces this user created but others co-own pass to the longest-standing
                # other owner (workspaces.owner_id cascades).
                await conn.execute(
                    """UPDATE workspaces w SET owner_id = (
                           SELECT p.user_id FROM workspace_permissions p
                           WHERE p.ws_id = w.ws_id AND p.role = 'owner' AND p.status = 'active'
                             AND p.user_id <> $1 ORDER BY p.created_at LIMIT 1)
                       WHERE w.owner_id = $1""",
                    user_id,
                )
                await self._d.audit.record(
                    conn,
                    AuditEntry(
                        "account.purged", None, resource_type="user", resource_id=str(user_id)
                    ),
                    None,
                )
                await conn.execute("DELETE FROM users WHERE user_id = $1", user_id)
            purged.append(user_id)
        return purged


class PurgeSchedule:
    """The server's periodic purge: every `interval` seconds, the first `first_delay` seconds
    after start (a short-lived process, such as a CLI command, never purges by accident)."""

    def __init__(
        self, lifecycle: AccountLifecycle, interval: float, first_delay: float = 60.0
    ) -> None:
        self._lifecycle = lifecycle
        self._interval = interval
        self._first_delay = first_delay
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="account-purge")

    async def _run(self) -> None:
        await asyncio.sleep(self._first_delay)
        while True:
            try:
                purged = await self._lifecycle.purge()
                if purged:
                    log.info("purged %d deleted account(s)", len(purged))
                pruned = await self._lifecycle.prune_credentials()
                if pruned:
                    log.info("pruned %d refresh token(s) past their login's expiry", pruned)
            except Exception:
                log.exception("the account purge failed; retrying later")
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
