"""`collab` on bad input or a missing dependency says what is wrong in one
line and exits non-zero; it never prints a traceback. Each case runs the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from collab.migrate import Migrator
from tests.support import TEST_SECRET

UNREACHABLE = "postgresql://collab:pw@127.0.0.1:1/collab"


def collab(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("COLLAB_") or k == "COLLAB_TEST"
    }
    environ |= {"COLLAB_DATA_DIR": str(tmp_path / "data"), "COLLAB_SECRET_KEY": TEST_SECRET}
    environ |= env
    return subprocess.run(
        [sys.executable, "-m", "collab.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("migrate", "status"),
        ("migrate", "up"),
        ("users", "activate", "someone@example.com"),
        ("serve", "--port", "0"),
    ],
)
def test_postgres_down_is_one_line_not_a_traceback(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = collab(tmp_path, *args, COLLAB_DATABASE_URL=UNREACHABLE)
    assert_clean_failure(result, "PostgreSQL")


def test_a_malformed_database_url_is_one_line(tmp_path: Path) -> None:
    result = collab(tmp_path, "migrate", "status", COLLAB_DATABASE_URL="not-a-url")
    assert_clean_failure(result, "COLLAB_DATABASE_URL")


def test_an_unknown_log_level_names_the_variable(tmp_path: Path) -> None:
    result = collab(tmp_path, "migrate", "status", COLLAB_LOG_LEVEL="verbose")
    assert result.returncode == 2
    assert_clean_failure(result, "COLLAB_LOG_LEVEL")


def test_a_bad_value_names_the_environment_variable(tmp_path: Path) -> None:
    """Pydantic says `port`; the operator set COLLAB_PORT."""
    result = collab(tmp_path, "migrate", "status", COLLAB_PORT="abc")
    assert result.returncode == 2
    assert_clean_failure(result, "COLLAB_PORT")


def test_trusted_proxies_that_are_not_addresses_fail_at_start(tmp_path: Path) -> None:
    """They were accepted, then every request that looked up the caller's address was a 500."""
    result = collab(tmp_path, "migrate", "status", COLLAB_TRUSTED_PROXIES="10.0.0.0/8,proxy.lan")
    assert result.returncode == 2
    assert_clean_failure(result, "COLLAB_TRUSTED_PROXIES", "proxy.lan")


def test_runtimes_use_the_configured_catalogue(tmp_path: Path) -> None:
    """`collab runtimes` listed (and built) the built-in catalogue whatever
    COLLAB_RUNTIMES_FILE said, so an operator's own runtimes were never built."""
    catalogue = tmp_path / "runtimes.toml"
    catalogue.write_text(
        '[ruby]\nimage = "acme-ruby:1"\nport = 4567\ncommand = ["ruby", "app.rb"]\n'
        'memory = "256m"\ncpus = 0.5\npids = 64\n'
    )
    result = collab(tmp_path, "runtimes", "list", COLLAB_RUNTIMES_FILE=str(catalogue))
    assert result.returncode == 0, result.stderr
    assert "acme-ruby:1" in result.stdout
    assert "python" not in result.stdout


def test_a_broken_runtime_catalogue_is_one_line(tmp_path: Path) -> None:
    catalogue = tmp_path / "runtimes.toml"
    catalogue.write_text('[bad]\nimage = "x"\n')
    result = collab(tmp_path, "runtimes", "list", COLLAB_RUNTIMES_FILE=str(catalogue))
    assert_clean_failure(result, "bad")


@pytest.mark.parametrize("steps", ["-1", "-29", "0"])
async def test_migrate_down_takes_a_positive_count(
    tmp_path: Path, database_url: str, steps: str
) -> None:
    """`migrate down -1` sliced the applied list as `[:-1]` and reverted every migration but
    the first (dropping the users, sessions and documents tables) instead of refusing."""
    conn = await asyncpg.connect(database_url)
    try:
        await Migrator(conn).up()
        result = collab(tmp_path, "migrate", "down", steps, COLLAB_DATABASE_URL=database_url)
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr
        assert "steps" in result.stderr or "positive" in result.stderr, result.stderr
        statuses = await Migrator(conn).status()
        assert all(s.applied_at is not None for s in statuses)
    finally:
        await conn.close()


def test_migrate_up_refuses_a_negative_target(tmp_path: Path) -> None:
    result = collab(tmp_path, "migrate", "up", "-3", COLLAB_DATABASE_URL=UNREACHABLE)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr


def test_redis_down_is_one_line_not_a_traceback(tmp_path: Path, database_url: str) -> None:
    result = collab(
        tmp_path,
        "users",
        "activate",
        "someone@example.com",
        COLLAB_DATABASE_URL=database_url,
        COLLAB_REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert_clean_failure(result, "Redis")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("COLLAB_PUBLIC_URL", "collab.example.com"),
        ("COLLAB_PUBLIC_URL", "ftp://collab.example.com"),
        ("COLLAB_FRONTEND_URL", "app.example.com/"),
        ("COLLAB_ALLOWED_ORIGINS", "https://ide.example.com,ide2.example.com"),
        ("COLLAB_ALLOWED_ORIGINS", "https://ide.example.com/editor"),
        ("COLLAB_PREVIEW_DOMAIN", "https://preview.example.net"),
    ],
)
def test_urls_and_origins_that_cannot_work_fail_at_start(
    tmp_path: Path, variable: str, value: str
) -> None:
    """Accepted as they were, they broke later and elsewhere: a public URL without a scheme
    made the trusted origin `://` (every browser's Socket.IO connection refused) and mailed
    links relative; an origin without a scheme or with a path never matches an `Origin`."""
    result = collab(tmp_path, "migrate", "status", **{variable: value})
    assert result.returncode == 2, result
    assert_clean_failure(result, variable)


def test_well_formed_urls_and_origins_are_accepted(tmp_path: Path) -> None:
    result = collab(
        tmp_path,
        "runtimes",
        "list",
        COLLAB_PUBLIC_URL="https://collab.example.com/",
        COLLAB_FRONTEND_URL="http://localhost:5173",
        COLLAB_ALLOWED_ORIGINS="https://ide.example.com, http://[::1]:3000/",
        COLLAB_PREVIEW_DOMAIN="preview.example.net:8443",
    )
    assert result.returncode == 0, result.stderr


def test_a_misspelt_variable_is_named(tmp_path: Path) -> None:
    """COLLAB_DATABSE_URL was ignored without a word: the server then started on an empty
    embedded PostgreSQL instead of the operator's database."""
    result = collab(tmp_path, "runtimes", "list", COLLAB_DATABSE_URL="postgresql://x@db/collab")
    assert result.returncode == 0, result.stderr
    assert "COLLAB_DATABSE_URL" in result.stderr, result.stderr
    assert "COLLAB_DATABASE_URL" in result.stderr, result.stderr
