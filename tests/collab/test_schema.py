"""The schema is the data model of the ER diagram (shared/seeds/001), column by column."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.support import REPO

DIAGRAM = REPO / "tests" / "data" / "er_diagram.mmd"
SHARED_DIAGRAM = REPO.parent / "shared" / "seeds" / "001_1677206dd530a559.txt"
DOCUMENT_STORE_TABLES = {"mongo_workspaces"}  # the NoSQL side, not a PostgreSQL table

# The diagram's types as PostgreSQL reports them. TIMESTAMP is deliberately TIMESTAMPTZ:
# every time is an instant, served as ISO 8601 UTC.
TYPE_MAP = {
    "UUID": "uuid",
    "TEXT": "text",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp with time zone",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "SERIAL": "integer",
    "JSONB": "jsonb",
    "INET": "inet",
}


@dataclass(frozen=True)
class DiagramColumn:
    table: str
    name: str
    type: str
    length: int | None
    keys: frozenset[str]


def parse_diagram(text: str) -> dict[str, list[DiagramColumn]]:
    tables: dict[str, list[DiagramColumn]] = {}
    for table, body in re.findall(r"(\w+)\s*\{([^}]*)\}", text):
        columns = []
        for line in body.strip().splitlines():
            parts = line.split()
            type_spec, name = parts[0], parts[1]
            keys = frozenset(parts[2].split(",")) if len(parts) > 2 else frozenset()
            match = re.fullmatch(r"(\w+)(?:\((\d+)\))?", type_spec)
            assert match, line
            length = int(match[2]) if match[2] else None
            columns.append(DiagramColumn(table, name, match[1], length, keys))
        tables[table] = columns
    return tables


def test_vendored_diagram_matches_shared_seed() -> None:
    if not SHARED_DIAGRAM.exists():
        pytest.skip(f"{SHARED_DIAGRAM} is not beside this checkout; the vendored copy is used")
    assert DIAGRAM.read_text() == SHARED_DIAGRAM.read_text()


def test_diagram_parses_into_every_table() -> None:
    tables = parse_diagram(DIAGRAM.read_text())
    assert len(tables) == 14
    assert [c.name for c in tables["audit_logs"]][:3] == ["log_id", "ws_id", "user_id"]


async def test_every_table_and_column_exists_with_matching_type(
    db: asyncpg.Connection,
) -> None:
    tables = parse_diagram(DIAGRAM.read_text())
    rows = await db.fetch(
        """SELECT table_name, column_name, data_type, character_maximum_length, column_default
           FROM information_schema.columns WHERE table_schema = 'public'"""
    )
    actual = {(r["table_name"], r["column_name"]): r for r in rows}
    problems = []
    for table, columns in tables.items():
        if table in DOCUMENT_STORE_TABLES:
            continue
        for column in columns:
            row = actual.get((table, column.name))
            if row is None:
                problems.append(f"{table}.{column.name} is missing")
                continue
            if column.type == "VARCHAR":
                expected = ("character varying", column.length)
            else:
                expected = (TYPE_MAP[column.type], None)
            got = (row["data_type"], row["character_maximum_length"])
            if got != expected:
                problems.append(f"{table}.{column.name}: expected {expected}, got {got}")
            if column.type == "SERIAL" and "nextval" not in (row["column_default"] or ""):
                problems.append(f"{table}.{column.name} is not a serial")
    assert problems == []


async def test_keys_match_the_diagram(db: asyncpg.Connection) -> None:
    tables = parse_diagram(DIAGRAM.read_text())
    constraint_columns = await db.fetch(
        """SELECT tc.table_name, kcu.column_name, tc.constraint_type
           FROM information_schema.table_constraints tc
           JOIN information_schema.key_column_usage kcu
             ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema
           WHERE tc.table_schema = 'public'"""
    )
    have = {(r["table_name"], r["column_name"], r["constraint_type"]) for r in constraint_columns}
    wanted = {"PK": "PRIMARY KEY", "FK": "FOREIGN KEY", "UK": "UNIQUE"}
    missing = [
        f"{c.table}.{c.name} {key}"
        for table, columns in tables.items()
        if table not in DOCUMENT_STORE_TABLES
        for c in columns
        for key in c.keys
        if (c.table, c.name, wanted[key]) not in have
    ]
    assert missing == []


async def test_every_foreign_key_column_is_indexed(db: asyncpg.Connection) -> None:
    """Each FK is a lookup path (and ON DELETE scans it): it must lead some index."""
    unindexed = await db.fetch(
        """SELECT c.conrelid::regclass::text AS tbl, a.attname AS col
           FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           WHERE c.contype = 'f' AND NOT EXISTS (
               SELECT 1 FROM pg_index i
               WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])"""
    )
    assert [(r["tbl"], r["col"]) for r in unindexed] == []


def test_migrations_live_in_one_ordered_folder() -> None:
    folder = Path(REPO / "collab" / "migrations")
    ups = sorted(p.name for p in folder.glob("*.up.sql"))
    downs = sorted(p.name for p in folder.glob("*.down.sql"))
    assert [u.replace(".up.", ".") for u in ups] == [d.replace(".down.", ".") for d in downs]
