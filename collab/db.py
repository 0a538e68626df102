"""The PostgreSQL pool: JSON(B) as Python values, migrations applied on start when asked.

A pool survives PostgreSQL going away: asyncpg notices a connection the server closed
(a restart, a crash, a failover) and opens a fresh one on the next acquire. While the server
is gone, opening one fails with `DatabaseUnreachable` (the edge answers 503 `unavailable`)
instead of the socket's own `OSError`, which could not be told from a bug.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg

from collab.migrate import Migrator

log = logging.getLogger(__name__)

# How long opening a connection may take before the caller is told PostgreSQL is down
# (asyncpg's own default is a minute, which would hold a request that long).
CONNECT_TIMEOUT = 5.0


class DatabaseUnreachable(ConnectionError):
    """No connection to PostgreSQL could be opened (it is down, restarting or too slow)."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    kwargs.setdefault("timeout", CONNECT_TIMEOUT)
    try:
        connection: asyncpg.Connection = await asyncpg.connect(*args, **kwargs)
    except (OSError, TimeoutError) as exc:  # refused, no socket file, or no answer in time
        raise DatabaseUnreachable(f"PostgreSQL does not answer: {exc}") from exc
    return connection


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        connect=_connect,
        command_timeout=30,
    )
    assert pool is not None
    return pool


async def migrate_up(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        applied = await Migrator(conn).up()
    for migration in applied:
        log.info("applied migration %04d_%s", migration.version, migration.name)
