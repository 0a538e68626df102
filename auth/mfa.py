"""Two-factor login with TOTP: enrol, confirm, the login step, turn off, recovery codes.

The secret is sealed at rest (`kernel.sealing`, its own derived key) and never shown again
after enrolment. A wrong code anywhere counts toward the account's slow-down, the one that
slows password guessing (`RateLimiter.record_login_failure`, under both the email and the
username a person may log in with), and, at login, toward the MFA token's own budget. A
code is accepted once: its time step must be later than the last one accepted. Turning
TOTP off reaches the sockets its owner holds open in workspaces that require it (`turned_off`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from auth import totp
from auth.accounts import AccountService
from auth.keys import SigningKeys, key_id
from auth.mfa_store import MfaStore
from auth.mfa_tokens import MfaClaims, MfaTokens
from auth.passwords import PasswordHashing
from auth.rate_limit import RateLimiter
from auth.users import User, UserStore
from kernel.audit import AuditEntry, AuditLog
from kernel.context import ClientInfo
from kernel.errors import Conflict, InvalidToken, ValidationFailed
from kernel.sealing import Sealer

WRONG_CODE = "is wrong, expired or was already used"


def totp_sealer(keys: SigningKeys) -> Sealer:
    """TOTP secrets get their own key, derived from each signing key (rotation-safe)."""

    def key_for(kid: str) -> bytes | None:
        secret = keys.for_kid(kid)
        return SigningKeys(secret).derive("mfa-totp") if secret else None

    return Sealer(key_id(keys.current), key_for)


@dataclass(frozen=True)
class MfaDependencies:
    pool: asyncpg.Pool
    accounts: AccountService
    users: UserStore
    hashing: PasswordHashing
    limiter: RateLimiter
    audit: AuditLog
    tokens: MfaTokens
    sealer: Sealer
    issuer: str  # the name authenticator apps show beside the account
    # After someone turned TOTP off: what reaches their open sockets in the workspaces that
    # require it (the live sessions, built after this service: look them up when called).
    turned_off: Callable[[uuid.UUID], Awaitable[None]] | None = None


class MfaService:
    def __init__(self, deps: MfaDependencies) -> None:
        self._d = deps
        self._store = MfaStore()

    # -- helpers ---------------------------------------------------------------------------

    async def _audit(
        self,
        db: asyncpg.Connection | asyncpg.Pool,
        action: str,
        user_id: uuid.UUID,
        client: ClientInfo,
        **metadata: Any,
    ) -> None:
        await self._d.audit.record(
            db,
            AuditEntry(action, user_id, resource_type="user", resource_id=str(user_id)),
            client,
            metadata=metadata or None,
        )

    async def _check_slowdown(self, user: User) -> None:
        for login in (user.email, user.username):
            await self._d.limiter.check_login_delay(login)

    async def _failed(self, user: User, client: ClientInfo, **metadata: Any) -> None:
        for login in (user.email, user.username):
            await self._d.limiter.record_login_failure(login)
        await self._audit(self._d.pool, "auth.mfa_failed", user.user_id, client, **metadata)

    async def _code_ok(self, user_id: uuid.UUID, code: str) -> bool:
        """A current, unused code of the confirmed secret; spends its step."""
        record = await self._store.totp(self._d.pool, user_id)
        if record is None or not record.confirmed:
            return False
        secret = self._d.sealer.open(record.sealed)
        step = totp.matching_step(secret, code, record.last_used_step)
        return step is not None and await self._store.use_step(self._d.pool, user_id, step)

    async def _new_recovery_codes(self, conn: asyncpg.Connection, user_id: uuid.UUID) -> list[str]:
        codes = totp.new_recovery_codes()
        await self._store.replace_recovery_codes(
            conn, user_id, [totp.recovery_code_hash(c) for c in codes]
        )
        return codes

    async def require_code(self, user: User, code: str, client: ClientInfo, why: str) -> None:
        await self._check_slowdown(user)
        if not await self._code_ok(user.user_id, code):
            await self._failed(user, client, step=why)
            raise ValidationFailed({"code": WRONG_CODE})

    # -- settings of a logged-in user ------------------------------------------------------

    async def status(self, user: User) -> dict[str, Any]:
        async with self._d.pool.acquire() as conn:
            return {
                "totp_enabled": await self._store.enabled(conn, user.user_id),
                "recovery_codes_left": await self._store.recovery_codes_left(conn, user.user_id),
            }

    async def enrol(self, user: User, client: ClientInfo) -> dict[str, str]:
        await self._d.limiter.hit_account("mfa_enrol", str(user.user_id))
        if await self._store.enabled(self._d.pool, user.user_id):
            raise Conflict("Two-factor login is already on; turn it off first to re-enrol.")
        secret = totp.new_secret()
        await self._store.put_pending(self._d.pool, user.user_id, self._d.sealer.seal(secret))
        await self._audit(self._d.pool, "auth.mfa_enrolment_started", user.user_id, client)
        uri = totp.provisioning_uri(secret, user.email, self._d.issuer)
        return {"secret": secret, "otpauth_uri": uri, "qr_svg": totp.qr_svg(uri)}

    async def confirm(self, user: User, code: str, client: ClientInfo) -> list[str]:
        await self._check_slowdown(user)
        async with self._d.pool.acquire() as conn, conn.transaction():
            record = await self._store.totp(conn, user.user_id, for_update=True)
            if record is not None and record.confirmed:
                raise Conflict("Two-factor login is already on.")
            if record is None:
                raise Conflict("Start enrolment first: POST /api/auth/mfa/totp.")
            step = totp.matching_step(self._d.sealer.open(record.sealed), code, 0)
            if step is not None:
                await self._store.confirm(conn, user.user_id, step)
                codes = await self._new_recovery_codes(conn, user.user_id)
                await self._audit(conn, "auth.mfa_enabled", user.user_id, client, factor="totp")
        if step is None:
            await self._failed(user, client, step="confirm")
            raise ValidationFailed({"code": WRONG_CODE})
        return codes

    async def disable(
        self, user: User, code: str | None, password: str | None, client: ClientInfo
    ) -> None:
        if not await self._store.enabled(self._d.pool, user.user_id):
            raise Conflict("Two-factor login is not on.")
        await self._check_slowdown(user)
        if code is not None:
            await self.require_code(user, code, client, "disable")
            proof = "code"
        else:
            assert password is not None
            verdict = await self._d.hashing.verify(user.password_hash, password)
            if not verdict.ok:
                await self._failed(user, client, step="disable", proof="password")
                raise ValidationFailed({"password": "is wrong"})
            proof = "password"
        async with self._d.pool.acquire() as conn, conn.transaction():
            await self._store.disable(conn, user.user_id)
            await self._audit(conn, "auth.mfa_disabled", user.user_id, client, proof=proof)
        if self._d.turned_off is not None:
            # Sockets already open in a workspace that requires two-factor close now, as new
            # ones are refused.
            await self._d.turned_off(user.user_id)

    async def regenerate_recovery_codes(
        self, user: User, code: str, client: ClientInfo
    ) -> list[str]:
        if not await self._store.enabled(self._d.pool, user.user_id):
            raise Conflict("Two-factor login is not on.")
        await self.require_code(user, code, client, "recovery_codes")
        async with self._d.pool.acquire() as conn, conn.transaction():
            codes = await self._new_recovery_codes(conn, user.user_id)
            await self._audit(conn, "auth.recovery_codes_regenerated", user.user_id, client)
        return codes

    # -- the login step --------------------------------------------------------------------

    async def verify(
        self, mfa_token: str, code: str | None, recovery_code: str | None, client: ClientInfo
    ) -> dict[str, Any]:
        """The second step of a login: a current code or an unused recovery code, for a
        token pair. Wrong answers cost the token's budget and slow the account down."""
        await self._d.limiter.hit_ip("mfa", client.ip)
        claims = await self._d.tokens.open(mfa_token)
        user = await self._d.users.by_id(self._d.pool, claims.user_id)
        if user is None or not user.is_active:
            raise InvalidToken("The account behind this token is not active.")
        await self._check_slowdown(user)
        await self._d.tokens.attempt(claims)
        if code is not None:
            ok, proof = await self._code_ok(user.user_id, code), "totp"
        else:
            assert recovery_code is not None
            ok = await self._store.spend_recovery_code(
                self._d.pool, user.user_id, totp.recovery_code_hash(recovery_code)
            )
            proof = "recovery_code"
        if not ok:
            await self._failed(user, client, step="login", proof=proof)
            raise ValidationFailed({"code" if code is not None else "recovery_code": WRONG_CODE})
        await self._d.tokens.spend(claims)
        return await self._finish_login(user, claims, proof, client)

    async def _finish_login(
        self, user: User, claims: MfaClaims, proof: str, client: ClientInfo
    ) -> dict[str, Any]:
        for login in (user.email, user.username):
            await self._d.limiter.clear_login_failures(login)
        async with self._d.pool.acquire() as conn, conn.transaction():
            fresh = await self._d.users.update(conn, user.user_id, last_login=datetime.now(UTC))
            assert fresh is not None
            pair = await self._d.accounts.start_session(conn, fresh, client)
            await self._d.audit.record(
                conn,
                AuditEntry(
                    "user.login",
                    user.user_id,
                    resource_type="user",
                    resource_id=str(user.user_id),
                    new_value={"method": claims.method, "second_factor": proof},
                ),
                client,
                metadata={"method": claims.method, "second_factor": proof},
            )
            if proof == "recovery_code":
                left = await self._store.recovery_codes_left(conn, user.user_id)
                await self._audit(conn, "auth.recovery_code_used", user.user_id, client, left=left)
        return pair
