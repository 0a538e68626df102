"""Undoing a pending account deletion at login (the deletion itself: auth.account_deletion).

`users.deleted_at` records when deletion was asked for and `users.purge_after` when its grace
period ends (both set together). A login inside the grace period clears them; a login after
it is refused as an unknown account would be, until the purge removes the row for good.
Every path that issues a new login (password, second factor, OAuth) goes through
`AccountService.start_session`, which calls this.
"""

from __future__ import annotations

import uuid

import asyncpg

from kernel.audit import AuditEntry, AuditLog
from kernel.context import ClientInfo
from kernel.errors import InvalidCredentials


async def restore_on_login(
    conn: asyncpg.Connection, user_id: uuid.UUID, client: ClientInfo | None = None
) -> bool:
    """Undo a pending deletion for a user who just proved who they are; whether one was undone.

    Call it in the login's transaction, after the password (and second factor) check and
    before issuing tokens. Past the grace period the account is as good as gone: this raises
    InvalidCredentials, the same answer as a wrong password (no enumeration).
    """
    row = await conn.fetchrow(
        """SELECT deleted_at IS NOT NULL AS pending, purge_after <= now() AS expired
           FROM users WHERE user_id = $1 FOR UPDATE""",
        user_id,
    )
    if row is None or not row["pending"]:
        return False
    if row["expired"]:
        raise InvalidCredentials()
    await conn.execute(
        "UPDATE users SET deleted_at = NULL, purge_after = NULL WHERE user_id = $1", user_id
    )
    await AuditLog().record(
        conn,
        AuditEntry("account.restored", user_id, resource_type="user", resource_id=str(user_id)),
        client,
    )
    return True
