"""The JWTs the server signs itself (access and MFA tokens): HS256 with the current signing
key, and a verification that pins the algorithm, requires every claim, checks issuer,
audience and type, and looks the key up by the header's `kid` among current and previous
keys. Anything else (another algorithm, `alg: none`, an unknown `kid`, another kind of our
tokens) is an `InvalidToken` naming the token, never pyjwt's exception."""

from __future__ import annotations

import uuid
from typing import Any

import jwt

from auth.keys import SigningKeys
from kernel.errors import InvalidToken, TokenExpired

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "iat", "exp", "jti", "iss", "aud"]


def sign(keys: SigningKeys, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, keys.current, algorithm=ALGORITHM, headers={"kid": keys.current_kid})


def verify(
    keys: SigningKeys,
    token: str,
    *,
    audience: str,
    issuer: str,
    token_type: str,
    name: str,
    expired: str,
) -> tuple[dict[str, Any], uuid.UUID]:
    """The claims and the user of a valid token; `name` ("access token") words the errors,
    `expired` is the message for an expired one."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidToken(f"The {name} is malformed.") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"The {name}'s algorithm is not accepted.")
    key = keys.for_kid(str(header.get("kid", "")))
    if key is None:
        raise InvalidToken(f"The {name} was signed with an unknown key.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired(expired) from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"The {name} is not valid ({exc}).") from None
    if claims.get("typ") != token_type:
        raise InvalidToken(f"This is not an {name}.")
    try:
        user_id = uuid.UUID(claims["sub"])
    except (ValueError, TypeError, AttributeError):
        raise InvalidToken(f"The {name} names no user.") from None
    return claims, user_id
