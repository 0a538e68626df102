"""Account decisions: register, log in, refresh, log out, verify email, reset password.

Never reveals whether an account exists: a wrong login and an unknown one answer the same
and cost the same argon2 work, and `forgot` does its work after answering.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from auth.account_inputs import LoginInput, ProfileInput, RegisterInput
from auth.api_keys import ApiKeys, looks_like_key
from auth.callers import Caller
from auth.devices import Devices
from auth.lifecycle import restore_on_login
from auth.mail import Mail, Mailer
from auth.mfa_store import MfaStore
from auth.mfa_tokens import MfaTokens
from auth.password_policy import PasswordPolicy, password_problem
from auth.passwords import PasswordHashing
from auth.rate_limit import RateLimiter
from auth.refresh_tokens import Outcome, RefreshTokens
from auth.revocation import SessionRevocation
from auth.tokens import AccessTokens, new_opaque_token, token_digest
from auth.users import User, UserStore
from kernel.audit import AuditEntry, AuditLog
from kernel.background import BackgroundTasks
from kernel.context import ClientInfo
from kernel.errors import (
    Forbidden,
    Gone,
    InvalidCredentials,
    InvalidToken,
    TokenExpired,
    TokenReused,
    ValidationFailed,
)

VERIFY_TTL = timedelta(hours=24)
RESET_TTL = timedelta(minutes=15)


def _spellings(login: str, user: User | None) -> list[str]:
    """The names a login's failures count under: the one typed, then (for an account) its
    email and username, each once (the limiter compares them case-insensitively)."""
    names: dict[str, str] = {}
    for name in [login] + ([user.email, user.username] if user is not None else []):
        names.setdefault(name.strip().lower(), name)
    return list(names.values())


@dataclass(frozen=True)
class Links:
    """Where mailed links point: the configured public (or front-end) URL, never Host."""

    base_url: str

    def verify_email(self, token: str) -> str:
        return f"{self.base_url}/verify-email?token={token}"

    def reset_password(self, token: str) -> str:
        return f"{self.base_url}/reset-password?token={token}"


@dataclass(frozen=True)
class Dependencies:
    pool: asyncpg.Pool
    users: UserStore
    hashing: PasswordHashing
    access: AccessTokens
    refresh: RefreshTokens
    limiter: RateLimiter
    audit: AuditLog
    mailer: Mailer
    tasks: BackgroundTasks
    revocation: SessionRevocation
    links: Links
    password_policy: PasswordPolicy
    # API keys accepted as bearer tokens, and the logins' new-device notice (None: neither).
    api_keys: ApiKeys | None = None
    devices: Devices | None = None
    # The second login step (TOTP); None: nobody is asked for one.
    mfa_tokens: MfaTokens | None = None


class AccountService:
    def __init__(self, deps: Dependencies) -> None:
        self._d = deps

    @property
    def dependencies(self) -> Dependencies:
        """What the account's other services (auth/mfa.py, auth/account_changes.py) share."""
        return self._d

    # -- tokens ----------------------------------------------------------------------------

    def _pair(
        self, user: User, refresh_token: str, generation: int, login_id: uuid.UUID
    ) -> dict[str, Any]:
        return {
            "user": user.public(),
            "access_token": self._d.access.issue(user.user_id, generation, login_id),
            "refresh_token": refresh_token,
            "token_type": "Bearer",
            "expires_in": self._d.access.ttl_seconds,
        }

    async def authenticate(self, token: str, client: ClientInfo | None = None) -> Caller:
        """The active user an access token or API key names, with that credential (the
        login, or the key and its scopes), or Unauthenticated. `client`: where the call
        came from, recorded as a key's last use."""
        if looks_like_key(token) and self._d.api_keys is not None:
            holder = await self._d.api_keys.verify(token, client)
            user = await self._d.users.by_id(self._d.pool, holder.user_id)
            if user is None or not user.is_active:
                raise InvalidToken("The account behind this key is not active.")
            return Caller.of(user, key_id=holder.key_id, scopes=holder.scopes)
        claims = self._d.access.verify(token)
        user = await self._d.users.by_id(self._d.pool, claims.user_id)
        if user is None or not user.is_active:
            raise InvalidToken("The account behind this token is not active.")
        if claims.generation != user.token_generation:
            raise InvalidToken("This token was revoked; log in again.")
        if claims.login_id is not None and not await self._d.refresh.login_is_live(
            self._d.pool, claims.login_id
        ):
            raise InvalidToken("This login was ended; log in again.")
        return Caller.of(user, login_id=claims.login_id)

    async def start_session(
        self, conn: asyncpg.Connection, user: User, client: ClientInfo
    ) -> dict[str, Any]:
        """Issue a new token family for a user who just proved who they are."""
        # Logging in undoes a pending account deletion (refused once its grace period is over).
        await restore_on_login(conn, user.user_id, client)
        generation = await self._d.users.token_generation(conn, user.user_id)
        login_id, refresh_token = await self._d.refresh.open_login(conn, user.user_id, client)
        if self._d.devices is not None:
            await self._d.devices.note_login(conn, user, client)
        return self._pair(user, refresh_token, generation, login_id)

    async def mfa_step(
        self, conn: asyncpg.Connection | asyncpg.Pool, user: User, method: str
    ) -> dict[str, Any] | None:
        """`{mfa_required, mfa_token}` when the user has TOTP on (the first factor, a
        password or a provider, is proved; the tokens wait for the second), else None."""
        if self._d.mfa_tokens is None or not await MfaStore().enabled(conn, user.user_id):
            return None
        return {"mfa_required": True, "mfa_token": self._d.mfa_tokens.issue(user.user_id, method)}

    # -- register and log in ---------------------------------------------------------------

    async def register(self, data: RegisterInput, client: ClientInfo) -> dict[str, Any]:
        await self._d.limiter.hit_ip("register", client.ip)
        await self._d.limiter.hit_account("register", data.email)
        problem = password_problem(
            data.password, self._d.password_policy, username=data.username, email=data.email
        )
        if problem:
            raise ValidationFailed({"password": problem})
        password_hash = await self._d.hashing.hash(data.password)
        async with self._d.pool.acquire() as conn, conn.transaction():
            user = await self._d.users.create(
                conn,
                email=data.email,
                username=data.username,
                password_hash=password_hash,
                first_name=data.first_name,
                last_name=data.last_name,
                last_login=datetime.now(UTC),
            )
            verification = await self._new_account_token(conn, user.user_id, "verify_email")
            pair = await self.start_session(conn, user, client)
            await self._d.audit.record(
                conn,
                AuditEntry(
                    "user.registered",
                    user.user_id,
                    resource_type="user",
                    resource_id=str(user.user_id),
                    new_value={"email": user.email, "username": user.username},
                ),
                client,
            )
        self._mail_verification(user, verification)
        return pair

    async def login(self, data: LoginInput, client: ClientInfo) -> dict[str, Any]:
        await self._d.limiter.hit_ip("login", client.ip)
        await self._d.limiter.hit_account("login", data.login)
        await self._d.limiter.check_login_delay(data.login)
        user = await self._d.users.by_login(self._d.pool, data.login)
        # The slow-down is the account's, whichever name it was typed with: its email and
        # its username share it (as wrong two-factor codes do, auth/mfa.py).
        spellings = _spellings(data.login, user)
        for spelling in spellings[1:]:
            await self._d.limiter.check_login_delay(spelling)
        verdict = await self._d.hashing.verify(user.password_hash if user else None, data.password)
        if user is None or not verdict.ok or not user.is_active:
            for spelling in spellings:
                await self._d.limiter.record_login_failure(spelling)
            await self._d.audit.record(
                self._d.pool,
                AuditEntry(
                    "user.login_failed",
                    user.user_id if user else None,
                    resource_type="user",
                    new_value={"login": data.login[:255]},
                ),
                client,
            )
            raise InvalidCredentials()
        updates: dict[str, Any] = {"last_login": datetime.now(UTC)}
        if verdict.needs_rehash:
            updates["password_hash"] = await self._d.hashing.hash(data.password)
        step = await self.mfa_step(self._d.pool, user, "password")
        if step is not None:
            # Failures are cleared only once the second step passes: a known password must
            # not reset the slow-down that wrong codes build up (auth/mfa.py).
            updates.pop("last_login")
            await self._d.users.update(self._d.pool, user.user_id, **updates)
            await self._d.audit.record(
                self._d.pool,
                AuditEntry(
                    "auth.mfa_required",
                    user.user_id,
                    resource_type="user",
                    resource_id=str(user.user_id),
                ),
                client,
            )
            return step
        for spelling in spellings:
            await self._d.limiter.clear_login_failures(spelling)
        async with self._d.pool.acquire() as conn, conn.transaction():
            fresh = await self._d.users.update(conn, user.user_id, **updates)
            assert fresh is not None
            pair = await self.start_session(conn, fresh, client)
            await self._d.audit.record(
                conn,
                AuditEntry(
                    "user.login",
                    user.user_id,
                    resource_type="user",
                    resource_id=str(user.user_id),
                    new_value={"rehashed": verdict.needs_rehash},
                ),
                client,
            )
        return pair

    async def refresh(self, token: str, client: ClientInfo) -> dict[str, Any]:
        await self._d.limiter.hit_ip("refresh", client.ip)
        # Per login (the token's hash names one family member): a stolen token cannot be
        # hammered from many addresses.
        await self._d.limiter.hit_account("refresh", token_digest(token))
        async with self._d.pool.acquire() as conn:
            rotation = await self._d.refresh.rotate(conn, token, client.user_agent, client.ip)
            if rotation.outcome is Outcome.REUSED:
                await self._d.audit.record(
                    conn,
                    AuditEntry(
                        "token.reuse_detected",
                        rotation.user_id,
                        resource_type="refresh_token_family",
                        resource_id=str(rotation.family_id),
                    ),
                    client,
                )
                assert rotation.family_id is not None
                await self._d.revocation.credential_ended(rotation.family_id)
                raise TokenReused(
                    "This refresh token was already used; every session of this login was "
                    "ended. Log in again."
                )
            if rotation.outcome in (Outcome.UNKNOWN, Outcome.REVOKED, Outcome.INACTIVE):
                raise InvalidToken("The refresh token is not valid; log in again.")
            if rotation.outcome is Outcome.EXPIRED:
                raise TokenExpired("The refresh token has expired; log in again.")
            assert rotation.user_id is not None and rotation.token is not None
            assert rotation.token_generation is not None and rotation.family_id is not None
            user = await self._d.users.by_id(conn, rotation.user_id)
        assert user is not None
        return self._pair(user, rotation.token, rotation.token_generation, rotation.family_id)

    async def logout(self, token: str, client: ClientInfo) -> None:
        """End the login this refresh token belongs to; unknown tokens are ignored."""
        found = await self._d.refresh.family_of(self._d.pool, token)
        if found is None:
            return
        user_id, family_id = found
        await self._d.refresh.revoke_family(self._d.pool, family_id)
        await self._d.revocation.credential_ended(family_id)
        await self._d.audit.record(
            self._d.pool,
            AuditEntry(
                "user.logout",
                user_id,
                resource_type="refresh_token_family",
                resource_id=str(family_id),
            ),
            client,
        )

    async def _end_every_session(self, conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
        """Refuse every access token issued so far (a new generation) and revoke every
        refresh token. The user's row is updated first: logins and refreshes hold it shared
        while they issue, so they either finish before this (and are revoked below) or
        start after it (and carry the new generation). Same lock order, no deadlock."""
        await conn.execute(
            """UPDATE users SET token_generation = token_generation + 1,
                                tokens_valid_after = now()
               WHERE user_id = $1""",
            user_id,
        )
        await self._d.refresh.revoke_all(conn, user_id)

    async def logout_all(self, user: User, client: ClientInfo) -> None:
        async with self._d.pool.acquire() as conn, conn.transaction():
            await self._end_every_session(conn, user.user_id)
            await self._d.audit.record(
                conn,
                AuditEntry(
                    "user.logout_all",
                    user.user_id,
                    resource_type="user",
                    resource_id=str(user.user_id),
                ),
                client,
            )
        await self._d.revocation.user_revoked(user.user_id)

    async def find_by_email(self, email: str) -> User | None:
        return await self._d.users.by_email(self._d.pool, email)

    async def set_active(self, user_id: uuid.UUID, active: bool, client: ClientInfo) -> User:
        """Deactivate (ending every session and socket) or reactivate an account."""
        async with self._d.pool.acquire() as conn, conn.transaction():
            user = await self._d.users.update(conn, user_id, is_active=active)
            if user is None:
                raise InvalidToken("No such user.")
            if not active:
                await self._end_every_session(conn, user_id)
            await self._d.audit.record(
                conn,
                AuditEntry(
                    "user.activated" if active else "user.deactivated",
                    user_id,
                    resource_type="user",
                    resource_id=str(user_id),
                ),
                client,
            )
        if not active:
            await self._d.revocation.user_revoked(user_id)
        return user

    # -- profile -----------------------------------------------------------------------------

    async def update_profile(self, user: User, data: ProfileInput, client: ClientInfo) -> User:
        changes = data.model_dump(exclude_unset=True)
        if "username" in changes and changes["username"] is None:
            raise ValidationFailed({"username": "cannot be empty"})
        async with self._d.pool.acquire() as conn, conn.transaction():
            updated = await self._d.users.update(conn, user.user_id, **changes)
            assert updated is not None
            await self._d.audit.record(
                conn,
                AuditEntry(
                    "user.updated",
                    user.user_id,
                    resource_type="user",
                    resource_id=str(user.user_id),
                    old_value={k: getattr(user, k) for k in changes},
                    new_value=changes,
                ),
                client,
            )
        return updated

    # -- email verification and password reset ---------------------------------------------

    async def _new_account_token(
        self, conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID, purpose: str
    ) -> str:
        token = new_opaque_token()
        ttl = VERIFY_TTL if purpose == "verify_email" else RESET_TTL
        await conn.execute(
            """INSERT INTO account_tokens (user_id, purpose, token_hash, expires_at)
               VALUES ($1, $2, $3, now() + $4::interval)""",
            user_id,
            purpose,
            token_digest(token),
            ttl,
        )
        return token

    async def _spend_account_token(
        self, conn: asyncpg.Connection, token: str, purpose: str
    ) -> uuid.UUID:
        row = await conn.fetchrow(
            """SELECT token_id, user_id, expires_at <= now() AS expired, used_at
               FROM account_tokens WHERE token_hash = $1 AND purpose = $2 FOR UPDATE""",
            token_digest(token),
            purpose,
        )
        if row is None:
            raise InvalidToken("This link is not valid.")
        if row["used_at"] is not None:
            raise Gone("This link was already used.")
        if row["expired"]:
            raise Gone("This link has expired; ask for a new one.")
        await conn.execute(
            "UPDATE account_tokens SET used_at = now() WHERE token_id = $1", row["token_id"]
        )
        user_id: uuid.UUID = row["user_id"]
        return user_id

    def _mail_verification(self, user: User, token: str) -> None:
        mail = Mail(
            user.email,
            "Confirm your email address",
            f"Hello {user.username},\n\nConfirm your email address by opening this link "
            f"within 24 hours:\n\n{self._d.links.verify_email(token)}\n",
        )
        self._d.tasks.spawn(self._d.mailer.send(mail), "mail:verify")

    async def verify_email(self, token: str, client: ClientInfo) -> User:
        await self._d.limiter.hit_ip("verify", client.ip)
        async with self._d.pool.acquire() as conn, conn.transaction():
            user_id = await self._spend_account_token(conn, token, "verify_email")
            user = await self._d.users.update(conn, user_id, email_verified=True)
            assert user is not None
            await self._d.audit.record(
                conn,
                AuditEntry(
                    "user.email_verified", user_id, resource_type="user", resource_id=str(user_id)
                ),
                client,
            )
        return user

    async def forgot_password(self, email: str, client: ClientInfo) -> None:
        """Answer at once; look the account up and mail it afterwards (no enumeration)."""
        await self._d.limiter.hit_ip("forgot", client.ip)
        await self._d.limiter.hit_account("forgot", email)
        self._d.tasks.spawn(self._send_reset(email, client), "mail:reset")

    async def _send_reset(self, email: str, client: ClientInfo) -> None:
        user = await self._d.users.by_email(self._d.pool, email)
        if user is None or not user.is_active:
            return
        token = await self._new_account_token(self._d.pool, user.user_id, "reset_password")
        await self._d.audit.record(
            self._d.pool,
            AuditEntry(
                "user.password_reset_requested",
                user.user_id,
                resource_type="user",
                resource_id=str(user.user_id),
            ),
            client,
        )
        await self._d.mailer.send(
            Mail(
                user.email,
                "Reset your password",
                f"Hello {user.username},\n\nSomeone asked to reset your password. If it was "
                f"you, open this link within 15 minutes:\n\n"
                f"{self._d.links.reset_password(token)}\n\nIf not, ignore this mail.\n",
            )
        )

    async def reset_password(self, token: str, password: str, client: ClientInfo) -> None:
        await self._d.limiter.hit_ip("reset", client.ip)
        async with self._d.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT user_id FROM account_tokens WHERE token_hash = $1", token_digest(token)
            )
            user = await self._d.users.by_id(conn, row["user_id"]) if row else None
            if user is not None:
                problem = password_problem(
                    password, self._d.password_policy, username=user.username, email=user.email
                )
                if problem:
                    raise ValidationFailed({"password": problem})
            user_id = await self._spend_account_token(conn, token, "reset_password")
            if user is None or not user.is_active:
                raise Forbidden("This account is not active.")
            await self._d.users.update(
                conn,
                user_id,
                password_hash=await self._d.hashing.hash(password),
                email_verified=True,  # the mailed link proves the address too
            )
            await self._end_every_session(conn, user_id)
            # Links mailed before (another reset, an email change asked with the old
            # password) would reopen what this closes.
            await conn.execute(
                "DELETE FROM account_tokens WHERE user_id = $1 AND used_at IS NULL", user_id
            )
            revoked_keys: list[uuid.UUID] = []
            if not user.email_verified and self._d.api_keys is not None:
                # Nobody had proved the address: whoever registered it may have made keys,
                # which would outlive this reset (pre-hijacking; a confirmed owner's keys
                # survive a reset as they survive a password change).
                revoked_keys = await self._d.api_keys.revoke_all(conn, user_id)
            await self._d.audit.record(
                conn,
                AuditEntry(
                    "user.password_reset", user_id, resource_type="user", resource_id=str(user_id)
                ),
                client,
            )
        await self._d.revocation.user_revoked(user_id)
        if revoked_keys and self._d.api_keys is not None:
            await self._d.api_keys.credentials_ended(revoked_keys)
