"""The MFA token: what a password (or provider) login answers while the second step is due.

A JWT like an access token but with its own audience and type, so every place that verifies
access tokens refuses it (REST and the Socket.IO handshake alike). It lives 5 minutes, may be
spent once, and carries an attempt budget; both are kept in Redis under its `jti`, so every
server process shares them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from auth import signed_tokens
from auth.keys import SigningKeys
from kernel.errors import InvalidToken

AUDIENCE = "collab-mfa"
MFA_TOKEN_TYPE = "mfa"  # noqa: S105 - a claim value, not a secret
TTL_SECONDS = 300
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class MfaClaims:
    user_id: uuid.UUID
    token_id: str
    method: str  # how the first factor was proved: "password" or an OAuth provider's name


class MfaTokens:
    def __init__(self, keys: SigningKeys, issuer: str, redis: Redis) -> None:
        self._keys = keys
        self._issuer = issuer
        self._redis = redis

    def issue(self, user_id: uuid.UUID, method: str) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "iat": now,
            "nbf": now,
            "exp": now + TTL_SECONDS,
            "jti": uuid.uuid4().hex,
            "iss": self._issuer,
            "aud": AUDIENCE,
            "typ": MFA_TOKEN_TYPE,
            "amr": method[:40],
        }
        return signed_tokens.sign(self._keys, claims)

    async def open(self, token: str) -> MfaClaims:
        """The token's claims if it is ours, unexpired and not spent."""
        claims, user_id = signed_tokens.verify(
            self._keys,
            token,
            audience=AUDIENCE,
            issuer=self._issuer,
            token_type=MFA_TOKEN_TYPE,
            name="MFA token",
            expired="The MFA step took too long; log in again.",
        )
        token_id = str(claims["jti"])
        if await self._redis.exists(f"mfa:spent:{token_id}"):
            raise InvalidToken("This MFA token was already used; log in again.")
        return MfaClaims(user_id, token_id, str(claims.get("amr", "password")))

    async def attempt(self, claims: MfaClaims) -> None:
        """Count one try against the token's budget; past it the token is dead."""
        key = f"mfa:attempts:{claims.token_id}"
        tries = int(await self._redis.incr(key))
        await self._redis.expire(key, TTL_SECONDS + 10)
        if tries > MAX_ATTEMPTS:
            raise InvalidToken("Too many wrong codes for this login; log in again.")

    async def spend(self, claims: MfaClaims) -> None:
        """Mark the token used; a second spend (a race, a replay) is refused."""
        first = await self._redis.set(
            f"mfa:spent:{claims.token_id}", "1", nx=True, ex=TTL_SECONDS + 10
        )
        if not first:
            raise InvalidToken("This MFA token was already used; log in again.")
