"""Access tokens (JWT, HS256, 15 minutes) and opaque random tokens.

Verification is `auth.signed_tokens`': pinned algorithm, every claim required, issuer,
audience and type checked, the key found by `kid`; anything that is not one of our access
tokens (an MFA token, say) is an `InvalidToken`.

An access token names the login it belongs to (`sid`: the refresh-token family id), so
ending that one login refuses its access tokens at once (`auth.devices`).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from auth import signed_tokens
from auth.keys import SigningKeys
from kernel.errors import InvalidToken

AUDIENCE = "collab-api"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    issued_at: int
    expires_at: int
    token_id: str
    generation: int
    login_id: uuid.UUID | None = None  # None: issued before logins were named


class AccessTokens:
    def __init__(self, keys: SigningKeys, issuer: str, ttl_seconds: int = 900) -> None:
        self._keys = keys
        self._issuer = issuer
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: uuid.UUID, generation: int, login_id: uuid.UUID) -> str:
        now = int(time.time())
        claims = {
            "sid": str(login_id),
            "sub": str(user_id),
            "gen": generation,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
            "iss": self._issuer,
            "aud": AUDIENCE,
            "typ": ACCESS_TOKEN_TYPE,
        }
        return signed_tokens.sign(self._keys, claims)

    def verify(self, token: str) -> AccessClaims:
        claims, user_id = signed_tokens.verify(
            self._keys,
            token,
            audience=AUDIENCE,
            issuer=self._issuer,
            token_type=ACCESS_TOKEN_TYPE,
            name="access token",
            expired="The access token has expired; refresh it.",
        )
        # Tokens from before generations existed count as generation 0 (see migration 0007).
        generation = claims.get("gen", 0)
        if type(generation) is not int:
            raise InvalidToken("The access token's generation is malformed.")
        sid = claims.get("sid")
        try:
            login_id = uuid.UUID(sid) if sid is not None else None
        except (ValueError, TypeError, AttributeError):
            raise InvalidToken("The access token's login is malformed.") from None
        return AccessClaims(
            user_id,
            int(claims["iat"]),
            int(claims["exp"]),
            str(claims["jti"]),
            generation,
            login_id,
        )


def new_opaque_token() -> str:
    """256 random bits, URL-safe: refresh, reset, verification and invitation tokens."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored instead of an opaque token (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()
