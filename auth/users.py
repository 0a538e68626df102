"""The `users` table: records and the queries on them.

Emails and usernames are stored and looked up in their normal form (`auth.identifiers`),
whichever path they come by (the API, OAuth, the command line).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from auth.identifiers import normal_form
from kernel.errors import Conflict
from kernel.sql import Executor

_COLUMNS = """user_id, email, password_hash, username, first_name, last_name, profile_image_url,
    email_verified, is_active, oauth_provider, oauth_provider_id, created_at, updated_at,
    last_login, tokens_valid_after, token_generation"""


@dataclass(frozen=True)
class User:
    user_id: uuid.UUID
    email: str
    password_hash: str | None
    username: str
    first_name: str | None
    last_name: str | None
    profile_image_url: str | None
    email_verified: bool
    is_active: bool
    oauth_provider: str | None
    oauth_provider_id: str | None
    created_at: datetime
    updated_at: datetime
    last_login: datetime | None
    tokens_valid_after: datetime
    token_generation: int

    def public(self) -> dict[str, Any]:
        """What clients see: never the password hash or OAuth identifiers."""
        return {
            "user_id": str(self.user_id),
            "email": self.email,
            "username": self.username,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "profile_image_url": self.profile_image_url,
            "email_verified": self.email_verified,
            "is_active": self.is_active,
            "oauth_provider": self.oauth_provider,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "last_login": self.last_login.isoformat() if self.last_login else None,
        }


@dataclass(frozen=True)
class Profile:
    """What other people may be shown of a user (the email only to those allowed to see it)."""

    user_id: uuid.UUID
    username: str
    email: str
    first_name: str | None
    last_name: str | None
    profile_image_url: str | None

    def public(self, *, show_email: bool) -> dict[str, Any]:
        shown = {
            "user_id": str(self.user_id),
            "username": self.username,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "profile_image_url": self.profile_image_url,
        }
        if not show_email:
            del shown["email"]
        return shown


def _user(row: asyncpg.Record | None) -> User | None:
    return User(**dict(row)) if row is not None else None


def _normalised(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        k: normal_form(v) if k in ("email", "username") and isinstance(v, str) else v
        for k, v in fields.items()
    }


def _conflict_from(exc: asyncpg.UniqueViolationError) -> Conflict:
    field = "username" if "username" in (exc.constraint_name or "") else "email"
    return Conflict(f"That {field} is already taken.", {field: "is already taken"})


class UserStore:
    async def by_id(self, db: Executor, user_id: uuid.UUID) -> User | None:
        return _user(await db.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE user_id = $1", user_id))

    async def profiles(
        self, db: Executor, user_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, Profile]:
        """user id → profile, in one query; ids of accounts that are gone are left out."""
        if not user_ids:
            return {}
        rows = await db.fetch(
            """SELECT user_id, username, email, first_name, last_name, profile_image_url
               FROM users WHERE user_id = ANY($1::uuid[])""",
            list(user_ids),
        )
        return {r["user_id"]: Profile(**dict(r)) for r in rows}

    async def token_generation(self, db: Executor, user_id: uuid.UUID) -> int:
        """The generation new access tokens carry, read under a share lock on the user's row
        so that ending every session (which updates the row first) waits for the caller's
        transaction and then ends what it issued too."""
        generation: int = await db.fetchval(
            "SELECT token_generation FROM users WHERE user_id = $1 FOR SHARE", user_id
        )
        return generation

    async def by_login(self, db: Executor, login: str) -> User | None:
        """By email or username, case-insensitively."""
        return _user(
            await db.fetchrow(
                f"SELECT {_COLUMNS} FROM users WHERE lower(email) = lower($1) "
                "OR lower(username) = lower($1) ORDER BY (lower(email) = lower($1)) DESC LIMIT 1",
                normal_form(login),
            )
        )

    async def by_email(self, db: Executor, email: str) -> User | None:
        return _user(
            await db.fetchrow(
                f"SELECT {_COLUMNS} FROM users WHERE lower(email) = lower($1)", normal_form(email)
            )
        )

    async def by_oauth(self, db: Executor, provider: str, provider_id: str) -> User | None:
        return _user(
            await db.fetchrow(
                f"SELECT {_COLUMNS} FROM users "
                "WHERE oauth_provider = $1 AND oauth_provider_id = $2",
                provider,
                provider_id,
            )
        )

    async def create(self, db: Executor, **fields: Any) -> User:
        fields = _normalised(fields)
        names = ", ".join(fields)
        params = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
        try:
            row = await db.fetchrow(
                f"INSERT INTO users ({names}) VALUES ({params}) RETURNING {_COLUMNS}",
                *fields.values(),
            )
        except asyncpg.UniqueViolationError as exc:
            raise _conflict_from(exc) from None
        user = _user(row)
        assert user is not None
        return user

    async def update(self, db: Executor, user_id: uuid.UUID, **fields: Any) -> User | None:
        """Set the given columns; names come from our code, never from clients."""
        if not fields:
            return await self.by_id(db, user_id)
        fields = _normalised(fields)
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
        try:
            row = await db.fetchrow(
                f"UPDATE users SET {sets} WHERE user_id = $1 RETURNING {_COLUMNS}",
                user_id,
                *fields.values(),
            )
        except asyncpg.UniqueViolationError as exc:
            raise _conflict_from(exc) from None
        return _user(row)
