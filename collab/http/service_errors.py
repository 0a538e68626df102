"""The kernel's exceptions in the contract's words: status, code, message, details.

A dependency that fails (PostgreSQL or Redis down, restarting, out of connections, too
slow) is answered like the kernel's `Unavailable`: 503 `unavailable` with `Retry-After`,
never a 500. Nothing is let through instead: a rate-limited route whose counters live in
Redis refuses while Redis is down (it fails closed).
"""

from __future__ import annotations

import logging

import asyncpg

from collab.dependency_failures import DEPENDENCY_FAILURES, connection_gone
from collab.http.errors import ApiError, ErrorKind, ErrorTranslator
from kernel import errors

log = logging.getLogger(__name__)

# What a client is asked to wait before trying again while a dependency is down: about
# what a PostgreSQL restart or a Redis failover takes.
RETRY_AFTER_SECONDS = 5

_STATUS: list[tuple[type[errors.ServiceError], int]] = [
    (errors.ValidationFailed, 422),
    (errors.InvalidCredentials, 401),
    (errors.Unauthenticated, 401),
    (errors.TokenReused, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Gone, 410),
    (errors.RateLimited, 429),
    (errors.Unavailable, 503),
    (errors.BadGateway, 502),
]


def _translate(exc: Exception) -> ApiError:
    if isinstance(exc, asyncpg.InterfaceError) and not connection_gone(exc):
        log.error("a misused database call", exc_info=exc)
        return ApiError(500, "internal_error", "Something went wrong on our side.")
    if not isinstance(exc, errors.ServiceError):
        # One line, no trace: the dependency is named, and /readyz says the rest.
        log.warning("a dependency failed: %s: %s", type(exc).__name__, exc)
        exc = errors.Unavailable("A service this needs is not answering; try again shortly.")
    status = next((s for kind, s in _STATUS if isinstance(exc, kind)), 400)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if status == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{exc.code}"'
    return ApiError(status, exc.code, exc.message, exc.details, headers)


# What build_app puts in each application's ErrorTranslators.
TRANSLATOR: tuple[ErrorKind, ErrorTranslator] = (
    (errors.ServiceError, *DEPENDENCY_FAILURES),
    _translate,
)
