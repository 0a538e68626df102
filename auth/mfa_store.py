"""The SQL of two-factor login: `user_totp`, `mfa_recovery_codes`, `users.mfa_enabled_at`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import asyncpg

from kernel.sql import Executor


@dataclass(frozen=True)
class TotpRecord:
    sealed: dict[str, str]
    confirmed: bool
    last_used_step: int


class MfaStore:
    async def enabled(self, db: Executor, user_id: uuid.UUID) -> bool:
        on: bool | None = await db.fetchval(
            "SELECT mfa_enabled_at IS NOT NULL FROM users WHERE user_id = $1", user_id
        )
        return bool(on)

    async def totp(
        self, db: Executor, user_id: uuid.UUID, *, for_update: bool = False
    ) -> TotpRecord | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await db.fetchrow(
            "SELECT secret_sealed, confirmed_at IS NOT NULL AS confirmed, last_used_step "
            f"FROM user_totp WHERE user_id = $1{lock}",
            user_id,
        )
        if row is None:
            return None
        sealed = row["secret_sealed"]
        return TotpRecord(
            json.loads(sealed) if isinstance(sealed, str) else dict(sealed),
            row["confirmed"],
            row["last_used_step"],
        )

    async def put_pending(self, db: Executor, user_id: uuid.UUID, sealed: dict[str, str]) -> None:
        """A new, unconfirmed secret; it replaces an unconfirmed one (never a confirmed one)."""
        await db.execute(
            """INSERT INTO user_totp (user_id, secret_sealed) VALUES ($1, $2::jsonb)
               ON CONFLICT (user_id) DO UPDATE
                 SET secret_sealed = EXCLUDED.secret_sealed, last_used_step = 0,
                     created_at = now()
                 WHERE user_totp.confirmed_at IS NULL""",
            user_id,
            sealed,  # the pool's codec writes JSONB from Python values
        )

    async def confirm(self, conn: asyncpg.Connection, user_id: uuid.UUID, step: int) -> None:
        await conn.execute(
            "UPDATE user_totp SET confirmed_at = now(), last_used_step = $2 WHERE user_id = $1",
            user_id,
            step,
        )
        await conn.execute("UPDATE users SET mfa_enabled_at = now() WHERE user_id = $1", user_id)

    async def use_step(self, db: Executor, user_id: uuid.UUID, step: int) -> bool:
        """Record a code's step as used; False when it (or a later one) already was."""
        used = await db.fetchval(
            """UPDATE user_totp SET last_used_step = $2
               WHERE user_id = $1 AND last_used_step < $2 RETURNING 1""",
            user_id,
            step,
        )
        return used is not None

    async def disable(self, conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
        await conn.execute("DELETE FROM mfa_recovery_codes WHERE user_id = $1", user_id)
        await conn.execute("DELETE FROM user_totp WHERE user_id = $1", user_id)
        await conn.execute("UPDATE users SET mfa_enabled_at = NULL WHERE user_id = $1", user_id)

    async def replace_recovery_codes(
        self, conn: asyncpg.Connection, user_id: uuid.UUID, hashes: list[str]
    ) -> None:
        await conn.execute("DELETE FROM mfa_recovery_codes WHERE user_id = $1", user_id)
        await conn.execute(
            """INSERT INTO mfa_recovery_codes (user_id, code_hash)
               SELECT $1, h FROM unnest($2::text[]) AS h""",
            user_id,
            hashes,
        )

    async def spend_recovery_code(self, db: Executor, user_id: uuid.UUID, code_hash: str) -> bool:
        spent = await db.fetchval(
            """UPDATE mfa_recovery_codes SET used_at = now()
               WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING 1""",
            user_id,
            code_hash,
        )
        return spent is not None

    async def recovery_codes_left(self, db: Executor, user_id: uuid.UUID) -> int:
        left: int = await db.fetchval(
            "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
            user_id,
        )
        return left
