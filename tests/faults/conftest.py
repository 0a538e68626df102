"""The fault suite's fixtures: dependencies of the test's own, which it may stop and start,
and a `collab serve` process that uses them.

The session-wide PostgreSQL, Redis and Docker Engine of tests/conftest.py are shared by
every test (and, for Docker, by every helper's run): a fault test never stops those.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.services import OwnDockerd, OwnPostgres, OwnRedis
from tests.support import TEST_SECRET, ServerProcess


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[OwnPostgres]:
    postgres = OwnPostgres(tmp_path).start_first()
    yield postgres
    postgres.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(tmp_path).start()
    yield redis
    redis.stop()


@pytest.fixture
def own_env(own_postgres: OwnPostgres, own_redis: OwnRedis) -> dict[str, str]:
    """A `collab serve` environment on this test's own PostgreSQL and Redis."""
    return {
        "COLLAB_DATABASE_URL": own_postgres.url,
        "COLLAB_REDIS_URL": own_redis.url,
        "COLLAB_SECRET_KEY": TEST_SECRET,
    }


@pytest.fixture
def fault_server(tmp_path: Path, own_env: dict[str, str]) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "server", own_env) as server:
        yield server


@pytest.fixture
def own_dockerd() -> Iterator[OwnDockerd]:
    dockerd = OwnDockerd().start()
    try:
        yield dockerd
    finally:
        dockerd.close()
