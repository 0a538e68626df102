"""Migrations: up, down and up again; two runners at once; `collab migrate` itself."""

from __future__ import annotations

import asyncio

import asyncpg

from collab.migrate import Migrator, discover
from tests.support import run_collab


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'schema_migrations'"
    )
    return {r["tablename"] for r in rows}


async def test_up_down_up_round_trip(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        migrator = Migrator(conn)
        applied = await migrator.up()
        assert [m.version for m in applied] == [m.version for m in discover()]
        after_up = await _tables(conn)
        assert {"users", "workspaces", "deployments", "audit_logs"} <= after_up

        reverted = await migrator.down(len(applied))
        assert len(reverted) == len(applied)
        assert await _tables(conn) == set()
        assert all(s.applied_at is None for s in await migrator.status())

        await migrator.up()
        assert await _tables(conn) == after_up
        assert await migrator.up() == []  # nothing left to apply
    finally:
        await conn.close()


async def test_two_runners_at_once_apply_each_migration_once(database_url: str) -> None:
    conns = [await asyncpg.connect(database_url) for _ in range(2)]
    try:
        results = await asyncio.gather(*(Migrator(c).up() for c in conns))
        applied = sorted(m.version for result in results for m in result)
        assert applied == [m.version for m in discover()]
        count = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(discover())
    finally:
        for conn in conns:
            await conn.close()


def test_collab_migrate_command(database_url: str) -> None:
    def run(*args: str) -> str:
        done = run_collab("migrate", *args, env={"COLLAB_DATABASE_URL": database_url})
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "pending" in run("status")
    assert "applied  0001_initial_schema" in run("up")
    assert "pending" not in run("status")
    newest = discover()[-1]
    assert run("down").strip() == f"reverted {newest.version:04d}_{newest.name}"
    assert run("status").count("pending") == 1
    assert "reverted 0001_initial_schema" in run("down", str(len(discover())))
    assert run("status").count("pending") == len(discover())
