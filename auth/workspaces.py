"""Workspace decisions: who sees, changes and deletes a workspace, and who holds which role.

Rules:
- A workspace is visible to its active members, and to every logged-in user when public.
  To anyone else it does not exist (404, so ids cannot be probed).
- Owners and admins change it; only owners delete it.
- Nobody grants a role above their own, or changes someone who ranks above them.
- The last owner can neither leave nor be demoted.
- Removing or demoting someone revokes the invitations they may no longer send, and reaches
  what else follows the membership (the workspace's live sessions and their open sockets).
- A workspace may require two-factor login (`require_mfa`): whoever has not turned TOTP on
  is refused its sessions and documents (403 `mfa_required`, `WorkspaceAccess.check_mfa`);
  nobody may turn the rule on without TOTP themselves (409: no locking oneself out). Turning
  it on reaches the membership's followers too: sockets already open without TOTP close.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Protocol

import asyncpg

from auth.roles import Role
from auth.workspace_inputs import WorkspaceInput, WorkspacePatch
from auth.workspace_store import WorkspaceStore, workspace_json
from kernel.audit import AuditEntry, AuditLog
from kernel.context import Actor
from kernel.errors import Conflict, Forbidden, NotFound, Unavailable

log = logging.getLogger(__name__)


class MfaRequired(Forbidden):
    """The workspace requires two-factor login and this person has not turned it on."""

    code = "mfa_required"

    def __init__(self) -> None:
        super().__init__(
            "This workspace requires two-factor login: turn on TOTP in your security settings."
        )


class WorkspaceLifecycle(Protocol):
    """What else lives and dies with a workspace (its NoSQL document)."""

    async def created(self, ws_id: uuid.UUID, owner_id: uuid.UUID, name: str) -> None: ...

    async def renamed(self, ws_id: uuid.UUID, name: str) -> None: ...

    async def deleted(self, ws_id: uuid.UUID) -> None: ...


AfterCommit = Callable[[], Awaitable[None]]


class MembershipFollower(Protocol):
    """What else follows someone's workspace role (their access to its live sessions)."""

    async def membership_changing(
        self, conn: asyncpg.Connection, ws_id: uuid.UUID, user_id: uuid.UUID
    ) -> AfterCommit:
        """Runs in the transaction that changed the membership; the answer runs after commit."""
        ...

    async def workspace_rule_changed(self, ws_id: uuid.UUID) -> None:
        """After commit: the workspace now requires two-factor login of its members."""
        ...


