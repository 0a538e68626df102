"""Plain-SQL migrations: `collab/migrations/NNNN_name.up.sql` with its `NNNN_name.down.sql`.

Each migration runs in its own transaction together with its row in `schema_migrations`,
so a failure leaves the database at the previous version. A session-level advisory lock
serialises runners: two processes starting at once apply each migration exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.up\.sql$")
# An arbitrary constant shared by every runner of this schema.
_LOCK_KEY = 0x636F6C6C6162  # "collab"


class MigrationError(RuntimeError):
    """The migration folder or the database's migration history is inconsistent."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up_sql: str
    down_sql: str


@dataclass(frozen=True)
class MigrationStatus:
    version: int
    name: str
    applied_at: datetime | None


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations: list[Migration] = []
    for up_path in sorted(directory.glob("*.up.sql")):
        match = _NAME.match(up_path.name)
        if not match:
            raise MigrationError(f"badly named migration file: {up_path.name}")
        down_path = up_path.with_name(up_path.name.replace(".up.sql", ".down.sql"))
        if not down_path.exists():
            raise MigrationError(f"{up_path.name} has no down migration")
        migrations.append(
            Migration(int(match[1]), match[2], up_path.read_text(), down_path.read_text())
        )
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1..N without gaps, got {versions}")
    return migrations


_HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class Migrator:
    def __init__(self, conn: asyncpg.Connection, migrations: list[Migration] | None = None):
        self._conn = conn
        self._migrations = migrations if migrations is not None else discover()

    async def _applied(self) -> dict[int, datetime]:
        rows = await self._conn.fetch("SELECT version, applied_at FROM schema_migrations")
        return {row["version"]: row["applied_at"] for row in rows}

    async def _locked(self) -> None:
        await self._conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await self._conn.execute(_HISTORY_DDL)

    async def _unlock(self) -> None:
        await self._conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)

    async def up(self, target: int | None = None) -> list[Migration]:
        """Apply pending migrations up to `target` (all by default); return those applied."""
        await self._locked()
        try:
            applied = await self._applied()
            unknown = set(applied) - {m.version for m in self._migrations}
            if unknown:
                raise MigrationError(
                    f"database has migrations this code does not know: {sorted(unknown)}"
                )
            done: list[Migration] = []
            for migration in self._migrations:
                if migration.version in applied:
                    continue
                if target is not None and migration.version > target:
                    break
                async with self._conn.transaction():
                    await self._conn.execute(migration.up_sql)
                    await self._conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )
                done.append(migration)
            return done
        finally:
            await self._unlock()

    async def down(self, steps: int = 1) -> list[Migration]:
        """Revert the newest `steps` applied migrations; return those reverted."""
        if steps < 1:  # a slice `[:-1]` would revert all but the first
            raise MigrationError(f"migrate down needs a positive number of steps, got {steps}")
        await self._locked()
        try:
            applied = await self._applied()
            by_version = {m.version: m for m in self._migrations}
            undone: list[Migration] = []
            for version in sorted(applied, reverse=True)[:steps]:
                migration = by_version.get(version)
                if migration is None:
                    raise MigrationError(f"no down migration known for version {version}")
                async with self._conn.transaction():
                    await self._conn.execute(migration.down_sql)
                    await self._conn.execute(
                        "DELETE FROM schema_migrations WHERE version = $1", version
                    )
                undone.append(migration)
            return undone
        finally:
            await self._unlock()

    async def status(self) -> list[MigrationStatus]:
        await self._conn.execute(_HISTORY_DDL)
        applied = await self._applied()
        return [
            MigrationStatus(m.version, m.name, applied.get(m.version)) for m in self._migrations
        ]
