"""Logging in with a provider: authorization code with `state` and PKCE.

`start` stores the state (hashed) with its PKCE verifier for 10 minutes; `finish` spends
it once, exchanges the code, and finds the user by (provider, provider id). An account with
TOTP on gets the MFA step (`{mfa_required, mfa_token}`) instead of tokens. An existing
account with the same email is linked only when the provider says the email is verified; a
new account is made only from a verified email (else the login is refused: an unproved
address would be squatted by whoever holds the provider identity).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg

from auth.accounts import AccountService
from auth.oauth_providers import Identity, Provider
from auth.tokens import pkce_pair, token_digest
from auth.users import User, UserStore
from kernel.audit import AuditEntry, AuditLog
from kernel.context import ClientInfo
from kernel.errors import Conflict, Forbidden, InvalidCredentials, NotFound, Unauthenticated

STATE_TTL_SECONDS = 600


class OAuthService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        providers: dict[str, Provider],
        accounts: AccountService,
        users: UserStore,
        audit: AuditLog,
        callback_base_url: str,
        http: aiohttp.ClientSession,
    ) -> None:
        self._pool = pool
        self._providers = providers
        self._accounts = accounts
        self._users = users
        self._audit = audit
        self._callback_base = callback_base_url
        self._http = http

    def provider_names(self) -> list[str]:
        """The providers configured on this server, in a stable order."""
        return sorted(self._providers)

    def _provider(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None:
            raise NotFound(f"Login with {name[:40]!r} is not configured on this server.")
        return provider

    def redirect_uri(self, name: str) -> str:
        return f"{self._callback_base}/api/auth/oauth/{name}/callback"

    async def start(self, name: str, client: ClientInfo | None = None) -> str:
        provider = self._provider(name)
        # Per client network: each start stores a state row (and may call the provider).
        await self._accounts.dependencies.limiter.hit_ip("oauth", client.ip if client else None)
        state = secrets.token_urlsafe(32)
        verifier, challenge = pkce_pair()
        redirect_uri = self.redirect_uri(name)
        await self._pool.execute(
            """INSERT INTO oauth_states (state_hash, provider, code_verifier, redirect_uri,
                                         expires_at)
               VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))""",
            token_digest(state),
            name,
            verifier,
            redirect_uri,
            STATE_TTL_SECONDS,
        )
        await self._pool.execute("DELETE FROM oauth_states WHERE expires_at < now()")
        return await provider.authorize_url(self._http, state, challenge, redirect_uri)

    async def finish(self, name: str, code: str, state: str, client: ClientInfo) -> dict[str, Any]:
        provider = self._provider(name)
        row = await self._pool.fetchrow(
            """DELETE FROM oauth_states WHERE state_hash = $1 AND provider = $2
               RETURNING code_verifier, redirect_uri, expires_at > now() AS fresh""",
            token_digest(state),
            name,
        )
        if row is None or not row["fresh"]:
            raise Unauthenticated("This login attempt is unknown or expired; start again.")
        identity = await provider.identity(
            self._http, code, row["code_verifier"], row["redirect_uri"]
        )
        async with self._pool.acquire() as conn, conn.transaction():
            user, created = await self._find_or_create(conn, identity, client)
            if not user.is_active:
                raise InvalidCredentials()
            step = await self._accounts.mfa_step(conn, user, name)
            if step is not None:
                # TOTP is on: the provider proved the first factor only.
                await self._audit.record(
                    conn,
                    AuditEntry(
                        "auth.mfa_required",
                        user.user_id,
                        resource_type="user",
                        resource_id=str(user.user_id),
                        new_value={"method": name},
                    ),
                    client,
                )
                return step
            user = (
                await self._users.update(conn, user.user_id, last_login=datetime.now(UTC)) or user
            )
            pair = await self._accounts.start_session(conn, user, client)
            await self._audit.record(
                conn,
                AuditEntry(
                    "user.registered" if created else "user.login",
                    user.user_id,
                    resource_type="user",
                    resource_id=str(user.user_id),
                    new_value={"method": name},
                ),
                client,
            )
        return pair

    async def _find_or_create(
        self, conn: asyncpg.Connection, identity: Identity, client: ClientInfo
    ) -> tuple[User, bool]:
        user = await self._users.by_oauth(conn, identity.provider, identity.provider_id)
        if user is not None:
            return user, False
        if identity.email is None:
            raise Unauthenticated("The provider shared no email address; allow it and retry.")
        existing = await self._users.by_email(conn, identity.email)
        if existing is not None:
            if not identity.email_verified:
                raise Conflict(
                    "An account with this email exists and the provider has not verified "
                    "the address; log in with your password instead."
                )
            if existing.oauth_provider is None:
                if not existing.email_verified:
                    # Nobody proved this address when the account was made: whoever did may
                    # hold its password, and linking would hand them the provider user's
                    # account (pre-hijacking). The mailed reset link proves the address (and
                    # ends every other login); the link is made at the next provider login.
                    raise Conflict(
                        "An account with this email exists but its address was never "
                        "confirmed; reset its password with the mailed link, then log in "
                        "with the provider again.",
                        {"email": "is not confirmed"},
                    )
                linked = await self._users.update(
                    conn,
                    existing.user_id,
                    oauth_provider=identity.provider,
                    oauth_provider_id=identity.provider_id,
                    email_verified=True,
                )
                assert linked is not None
                # A new way into the account: its owner sees it among their security events.
                await self._audit.record(
                    conn,
                    AuditEntry(
                        "auth.oauth_linked",
                        linked.user_id,
                        resource_type="user",
                        resource_id=str(linked.user_id),
                        old_value={
                            "oauth_provider": None,
                            "email_verified": existing.email_verified,
                        },
                        new_value={"oauth_provider": identity.provider, "email_verified": True},
                    ),
                    client,
                )
                return linked, False
            return existing, False
        if not identity.email_verified:
            # An account made from an address nobody proved would squat it: its owner could
            # not sign up, and after taking it over by a password reset the holder of this
            # provider identity would still log in to it (pre-hijacking).
            raise Forbidden(
                "The provider has not verified this email address; verify it there, then "
                "log in again."
            )
        created = await self._users.create(
            conn,
            email=identity.email.lower(),
            username=await self._free_username(conn, identity.username_hint),
            first_name=(identity.first_name or None) and identity.first_name[:100],
            last_name=(identity.last_name or None) and identity.last_name[:100],
            profile_image_url=(identity.picture or None) and identity.picture[:500],
            email_verified=identity.email_verified,
            oauth_provider=identity.provider,
            oauth_provider_id=identity.provider_id,
        )
        return created, True

    async def _free_username(self, conn: asyncpg.Connection, hint: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", hint)[:40].strip("_") or "user"
        base = base if len(base) >= 3 else f"{base}_user"
        candidate = base
        while await conn.fetchval(
            "SELECT 1 FROM users WHERE lower(username) = lower($1)", candidate
        ):
            candidate = f"{base}_{secrets.randbelow(10**6):06d}"
        return candidate