class WorkspaceAccess:
    """The questions other packages ask about workspaces: who holds which role, who may
    still invite, what a workspace is called. Built before anything that follows workspaces;
    its one change is a rename made from the workspace document."""

    def __init__(self, pool: asyncpg.Pool, store: WorkspaceStore) -> None:
        self._pool = pool
        self._store = store

    async def role_of(
        self,
        ws_id: uuid.UUID,
        user_id: uuid.UUID,
        db: asyncpg.Connection | asyncpg.Pool | None = None,
    ) -> Role | None:
        """The user's active role, asked on `db` when given (a transaction sees its change)."""
        return await self._store.role(db or self._pool, ws_id, user_id)

    async def roles_in(
        self,
        ws_id: uuid.UUID,
        user_ids: Collection[uuid.UUID],
        db: asyncpg.Connection | asyncpg.Pool | None = None,
    ) -> dict[uuid.UUID, Role]:
        """The active roles of these users (members only), in one query."""
        return await self._store.roles_in(db or self._pool, ws_id, user_ids)

    async def workspaces_of(
        self, user_id: uuid.UUID, db: asyncpg.Connection | asyncpg.Pool | None = None
    ) -> dict[uuid.UUID, Role]:
        """workspace id → the user's active role, for every workspace they are a member of."""
        return await self._store.roles_of_user(db or self._pool, user_id)

    async def names(self) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
        """workspace id → (owner id, name), for every workspace."""
        return await self._store.names(self._pool)

    async def name(self, ws_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
        """(owner id, name), None when there is no such workspace."""
        return await self._store.name(self._pool, ws_id)

    async def rename(self, conn: asyncpg.Connection, ws_id: uuid.UUID, name: str) -> None:
        """A rename made from the workspace document, in the caller's transaction."""
        await self._store.update(conn, ws_id, {"name": name})

    async def require(
        self,
        db: asyncpg.Connection | asyncpg.Pool,
        actor: Actor,
        ws_id: uuid.UUID,
        minimum: Role | None,
        *,
        lock: bool = False,
    ) -> tuple[asyncpg.Record, Role | None]:
        """The workspace and the actor's role in it, or NotFound/Forbidden.

        `minimum=None` asks only to see it (members, or anyone when public).
        """
        row = await self._store.with_role(db, ws_id, actor.user_id, lock=lock)
        role = Role(row["role"]) if row is not None and row["role"] else None
        if row is None or (role is None and not row["is_public"]):
            raise NotFound("No such workspace.")
        if minimum is not None and (role is None or not role.at_least(minimum)):
            raise Forbidden(f"This needs the {minimum.value} role or higher in the workspace.")
        return row, role

    async def check_mfa(
        self,
        ws_id: uuid.UUID,
        user_id: uuid.UUID,
        db: asyncpg.Connection | asyncpg.Pool | None = None,
    ) -> None:
        """MfaRequired when the workspace requires two-factor login and the user lacks it."""
        if await self._store.lacks_required_mfa(db or self._pool, ws_id, user_id):
            raise MfaRequired()

    async def may_invite(
        self,
        db: asyncpg.Connection | asyncpg.Pool,
        ws_id: uuid.UUID,
        user_id: uuid.UUID | None,
        role: str,
    ) -> bool:
        """Whether this person may now invite to `role` (owners and admins, up to their own)."""
        return await self._store.may_invite(db, ws_id, user_id, role)


class WorkspaceService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: WorkspaceStore,
        audit: AuditLog,
        access: WorkspaceAccess,
        lifecycle: WorkspaceLifecycle,
        membership_followers: Sequence[MembershipFollower],
    ) -> None:
        self._pool = pool
        self._store = store
        self._audit = audit
        self.lifecycle = lifecycle
        self._followers = tuple(membership_followers)
        # The questions other packages ask, answered by `access`.
        self.role_of = access.role_of
        self.require = access.require
        self.may_invite = access.may_invite

    async def membership_changed(
        self, conn: asyncpg.Connection, ws_id: uuid.UUID, user_id: uuid.UUID
    ) -> AfterCommit:
        """Call inside the transaction that changed someone's membership, after the change;
        run the answer once it has committed."""
        await self._store.revoke_invitations_beyond(conn, ws_id, user_id)
        after = [await f.membership_changing(conn, ws_id, user_id) for f in self._followers]

        async def committed() -> None:
            for run in after:
                await run()

        return committed

    # -- workspaces ---------------------------------------------------------------------------

    async def create(self, actor: Actor, data: WorkspaceInput) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await self._store.create(conn, actor.user_id, data.model_dump())
            workspace = workspace_json(row)
            await self._audit.record(
                conn,
                AuditEntry(
                    "workspace.created",
                    actor.user_id,
                    row["ws_id"],
                    "workspace",
                    str(row["ws_id"]),
                    new_value=data.model_dump(),
                ),
                actor.client,
            )
        try:
            await self.lifecycle.created(row["ws_id"], actor.user_id, row["name"])
        except Exception as exc:
            # Never half done: without its document the workspace is undone.
            log.exception("creating the document of workspace %s failed", row["ws_id"])
            await self._pool.execute("DELETE FROM workspaces WHERE ws_id = $1", row["ws_id"])
            raise Unavailable("The workspace store did not answer; nothing was created.") from exc
        return workspace

    async def list_visible(
        self, actor: Actor, *, templates_only: bool, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self._store.visible(
            self._pool, actor.user_id, templates_only=templates_only, limit=limit
        )
        return [workspace_json(r) for r in rows]

    async def open(self, actor: Actor, ws_id: uuid.UUID) -> dict[str, Any]:
        """Read a workspace; for members this also records their presence in it."""
        row, role = await self.require(self._pool, actor, ws_id, None)
        if role is not None:
            await self._store.touch_presence(self._pool, ws_id, actor.user_id)
        return workspace_json(row)

    async def update(self, actor: Actor, ws_id: uuid.UUID, patch: WorkspacePatch) -> dict[str, Any]:
        # A null for a field that cannot be null is ignored (`description` may be cleared).
        changes = {
            k: v
            for k, v in patch.model_dump(exclude_unset=True).items()
            if v is not None or k == "description"
        }
        async with self._pool.acquire() as conn, conn.transaction():
            row, _ = await self.require(conn, actor, ws_id, Role.ADMIN, lock=True)
            turning_on = changes.get("require_mfa") and not row["require_mfa"]
            if turning_on and await self._store.lacks_mfa(conn, actor.user_id):
                raise Conflict(
                    "Turn on two-factor login for yourself before requiring it of the "
                    "workspace's members (you would be locked out)."
                )
            if changes:
                await self._store.update(conn, ws_id, changes)
                await self._audit.record(
                    conn,
                    AuditEntry(
                        "workspace.updated",
                        actor.user_id,
                        ws_id,
                        "workspace",
                        str(ws_id),
                        old_value={k: row[k] for k in changes},
                        new_value=changes,
                    ),
                    actor.client,
                )
            fresh = await self._store.with_role(conn, ws_id, actor.user_id)
        assert fresh is not None
        if "name" in changes:
            await self.lifecycle.renamed(ws_id, changes["name"])
        if turning_on:
            # Members without TOTP lose the sockets they hold open, as new ones are refused.
            for follower in self._followers:
                await follower.workspace_rule_changed(ws_id)
        return workspace_json(fresh)

    async def delete(self, actor: Actor, ws_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            row, _ = await self.require(conn, actor, ws_id, Role.OWNER, lock=True)
            await self._audit.record(
                conn,
                AuditEntry(
                    "workspace.deleted",
                    actor.user_id,
                    None,
                    "workspace",
                    str(ws_id),
                    old_value={"name": row["name"]},
                ),
                actor.client,
            )
            await conn.execute("DELETE FROM workspaces WHERE ws_id = $1", ws_id)
        try:
            await self.lifecycle.deleted(ws_id)
        except Exception:
            # The workspace is gone; its orphaned document is removed by the next repair.
            log.exception("deleting the document of workspace %s failed", ws_id)

    async def require_member(self, actor: Actor, ws_id: uuid.UUID) -> Role:
        """The actor's role in the workspace, or NotFound (Forbidden on a public one)."""
        _, role = await self.require(self._pool, actor, ws_id, Role.VIEWER)
        assert role is not None
        return role

    # -- members -----------------------------------------------------------------------------

    async def members(self, actor: Actor, ws_id: uuid.UUID) -> list[dict[str, Any]]:
        await self.require(self._pool, actor, ws_id, Role.VIEWER)
        return [
            {
                "user": {
                    "user_id": str(r["user_id"]),
                    "username": r["username"],
                    "email": r["email"],
                    "first_name": r["first_name"],
                    "last_name": r["last_name"],
                    "profile_image_url": r["profile_image_url"],
                },
                "role": r["role"],
                "status": r["status"],
                "granted_by": str(r["granted_by"]) if r["granted_by"] else None,
                "since": r["created_at"].isoformat(),
            }
            for r in await self._store.members(self._pool, ws_id)
        ]

    async def set_role(
        self, actor: Actor, ws_id: uuid.UUID, user_id: uuid.UUID, new_role: Role
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            _, actor_role = await self.require(conn, actor, ws_id, Role.ADMIN, lock=True)
            assert actor_role is not None
            current = await self._store.role(conn, ws_id, user_id)
            if current is None:
                raise NotFound("That user is not a member; invite them first.")
            if new_role.rank > actor_role.rank:
                raise Forbidden("Nobody may grant a role above their own.")
            if current.rank > actor_role.rank:
                raise Forbidden("You may not change the role of someone who ranks above you.")
            if current is Role.OWNER and new_role is not Role.OWNER:
                if await self._store.other_owner_count(conn, ws_id, user_id) == 0:
                    raise Conflict(
                        "The last owner cannot be demoted; make someone else owner first."
                    )
                await conn.execute(
                    """UPDATE workspaces SET owner_id = (
                           SELECT user_id FROM workspace_permissions WHERE ws_id = $1
                           AND role = 'owner' AND status = 'active' AND user_id <> $2
                           ORDER BY created_at LIMIT 1)
                       WHERE ws_id = $1 AND owner_id = $2""",
                    ws_id,
                    user_id,
                )
            await conn.execute(
                "UPDATE workspace_permissions SET role = $3, granted_by = $4 "
                "WHERE ws_id = $1 AND user_id = $2",
                ws_id,
                user_id,
                new_role.value,
                actor.user_id,
            )
            await self._audit.record(
                conn,
                AuditEntry(
                    "member.role_changed",
                    actor.user_id,
                    ws_id,
                    "member",
                    str(user_id),
                    old_value={"role": current.value},
                    new_value={"role": new_role.value},
                ),
                actor.client,
            )
            committed = await self.membership_changed(conn, ws_id, user_id)
        await committed()
        return {
            "ws_id": str(ws_id),
            "user_id": str(user_id),
            "role": new_role.value,
            "status": "active",
            "granted_by": str(actor.user_id),
        }

    async def remove_member(self, actor: Actor, ws_id: uuid.UUID, user_id: uuid.UUID) -> None:
        leaving = user_id == actor.user_id
        async with self._pool.acquire() as conn, conn.transaction():
            _, actor_role = await self.require(
                conn, actor, ws_id, Role.VIEWER if leaving else Role.ADMIN, lock=True
            )
            assert actor_role is not None
            current = await self._store.role(conn, ws_id, user_id)
            if current is None:
                raise NotFound("That user is not a member.")
            if not leaving and current.rank > actor_role.rank:
                raise Forbidden("You may not remove someone who ranks above you.")
            if (
                current is Role.OWNER
                and await self._store.other_owner_count(conn, ws_id, user_id) == 0
            ):
                raise Conflict("The last owner cannot leave; make someone else owner first.")
            await conn.execute(
                "DELETE FROM workspace_permissions WHERE ws_id = $1 AND user_id = $2",
                ws_id,
                user_id,
            )
            await conn.execute(
                """UPDATE workspaces SET owner_id = (
                       SELECT user_id FROM workspace_permissions WHERE ws_id = $1
                       AND role = 'owner' AND status = 'active' ORDER BY created_at LIMIT 1)
                   WHERE ws_id = $1 AND owner_id = $2""",
                ws_id,
                user_id,
            )
            await self._store.end_presence(conn, ws_id, user_id)
            await self._audit.record(
                conn,
                AuditEntry(
                    "member.left" if leaving else "member.removed",
                    actor.user_id,
                    ws_id,
                    "member",
                    str(user_id),
                    old_value={"role": current.value},
                ),
                actor.client,
            )
            committed = await self.membership_changed(conn, ws_id, user_id)
        await committed()

    # -- audit ------------------------------------------------------------------------------

    async def audit_logs(
        self, actor: Actor, ws_id: uuid.UUID, *, limit: int, before: int | None
    ) -> dict[str, Any]:
        await self.require(self._pool, actor, ws_id, Role.ADMIN)
        items = await self._audit.page(self._pool, ws_id, limit=limit, before=before)
        next_before = items[-1]["log_id"] if len(items) == limit else None
        return {"items": items, "next_before": next_before}
