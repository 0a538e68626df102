"""API keys (personal access tokens): create, list, revoke, and verify one presented.

A key is `collab_` followed by 43 base62 characters (256 random bits). Only its SHA-256 is
stored (a slow hash buys nothing against 256 bits of entropy), with its first characters
kept for display. A key is looked up on every use, so a revoked or expired key is refused
at once on every process. Its last use (time and address) is recorded at most once a
minute, so a busy script does not write on every request. Revoking a key also closes the
sockets opened with it, on every process.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import AfterValidator, Field

from auth.callers import Caller
from auth.rate_limit import Limit, RateLimiter
from auth.revocation import SessionRevocation
from auth.tokens import token_digest
from kernel.audit import AuditEntry, AuditLog
from kernel.context import ClientInfo
from kernel.errors import Conflict, InvalidToken, NotFound
from kernel.validation import Input, Text

KEY_PREFIX = "collab_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_LENGTH = 43  # 62**43 > 2**256
_KEY = re.compile(rf"{KEY_PREFIX}[0-9A-Za-z]{{{_BODY_LENGTH}}}")
DISPLAY_LENGTH = 12  # `collab_` and five characters: enough to tell keys apart
MAX_KEYS_PER_USER = 50
MAX_LIFETIME_DAYS = 3650
USE_RECORD_SECONDS = 60

LIMITS = {"api_key:account": Limit(30, 3600)}  # keys created per user per hour


def new_key() -> str:
    number = secrets.randbits(256)
    body = []
    for _ in range(_BODY_LENGTH):
        number, digit = divmod(number, 62)
        body.append(_ALPHABET[digit])
    return KEY_PREFIX + "".join(body)


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def _unique(scopes: list[str]) -> list[str]:
    if len(set(scopes)) != len(scopes):
        raise ValueError("must not repeat a scope")
    return scopes


class KeyInput(Input):
    name: Text(100, 1)  # type: ignore[valid-type]
    scopes: Annotated[
        list[Literal["read", "write", "deploy", "admin"]],
        Field(min_length=1, max_length=4),
        AfterValidator(_unique),
    ]
    expires_in_days: Annotated[int, Field(ge=1, le=MAX_LIFETIME_DAYS)] | None = None


@dataclass(frozen=True)
class ApiKey:
    key_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None

    def public(self) -> dict[str, Any]:
        return {
            "key_id": str(self.key_id),
            "name": self.name,
            "prefix": self.prefix,
            "scopes": self.scopes,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "last_used_ip": self.last_used_ip,
        }


@dataclass(frozen=True)
class KeyHolder:
    """What a valid key proves: whose it is and what it may do."""

    user_id: uuid.UUID
    key_id: uuid.UUID
    scopes: frozenset[str]


_COLUMNS = """key_id, name, prefix, scopes, created_at, expires_at, last_used_at,
    host(last_used_ip) AS last_used_ip"""


def _key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(**{**dict(row), "scopes": list(row["scopes"])})


class ApiKeys:
    def __init__(
        self,
        pool: asyncpg.Pool,
        audit: AuditLog,
        limiter: RateLimiter,
        revocation: SessionRevocation,
    ) -> None:
        self._pool = pool
        self._audit = audit
        self._limiter = limiter
        self._revocation = revocation

    async def create(self, caller: Caller, data: KeyInput, client: ClientInfo) -> dict[str, Any]:
        """A new key, answered once: only its hash is kept."""
        await self._limiter.hit("api_key:account", str(caller.user_id))
        key = new_key()
        scopes = [s for s in ("read", "write", "deploy", "admin") if s in data.scopes]
        async with self._pool.acquire() as conn, conn.transaction():
            # One creation at a time per user, so the count below cannot be raced past.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 9))", str(caller.user_id)
            )
            live = await conn.fetchval(
                """SELECT count(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL
                     AND (expires_at IS NULL OR expires_at > now())""",
                caller.user_id,
            )
            if live >= MAX_KEYS_PER_USER:
                raise Conflict(
                    f"You have {MAX_KEYS_PER_USER} API keys, the most allowed; revoke one first."
                )
            row = await conn.fetchrow(
                f"""INSERT INTO api_keys (user_id, name, key_hash, prefix, scopes, expires_at)
                    VALUES ($1, $2, $3, $4, $5,
                            now() + make_interval(days => $6::int))
                    RETURNING {_COLUMNS}""",
                caller.user_id,
                data.name,
                token_digest(key),
                key[:DISPLAY_LENGTH],
                scopes,
                data.expires_in_days,
            )
            created = _key(row)
            await self._audit.record(
                conn,
                AuditEntry(
                    "auth.api_key_created",
                    caller.user_id,
                    resource_type="api_key",
                    resource_id=str(created.key_id),
                    new_value={"name": created.name, "prefix": created.prefix, "scopes": scopes},
                ),
                client,
            )
        return {
            "key_id": str(created.key_id),
            "key": key,
            "name": created.name,
            "prefix": created.prefix,
            "scopes": scopes,
            "created_at": created.created_at.isoformat(),
            "expires_at": created.expires_at.isoformat() if created.expires_at else None,
        }

    async def keys_of(self, user_id: uuid.UUID) -> list[ApiKey]:
        """The user's keys that still work, newest first."""
        rows = await self._pool.fetch(
            f"""SELECT {_COLUMNS} FROM api_keys
                WHERE user_id = $1 AND revoked_at IS NULL
                  AND (expires_at IS NULL OR expires_at > now())
                ORDER BY created_at DESC, key_id""",
            user_id,
        )
        return [_key(row) for row in rows]

    async def revoke(self, caller: Caller, key_id: uuid.UUID, client: ClientInfo) -> None:
        """Revoke one of the caller's keys; another's (or an unknown one) is NotFound."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE api_keys SET revoked_at = now()
                   WHERE key_id = $1 AND user_id = $2 AND revoked_at IS NULL
                   RETURNING name, prefix""",
                key_id,
                caller.user_id,
            )
            if row is None:
                raise NotFound("No such API key.")
            await self._audit.record(
                conn,
                AuditEntry(
                    "auth.api_key_revoked",
                    caller.user_id,
                    resource_type="api_key",
                    resource_id=str(key_id),
                    old_value={"name": row["name"], "prefix": row["prefix"]},
                ),
                client,
            )
        await self._revocation.credential_ended(key_id)  # its sockets close too

    async def revoke_all(self, conn: asyncpg.Connection, user_id: uuid.UUID) -> list[uuid.UUID]:
        """Revoke every live key of this user, in the caller's transaction; the ids, for
        `credentials_ended` once it commits."""
        rows = await conn.fetch(
            """UPDATE api_keys SET revoked_at = now()
               WHERE user_id = $1 AND revoked_at IS NULL RETURNING key_id""",
            user_id,
        )
        return [row["key_id"] for row in rows]

    async def credentials_ended(self, key_ids: list[uuid.UUID]) -> None:
        for key_id in key_ids:
            await self._revocation.credential_ended(key_id)  # their sockets close too

    async def verify(self, key: str, client: ClientInfo | None) -> KeyHolder:
        """The holder of a presented key, or InvalidToken (unknown, revoked or expired)."""
        if not _KEY.fullmatch(key):
            raise InvalidToken("The API key is malformed.")
        row = await self._pool.fetchrow(
            """SELECT k.key_id, k.user_id, k.scopes, k.revoked_at IS NOT NULL AS revoked,
                      k.expires_at IS NOT NULL AND k.expires_at <= now() AS expired,
                      u.deleted_at IS NOT NULL AS deleting,
                      k.last_used_at IS NULL
                        OR k.last_used_at < now() - make_interval(secs => $2) AS stale
               FROM api_keys k JOIN users u USING (user_id) WHERE k.key_hash = $1""",
            token_digest(key),
            USE_RECORD_SECONDS,
        )
        if row is None or row["revoked"]:
            raise InvalidToken("This API key is not valid (unknown or revoked).")
        if row["expired"]:
            raise InvalidToken("This API key has expired.")
        if row["deleting"]:
            # Deletion ends every login; a key must not outlive them (logging in restores
            # the account, and its keys with it).
            raise InvalidToken("The account behind this key is being deleted.")
        if row["stale"]:
            await self._pool.execute(
                """UPDATE api_keys SET last_used_at = now(),
                          last_used_ip = coalesce($2::inet, last_used_ip)
                   WHERE key_id = $1""",
                row["key_id"],
                client.ip if client else None,
            )
        return KeyHolder(row["user_id"], row["key_id"], frozenset(row["scopes"]))
