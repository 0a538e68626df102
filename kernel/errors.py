"""What can go wrong, in the product's words: the one exception hierarchy.

    ServiceError
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
    ├── Unavailable           a dependency (e.g. the document store) did not answer
    └── BadGateway            a deployed app behind the preview proxy failed

The HTTP edge maps each to a status and the contract's error code (`code` below).
"""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    code = "service_error"  # never raised itself, only its kinds

    def __init__(self, message: str, details: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details) if details else None


class ValidationFailed(ServiceError):
    code = "validation_failed"

    def __init__(
        self, details: Mapping[str, str], message: str = "Some fields are invalid."
    ) -> None:
        super().__init__(message, details)


class InvalidCredentials(ServiceError):
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("The login or password is wrong.")


class Unauthenticated(ServiceError):
    code = "unauthorized"


class TokenExpired(Unauthenticated):
    code = "token_expired"


class InvalidToken(Unauthenticated):
    code = "invalid_token"


class TokenReused(ServiceError):
    code = "token_reused"


class Forbidden(ServiceError):
    code = "forbidden"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class Gone(ServiceError):
    code = "gone"


class RateLimited(ServiceError):
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts; try again in {retry_after} s.")
        self.retry_after = max(1, retry_after)


class Unavailable(ServiceError):
    code = "unavailable"


class BadGateway(ServiceError):
    code = "bad_gateway"
