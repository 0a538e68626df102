"""The PostgreSQL pool: JSON(B) as Python values, migrations applied on start when asked."""

from __future__ import annotations

import json
import logging

import asyncpg

from collab.migrate import Migrator

log = logging.getLogger(__name__)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )
    assert pool is not None
    return pool


async def migrate_up(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        applied = await Migrator(conn).up()
    for migration in applied:
        log.info("applied migration %04d_%s", migration.version, migration.name)
