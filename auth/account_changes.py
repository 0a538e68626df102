"""Changes a logged-in person makes to their own account: password, email, a new
verification mail.

- A password change needs the current password, follows the same policy as registration,
  and ends every other login: their refresh tokens are revoked, their access tokens are
  refused (each names its login) and their live sockets are closed. The login that asked
  goes on untouched. API keys stay (they are revoked one by one, like GitHub's).
- An email change needs the password; it mails a single-use link (24 h) to the new address
  and a notice to the old one. The address changes only when the link is confirmed (which
  also proves the new address: it is marked verified). A spent link answers 410.
- Verification mails can be sent again, at most 3 an hour.

Wrong passwords here count toward the account's login slow-down, as at login.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from auth.accounts import Dependencies
from auth.mail import Mail
from auth.password_policy import password_problem
from auth.tokens import new_opaque_token, token_digest
from auth.users import User
from kernel.audit import AuditEntry
from kernel.context import ClientInfo
from kernel.errors import Conflict, Gone, InvalidToken, ValidationFailed

EMAIL_CHANGE_TTL = timedelta(hours=24)
VERIFY_TTL = timedelta(hours=24)


class AccountChanges:
    def __init__(self, deps: Dependencies) -> None:
        self._d = deps

    # -- shared ----------------------------------------------------------------------------

    async def _audit(
        self,
        db: asyncpg.Connection | asyncpg.Pool,
        action: str,
        user_id: uuid.UUID,
        client: ClientInfo,
        *,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        await self._d.audit.record(
            db,
            AuditEntry(
                action,
                user_id,
                resource_type="user",
                resource_id=str(user_id),
                old_value=old,
                new_value=new,
            ),
            client,
            metadata=metadata,
        )

    async def _require_password(
        self, user: User, password: str, field: str, client: ClientInfo
    ) -> None:
        """The account's own password, under the login slow-down; wrong ones feed it."""
        for login in (user.email, user.username):
            await self._d.limiter.check_login_delay(login)
        verdict = await self._d.hashing.verify(user.password_hash, password)
        if not verdict.ok:
            for login in (user.email, user.username):
                await self._d.limiter.record_login_failure(login)
            await self._audit(
                self._d.pool,
                "auth.reauthentication_failed",
                user.user_id,
                client,
                metadata={"field": field},
            )
            raise ValidationFailed({field: "is wrong"})

    def _send(self, mail: Mail, what: str) -> None:
        self._d.tasks.spawn(self._d.mailer.send(mail), f"mail:{what}")

    # -- password --------------------------------------------------------------------------

    async def change_password(
        self,
        user: User,
        current_password: str,
        new_password: str,
        client: ClientInfo,
        keep_login: uuid.UUID | None = None,
    ) -> None:
        """Set a new password and end every other login. `keep_login` is the caller's login
        (refresh-token family); None: the user's most recently refreshed one is kept."""
        await self._d.limiter.hit_account("password_change", str(user.user_id))
        await self._require_password(user, current_password, "current_password", client)
        problem = password_problem(
            new_password, self._d.password_policy, username=user.username, email=user.email
        )
        if problem:
            raise ValidationFailed({"new_password": problem})
        password_hash = await self._d.hashing.hash(new_password)
        async with self._d.pool.acquire() as conn, conn.transaction():
            await self._d.users.update(conn, user.user_id, password_hash=password_hash)
            if keep_login is None:
                # A caller whose token names no login (issued before logins were named).
                keep_login = await conn.fetchval(
                    """SELECT family_id FROM refresh_tokens
                       WHERE user_id = $1 AND revoked_at IS NULL
                       ORDER BY created_at DESC LIMIT 1""",
                    user.user_id,
                )
            # Their refresh tokens revoked and their logins ended, which refuses their
            # access tokens at once (each names its login); this login is untouched.
            ended = await self._d.refresh.revoke_all_except(conn, user.user_id, keep_login)
            await self._audit(
                conn,
                "auth.password_changed",
                user.user_id,
                client,
                metadata={"other_logins_ended": len(ended), "kept_login": keep_login},
            )
        for login_id in ended:
            await self._d.revocation.credential_ended(login_id)
        self._send(
            Mail(
                user.email,
                "Your password was changed",
                f"Hello {user.username},\n\nThe password of your account was just changed, "
                "and every other login was ended. If it was not you, reset your password "
                "now and check your account's security settings.\n",
            ),
            "password-changed",
        )

    # -- email -----------------------------------------------------------------------------

    async def request_email_change(
        self, user: User, new_email: str, password: str, client: ClientInfo
    ) -> None:
        await self._d.limiter.hit_account("email_change", str(user.user_id))
        await self._require_password(user, password, "password", client)
        if new_email.lower() == user.email.lower():
            raise ValidationFailed({"new_email": "is already your address"})
        if await self._d.users.by_email(self._d.pool, new_email) is not None:
            raise Conflict("That email is already taken.", {"new_email": "is already taken"})
        token = new_opaque_token()
        async with self._d.pool.acquire() as conn, conn.transaction():
            # One pending change at a time: an earlier link stops working.
            await conn.execute(
                """DELETE FROM account_tokens
                   WHERE user_id = $1 AND purpose = 'change_email' AND used_at IS NULL""",
                user.user_id,
            )
            await conn.execute(
                """INSERT INTO account_tokens (user_id, purpose, token_hash, expires_at, new_email)
                   VALUES ($1, 'change_email', $2, now() + $3::interval, $4)""",
                user.user_id,
                token_digest(token),
                EMAIL_CHANGE_TTL,
                new_email,
            )
            await self._audit(
                conn,
                "auth.email_change_requested",
                user.user_id,
                client,
                metadata={"new_email": new_email},
            )
        link = f"{self._d.links.base_url}/confirm-email?token={token}"
        self._send(
            Mail(
                new_email,
                "Confirm your new email address",
                f"Hello {user.username},\n\nConfirm that this is your account's new email "
                f"address by opening this link within 24 hours:\n\n{link}\n\n"
                "If you did not ask for this, ignore this mail.\n",
            ),
            "email-change",
        )
        self._send(
            Mail(
                user.email,
                "Your email address is about to change",
                f"Hello {user.username},\n\nSomeone logged in to your account asked to change "
                f"its email address to {new_email}. It changes only once that address confirms. "
                "If it was not you, change your password now.\n",
            ),
            "email-change-notice",
        )

    async def confirm_email_change(self, token: str, client: ClientInfo) -> User:
        await self._d.limiter.hit_ip("verify", client.ip)
        async with self._d.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """SELECT token_id, user_id, new_email, expires_at <= now() AS expired, used_at
                   FROM account_tokens
                   WHERE token_hash = $1 AND purpose = 'change_email' FOR UPDATE""",
                token_digest(token),
            )
            if row is None:
                raise InvalidToken("This link is not valid.")
            if row["used_at"] is not None:
                raise Gone("This link was already used.")
            if row["expired"]:
                raise Gone("This link has expired; ask for the change again.")
            await conn.execute(
                "UPDATE account_tokens SET used_at = now() WHERE token_id = $1", row["token_id"]
            )
            before = await self._d.users.by_id(conn, row["user_id"])
            if before is None or not before.is_active:
                raise Gone("This account is not active.")
            user = await self._d.users.update(
                conn, row["user_id"], email=row["new_email"], email_verified=True
            )
            assert user is not None
            await self._audit(
                conn,
                "auth.email_changed",
                user.user_id,
                client,
                old={"email": before.email},
                new={"email": user.email},
            )
        return user

    # -- verification ----------------------------------------------------------------------

    async def resend_verification(self, user: User, client: ClientInfo) -> None:
        await self._d.limiter.hit_ip("verify_resend", client.ip)
        await self._d.limiter.hit_account("verify_resend", str(user.user_id))
        if user.email_verified:
            raise Conflict("This email address is already verified.")
        token = new_opaque_token()
        async with self._d.pool.acquire() as conn, conn.transaction():
            # The newest link is the one that works.
            await conn.execute(
                """DELETE FROM account_tokens
                   WHERE user_id = $1 AND purpose = 'verify_email' AND used_at IS NULL""",
                user.user_id,
            )
            await conn.execute(
                """INSERT INTO account_tokens (user_id, purpose, token_hash, expires_at)
                   VALUES ($1, 'verify_email', $2, now() + $3::interval)""",
                user.user_id,
                token_digest(token),
                VERIFY_TTL,
            )
            await self._audit(conn, "auth.verification_resent", user.user_id, client)
        self._send(
            Mail(
                user.email,
                "Confirm your email address",
                f"Hello {user.username},\n\nConfirm your email address by opening this link "
                f"within 24 hours:\n\n{self._d.links.verify_email(token)}\n",
            ),
            "verify",
        )
