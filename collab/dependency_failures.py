"""What counts as a dependency's failure (PostgreSQL or Redis down, restarting, out of
connections, too slow) rather than our own bug.

Both edges answer these alike: HTTP with 503 `unavailable` and Retry-After
(`collab.http.service_errors`), a Socket.IO connect with `connect_error` "unavailable"
(`collab.realtime.server`). Imports no package of ours but the pool's module, so either
edge may use it.
"""

from __future__ import annotations

import asyncpg
import redis.exceptions

from collab.db import DatabaseUnreachable

DEPENDENCY_FAILURES: tuple[type[Exception], ...] = (
    DatabaseUnreachable,  # no connection could be opened
    asyncpg.PostgresConnectionError,  # the connection broke mid-query
    # A connection the server closed; misuse (a wrong argument count) is an InterfaceError
    # too, which `connection_gone` tells apart.
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    # Shut down, crashed, starting up (`CannotConnectNowError`), or a statement cancelled.
    asyncpg.exceptions.OperatorInterventionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    TimeoutError,  # a pool acquire or a command that ran out of time
)


def connection_gone(exc: asyncpg.InterfaceError) -> bool:
    """asyncpg raises InterfaceError for a closed connection or pool, and for misuse (a
    wrong argument count): only the first is the dependency's failure."""
    return "closed" in str(exc) or "closing" in str(exc)


def is_dependency_failure(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.InterfaceError):
        return connection_gone(exc)
    return isinstance(exc, DEPENDENCY_FAILURES)
