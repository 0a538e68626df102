"""What can go wrong in `auth`, in the product's words.

    AuthError
    ├── ValidationFailed      input breaks a rule; `details` names each field
    ├── InvalidCredentials    wrong login or password (never says which)
    ├── Unauthenticated       no usable access token
    │   ├── TokenExpired
    │   └── InvalidToken      forged, wrong key/audience/algorithm, revoked, not an access token
    ├── TokenReused           a spent refresh token came back: its family is revoked
    ├── Forbidden             authenticated, but not allowed
    ├── NotFound              no such thing, or not visible to the caller
    ├── Conflict              e.g. email taken, last owner leaving
    ├── Gone                  an invitation or link token expired, revoked or spent
    ├── RateLimited           too many attempts; `retry_after` seconds
    └── Unavailable           a dependency (e.g. the document store) did not answer

The HTTP edge maps each to a status and the contract's error code (`code` below).
"""

from __future__ import annotations

from collections.abc import Mapping


class AuthError(Exception):
    code = "auth_error"

    def __init__(self, message: str, details: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details) if details else None


class ValidationFailed(AuthError):
    code = "validation_failed"

    def __init__(
        self, details: Mapping[str, str], message: str = "Some fields are invalid."
    ) -> None:
        super().__init__(message, details)


class InvalidCredentials(AuthError):
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("The login or password is wrong.")


class Unauthenticated(AuthError):
    code = "unauthorized"


class TokenExpired(Unauthenticated):
    code = "token_expired"


class InvalidToken(Unauthenticated):
    code = "invalid_token"


class TokenReused(AuthError):
    code = "token_reused"


class Forbidden(AuthError):
    code = "forbidden"


class NotFound(AuthError):
    code = "not_found"


class Conflict(AuthError):
    code = "conflict"


class Gone(AuthError):
    code = "gone"


class RateLimited(AuthError):
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts; try again in {retry_after} s.")
        self.retry_after = max(1, retry_after)


class Unavailable(AuthError):
    code = "unavailable"
