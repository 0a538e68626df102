"""Refresh tokens: opaque, stored only as a hash, rotated on every use, grouped in families.

A family is one login. Each refresh spends the presented token and issues its successor,
in one transaction holding the row lock. Within the grace period a spent token yields the
*same* successor (two tabs refreshing at once both stay logged in): the successor is kept
sealed with a key derived from the spent token, so only its holder can unseal it. After
the grace period a spent token is a replay: the whole family is revoked.

Expiry slides (`idle_ttl` from each refresh) but never passes the family's absolute expiry.

Each family is also a row of `logins` (its id is the family id): the device, address and
times a person sees in their list of logins, and `ended_at`, which refuses the login's
access tokens at once (they carry its id). Every way of revoking a family ends its login.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from auth.tokens import new_opaque_token, token_digest
from kernel.context import ClientInfo


def _seal_key(spent_token: str) -> bytes:
    return hashlib.sha256(b"collab-refresh-successor:" + spent_token.encode()).digest()


def _seal(spent_token: str, successor: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_seal_key(spent_token)).encrypt(nonce, successor.encode(), None)


def _unseal(spent_token: str, sealed: bytes) -> str:
    return AESGCM(_seal_key(spent_token)).decrypt(sealed[:12], sealed[12:], None).decode()


@contextlib.asynccontextmanager
async def _maybe_transaction(
    db: asyncpg.Connection | asyncpg.Pool,
) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a transaction, from a pool or the connection given."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db


class Outcome(enum.Enum):
    ROTATED = "rotated"
    GRACE = "grace"  # spent moments ago: the same successor again
    REUSED = "reused"  # replayed after the grace period: family revoked
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class Rotation:
    outcome: Outcome
    user_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    token: str | None = None
    token_generation: int | None = None  # what the new access token carries


class RefreshTokens:
    def __init__(
        self,
        idle_ttl: timedelta = timedelta(days=14),
        absolute_ttl: timedelta = timedelta(days=30),
        grace: timedelta = timedelta(seconds=10),
    ) -> None:
        self.idle_ttl = idle_ttl
        self.absolute_ttl = absolute_ttl
        self.grace = grace

    async def issue(
        self,
        conn: asyncpg.Connection,
        user_id: uuid.UUID,
        device_info: str | None,
        *,
        family_id: uuid.UUID | None = None,
        absolute_expires_at: datetime | None = None,
    ) -> tuple[uuid.UUID, str]:
        now = datetime.now(UTC)
        absolute = absolute_expires_at or now + self.absolute_ttl
        token = new_opaque_token()
        token_id: uuid.UUID = await conn.fetchval(
            """INSERT INTO refresh_tokens (user_id, token_hash, expires_at, absolute_expires_at,
                                           family_id, device_info)
               VALUES ($1, $2, $3, $4, coalesce($5, gen_random_uuid()), $6)
               RETURNING token_id""",
            user_id,
            token_digest(token),
            min(now + self.idle_ttl, absolute),
            absolute,
            family_id,
            (device_info or "")[:500] or None,
        )
        return token_id, token

    async def open_login(
        self, conn: asyncpg.Connection, user_id: uuid.UUID, client: ClientInfo
    ) -> tuple[uuid.UUID, str]:
        """A new login (token family): its id and its first refresh token."""
        login_id: uuid.UUID = await conn.fetchval(
            """INSERT INTO logins (login_id, user_id, user_agent, ip)
               VALUES (gen_random_uuid(), $1, $2, $3::inet) RETURNING login_id""",
            user_id,
            (client.user_agent or "")[:500] or None,
            client.ip,
        )
        _, token = await self.issue(conn, user_id, client.user_agent, family_id=login_id)
        return login_id, token

    async def login_is_live(
        self, conn: asyncpg.Connection | asyncpg.Pool, login_id: uuid.UUID
    ) -> bool:
        live: bool | None = await conn.fetchval(
            "SELECT ended_at IS NULL FROM logins WHERE login_id = $1", login_id
        )
        return bool(live)

    async def rotate(
        self,
        conn: asyncpg.Connection,
        token: str,
        device_info: str | None,
        ip: str | None = None,
    ) -> Rotation:
        async with conn.transaction():
            # The user's row first, shared, as logins do: ending every session updates it
            # before revoking, so it either waits for this rotation and then revokes the
            # successor too, or has finished and this token is revoked. Read under that
            # lock, the generation is the one the new access token must carry.
            generation = await conn.fetchval(
                """SELECT u.token_generation FROM refresh_tokens rt JOIN users u USING (user_id)
                   WHERE rt.token_hash = $1 FOR SHARE OF u""",
                token_digest(token),
            )
            if generation is None:
                return Rotation(Outcome.UNKNOWN)
            row = await conn.fetchrow(
                """SELECT rt.token_id, rt.user_id, rt.family_id, rt.expires_at,
                          rt.absolute_expires_at, rt.revoked_at, rt.used_at, rt.successor_sealed,
                          u.is_active, now() AS now
                   FROM refresh_tokens rt JOIN users u USING (user_id)
                   WHERE rt.token_hash = $1 FOR UPDATE OF rt""",
                token_digest(token),
            )
            if row is None:
                return Rotation(Outcome.UNKNOWN)
            user_id, family_id, now = row["user_id"], row["family_id"], row["now"]
            if row["used_at"] is not None:
                return await self._spent(conn, row, token, generation)
            if row["revoked_at"] is not None:
                return Rotation(Outcome.REVOKED, user_id, family_id)
            if not row["is_active"]:
                return Rotation(Outcome.INACTIVE, user_id, family_id)
            if row["expires_at"] <= now or row["absolute_expires_at"] <= now:
                return Rotation(Outcome.EXPIRED, user_id, family_id)
            new_id, new_token = await self.issue(
                conn,
                user_id,
                device_info,
                family_id=family_id,
                absolute_expires_at=row["absolute_expires_at"],
            )
            await conn.execute(
                """UPDATE refresh_tokens SET used_at = now(), revoked_at = now(),
                          replaced_by = $2, successor_sealed = $3
                   WHERE token_id = $1""",
                row["token_id"],
                new_id,
                _seal(token, new_token),
            )
            await conn.execute(
                """UPDATE logins SET last_used_at = now(),
                          user_agent = coalesce($2, user_agent), ip = coalesce($3::inet, ip)
                   WHERE login_id = $1""",
                family_id,
                (device_info or "")[:500] or None,
                ip,
            )
            return Rotation(Outcome.ROTATED, user_id, family_id, new_token, generation)

    async def _spent(
        self, conn: asyncpg.Connection, row: asyncpg.Record, token: str, generation: int
    ) -> Rotation:
        user_id, family_id = row["user_id"], row["family_id"]
        within_grace = row["now"] - row["used_at"] <= self.grace
        if within_grace and row["is_active"] and row["successor_sealed"] is not None:
            successor = _unseal(token, row["successor_sealed"])
            still_valid = await conn.fetchval(
                "SELECT revoked_at IS NULL FROM refresh_tokens WHERE token_hash = $1",
                token_digest(successor),
            )
            if still_valid:
                return Rotation(Outcome.GRACE, user_id, family_id, successor, generation)
        await self.revoke_family(conn, family_id)
        return Rotation(Outcome.REUSED, user_id, family_id)

    async def revoke_family(
        self, conn: asyncpg.Connection | asyncpg.Pool, family_id: uuid.UUID
    ) -> None:
        await conn.execute(
            """UPDATE refresh_tokens SET revoked_at = now(), successor_sealed = NULL
               WHERE family_id = $1 AND (revoked_at IS NULL OR successor_sealed IS NOT NULL)""",
            family_id,
        )
        await conn.execute(
            "UPDATE logins SET ended_at = now() WHERE login_id = $1 AND ended_at IS NULL",
            family_id,
        )

    async def prune(
        self, conn: asyncpg.Connection | asyncpg.Pool, after: timedelta = timedelta(days=1)
    ) -> int:
        """Delete what can never be used again: every token of a family whose absolute expiry
        passed (`after` ago), then logins left without tokens. Spent tokens of a live
        family stay (a replay of one must still end it). The number of tokens deleted."""
        async with _maybe_transaction(conn) as db:
            # expires_at never passes absolute_expires_at: its index finds the candidates.
            deleted: int = await db.fetchval(
                """WITH gone AS (
                       DELETE FROM refresh_tokens
                       WHERE expires_at < now() - $1::interval
                         AND absolute_expires_at < now() - $1::interval
                       RETURNING 1)
                   SELECT count(*) FROM gone""",
                after,
            )
            # A login row is written with its first token in one transaction, so a login
            # without tokens that old is a pruned (or never completed) one.
            await db.execute(
                """DELETE FROM logins l
                   WHERE l.created_at < now() - $1::interval - $2::interval
                     AND NOT EXISTS (SELECT 1 FROM refresh_tokens rt
                                     WHERE rt.family_id = l.login_id)""",
                after,
                self.absolute_ttl,
            )
        return deleted

    async def family_of(
        self, conn: asyncpg.Connection | asyncpg.Pool, token: str
    ) -> tuple[uuid.UUID, uuid.UUID] | None:
        row = await conn.fetchrow(
            "SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1",
            token_digest(token),
        )
        return (row["user_id"], row["family_id"]) if row else None

    async def revoke_all(self, conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID) -> None:
        await self.revoke_all_except(conn, user_id, None)

    async def revoke_all_except(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        user_id: uuid.UUID,
        keep: uuid.UUID | None,
    ) -> list[uuid.UUID]:
        """Revoke every family of this user but `keep` (None: all); the logins ended."""
        await conn.execute(
            """UPDATE refresh_tokens SET revoked_at = now(), successor_sealed = NULL
               WHERE user_id = $1 AND family_id IS DISTINCT FROM $2
                 AND (revoked_at IS NULL OR successor_sealed IS NOT NULL)""",
            user_id,
            keep,
        )
        rows = await conn.fetch(
            """UPDATE logins SET ended_at = now()
               WHERE user_id = $1 AND login_id IS DISTINCT FROM $2 AND ended_at IS NULL
               RETURNING login_id""",
            user_id,
            keep,
        )
        return [row["login_id"] for row in rows]
